// `idp add|list`: register upstream identity providers from metadata (file or URL) or by hand.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createIdp } from '../../orgs/idp-lifecycle.ts';
import { idpFromMetadata } from '../../orgs/idp-registration-input.ts';
import type { IdentityProviderInput, MappingPreset } from '../../store/identity-providers.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const idpUsage = `
  idp add --org <slug> --name <name> (--metadata-file <f> | --metadata-url <url> |
          --entity-id <id> --sso-url <url> --cert-file <pem> [--sso-binding redirect|post] [--slo-url <url>])
          [--preset okta|wso2|adfs|custom] [--map field=attribute ...] [--sign-requests] [--want-response-signed]
          [--no-assertion-signature] [--allow-idp-initiated] [--default-app <appId>] [--allow-sha1] [--json]
  idp list --org <slug> [--json]`;

export async function idpCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' },
      'metadata-file': { type: 'string' }, 'metadata-url': { type: 'string' },
      'entity-id': { type: 'string' }, 'sso-url': { type: 'string' }, 'sso-binding': { type: 'string' }, 'slo-url': { type: 'string' }, 'cert-file': { type: 'string', multiple: true },
      preset: { type: 'string' }, map: { type: 'string', multiple: true },
      'sign-requests': { type: 'boolean' }, 'want-response-signed': { type: 'boolean' }, 'no-assertion-signature': { type: 'boolean' },
      'allow-idp-initiated': { type: 'boolean' }, 'default-app': { type: 'string' }, 'allow-sha1': { type: 'boolean' },
    },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (sub === 'list') {
    const idps = await tenant.store.identityProviders.list();
    if (values.json) console.log(JSON.stringify(idps.map(({ certificates, ...i }) => ({ ...i, certificateCount: certificates.length })), null, 2));
    else for (const i of idps) console.log(`${i.id}  ${i.name.padEnd(24)} ${i.entityId}${i.enabled ? '' : '  (disabled)'}`);
    return 0;
  }
  if (sub !== 'add') throw new UsageError(`unknown idp command "${sub ?? ''}"`);

  let input: IdentityProviderInput = {};
  if (values['metadata-file'] || values['metadata-url']) {
    const source = values['metadata-file'] ? { kind: 'document' as const, xml: readFileSync(values['metadata-file'], 'utf8') } : { kind: 'url' as const, url: values['metadata-url']! };
    input = await idpFromMetadata(source, { allowPrivate: ctx.config.metadataAllowPrivate, now: ctx.clock.now(), field: 'metadata' });
  } else {
    input = {
      entityId: values['entity-id'], ssoUrl: values['sso-url'], sloUrl: values['slo-url'] ?? null,
      ssoBinding: (values['sso-binding'] as 'redirect' | 'post' | undefined) ?? 'redirect',
      certificates: (values['cert-file'] ?? []).map((f) => readFileSync(f, 'utf8')),
    };
  }
  const mapping = Object.fromEntries((values.map ?? []).map((m) => {
    const eq = m.indexOf('=');
    if (eq < 1) throw new UsageError(`--map expects field=attribute, got "${m}"`);
    return [m.slice(0, eq), m.slice(eq + 1)];
  }));
  const idp = await createIdp(tenant.store, {
    ...input,
    name: values.name,
    mappingPreset: (values.preset as MappingPreset | undefined) ?? 'okta',
    attributeMapping: mapping,
    ...(values['sign-requests'] && { signRequests: true }),
    ...(values['want-response-signed'] && { wantResponseSigned: true }),
    ...(values['no-assertion-signature'] && { wantAssertionSigned: false, wantResponseSigned: true }),
    allowIdpInitiated: !!values['allow-idp-initiated'],
    defaultAppId: values['default-app'] ?? null,
    allowSha1: !!values['allow-sha1'],
  }, { actor: 'cli', at: ctx.clock.now() });
  if (values.json) console.log(JSON.stringify({ id: idp.id, entityId: idp.entityId, name: idp.name }, null, 2));
  else {
    console.log(`Registered identity provider "${idp.name}" (${idp.id})`);
    console.log(`  Entity ID: ${idp.entityId}\n  SSO URL:   ${idp.ssoUrl} (${idp.ssoBinding})\n  In the IdP, configure: ACS ${tenant.urls.spAcs}, Audience/SP entity ID ${tenant.urls.spEntityId}`);
  }
  return 0;
}
