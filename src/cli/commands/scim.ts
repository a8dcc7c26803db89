// `scim token create|list|revoke --org --idp`: the SCIM bearer tokens of one upstream IdP (docs/scim.md).
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { createScimToken, listScimTokens, revokeScimToken, scimBaseUrl } from '../../scim/tokens.ts';
import { idpResolver } from '../../users/idp-reference.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const scimUsage = `
  scim token create --org <slug> --idp <id, entity ID or name> --name <label>   (prints the SCIM base URL and the token once)
  scim token list --org <slug> --idp <idp>
  scim token revoke --org <slug> --idp <idp> --id <token id>`;

export async function scimCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [what, sub, ...rest] = argv;
  if (what !== 'token') throw new UsageError(`unknown scim command "${what ?? ''}"`);
  const { values } = parseArgs({
    args: rest,
    options: { org: { type: 'string' }, idp: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' } },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (!values.idp) throw new UsageError('--idp <id, entity ID or name> is required');
  const found = idpResolver(await tenant.store.identityProviders.list())(values.idp);
  if (!found.ok) throw new UsageError(found.reason);
  const idp = found.idp;
  const baseUrl = scimBaseUrl(tenant.urls.base, idp.id);
  if (sub === 'create') {
    const { id, token } = await createScimToken(tenant.store, ctx.clock, idp.id, values.name ?? '', 'cli');
    console.log(
      `SCIM token ${id} created for ${idp.name}. Shown once; store it now:\n\n  ${token}\n\nSCIM base URL (Okta: "SCIM connector base URL", Entra ID: "Tenant URL"):\n\n  ${baseUrl}`,
    );
    return 0;
  }
  if (sub === 'list') {
    console.log(`SCIM base URL: ${baseUrl}`);
    for (const t of await listScimTokens(tenant.store, idp.id))
      console.log(
        `${t.id}  ${t.prefix}…  ${t.name.padEnd(24)} ${t.revokedAt ? 'revoked' : `last used ${t.lastUsedAt?.toISOString() ?? 'never'}`}`,
      );
    return 0;
  }
  if (sub === 'revoke') {
    if (!values.id) throw new UsageError('--id is required');
    await revokeScimToken(tenant.store, ctx.clock, idp.id, values.id, 'cli').catch((err) => {
      throw err instanceof AppError ? new UsageError(`no active SCIM token ${values.id} for ${idp.name}`) : err;
    });
    console.log(`SCIM token ${values.id} revoked.`);
    return 0;
  }
  throw new UsageError(`unknown scim token command "${sub ?? ''}"`);
}
