// `token create|list|revoke`: admin API tokens (the dashboard will offer the same).
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createApiToken, revokeApiToken } from '../../admin/api-tokens.ts';
import { AppError } from '../../errors.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const tokenUsage = `
  token create --org <slug> --name <label>     (prints the token once)
  token list --org <slug>
  token revoke --org <slug> --id <token id>`;

export async function tokenCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { org: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' } } });
  const tenant = await tenantBySlug(ctx, values.org);
  if (sub === 'create') {
    const { id, token } = await createApiToken(tenant.store, ctx.clock, values.name ?? '', 'cli');
    console.log(`API token ${id} created. Shown once; store it now:\n\n  ${token}\n\nUse it as: Authorization: Bearer <token>, on ${tenant.urls.base}/api/...`);
    return 0;
  }
  if (sub === 'list') {
    for (const t of await tenant.store.apiTokens.list()) console.log(`${t.id}  ${t.prefix}…  ${t.name.padEnd(24)} ${t.revokedAt ? 'revoked' : `last used ${t.lastUsedAt?.toISOString() ?? 'never'}`}`);
    return 0;
  }
  if (sub === 'revoke') {
    if (!values.id) throw new UsageError('--id is required');
    await revokeApiToken(tenant.store, ctx.clock, values.id, 'cli').catch((err) => {
      throw err instanceof AppError ? new UsageError(`no active token ${values.id}`) : err;
    });
    console.log(`Token ${values.id} revoked.`);
    return 0;
  }
  throw new UsageError(`unknown token command "${sub ?? ''}"`);
}
