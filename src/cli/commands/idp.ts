// `idp add|add-oidc|update|list`: register upstream identity providers from metadata (file or URL) or by hand (SAML),
// or from an issuer URL (OpenID Connect), and change them. Both go through the lifecycle functions the console and the API use (validation, audit with actor "cli").
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createIdp, setIdpEnabled, updateIdp } from '../../orgs/remote/idp-lifecycle.ts';
import { idpFromMetadata } from '../../orgs/remote/idp-registration-input.ts';
import { changedFields } from '../../orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../orgs/remote/oidc-registration.ts';
import type {
  IdentityProvider,
  IdentityProviderInput,
  LinkingMode,
  MappingPreset,
  OidcClientAuth,
} from '../../store/identity-providers.ts';
import type { TenantStore } from '../../store/store.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';
import { definedOnly, flag, mappingArgs, orNull } from './setting-args.ts';

export const idpUsage = `
  idp add --org <slug> --name <name> (--metadata-file <f> | --metadata-url <url> |
          --entity-id <id> --sso-url <url> --cert-file <pem> [--sso-binding redirect|post] [--slo-url <url>])
          [--preset okta|wso2|adfs|custom] [--map field=attribute ...] [--unsigned-requests] [--want-response-signed]
          [--no-assertion-signature] [--allow-idp-initiated] [--default-app <appId>] [--allow-sha1]
          [--accept-unsigned-logout-response] [--send-login-hint] [--domain <domain> ...]
          [--linking never|verified-domains|any-email] [--json]
  idp update --org <slug> --idp <id|entityId|name> [any add option] [--enable | --disable]
          [--sign-requests] [--no-want-response-signed] [--want-assertion-signature] [--no-allow-idp-initiated]
          [--no-default-app] [--no-allow-sha1] [--no-accept-unsigned-logout-response] [--no-send-login-hint]
          [--no-domains] [--no-slo-url]
  idp add-oidc --org <slug> --name <name> (--issuer <url> | --discovery-file <json>) --client-id <id>
          [--client-secret-file <file>] [--client-auth client_secret_basic|client_secret_post|private_key_jwt]
          [--preset oidc-entra|oidc-google|oidc-okta|oidc-keycloak|custom] [--scopes "openid email profile"] [--userinfo]
          [--map field=claim ...] [--domain <domain> ...] [--linking never|verified-domains|any-email] [--json]
  idp list --org <slug> [--json]`;

/** Options of `idp add-oidc` (the secret from a file, never the command line: that shows in ps and shell history). */
const OIDC_OPTIONS = {
  name: { type: 'string' },
  issuer: { type: 'string' },
  'discovery-file': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret-file': { type: 'string' },
  'client-auth': { type: 'string' },
  preset: { type: 'string' },
  scopes: { type: 'string' },
  userinfo: { type: 'boolean' },
  map: { type: 'string', multiple: true },
  domain: { type: 'string', multiple: true },
  linking: { type: 'string' },
} as const;

/** Options that set a registration's values: the same for add and update (update changes only those given). */
const SETTING_OPTIONS = {
  name: { type: 'string' },
  'metadata-file': { type: 'string' },
  'metadata-url': { type: 'string' },
  'entity-id': { type: 'string' },
  'sso-url': { type: 'string' },
  'sso-binding': { type: 'string' },
  'slo-url': { type: 'string' },
  'no-slo-url': { type: 'boolean' },
  'cert-file': { type: 'string', multiple: true },
  preset: { type: 'string' },
  map: { type: 'string', multiple: true },
  // Requests are signed by default; --sign-requests stays accepted (it was needed before signing became the default).
  'sign-requests': { type: 'boolean' },
  'unsigned-requests': { type: 'boolean' },
  'want-response-signed': { type: 'boolean' },
  'no-want-response-signed': { type: 'boolean' },
  'no-assertion-signature': { type: 'boolean' },
  'want-assertion-signature': { type: 'boolean' },
  'allow-idp-initiated': { type: 'boolean' },
  'no-allow-idp-initiated': { type: 'boolean' },
  'default-app': { type: 'string' },
  'no-default-app': { type: 'boolean' },
  'allow-sha1': { type: 'boolean' },
  'no-allow-sha1': { type: 'boolean' },
  'accept-unsigned-logout-response': { type: 'boolean' },
  'no-accept-unsigned-logout-response': { type: 'boolean' },
  'send-login-hint': { type: 'boolean' },
  'no-send-login-hint': { type: 'boolean' },
  domain: { type: 'string', multiple: true },
  'no-domains': { type: 'boolean' },
  linking: { type: 'string' },
} as const;
const UPDATE_OPTIONS = { idp: { type: 'string' }, enable: { type: 'boolean' }, disable: { type: 'boolean' } } as const;

type Values = Partial<
  Record<keyof typeof SETTING_OPTIONS | keyof typeof UPDATE_OPTIONS | 'org' | 'json', string | boolean | string[]>
>;

/** The settings the options give, and only those: absent options are absent keys (an update leaves them alone). */
function settingsFromArgs(v: Values): IdentityProviderInput {
  const str = (k: keyof Values) => v[k] as string | undefined;
  const noAssertion = flag(v, 'want-assertion-signature', 'no-assertion-signature');
  const domains = v['no-domains']
    ? v.domain
      ? usage('--domain and --no-domains contradict each other')
      : []
    : (v.domain as string[] | undefined)
        ?.flatMap((d) => d.split(','))
        .map((d) => d.trim())
        .filter(Boolean);
  return definedOnly<IdentityProviderInput>({
    name: str('name'),
    entityId: str('entity-id'),
    ssoUrl: str('sso-url'),
    ssoBinding: str('sso-binding') as IdentityProviderInput['ssoBinding'],
    sloUrl: orNull(v, 'slo-url', 'no-slo-url'),
    certificates: (v['cert-file'] as string[] | undefined)?.map((f) => readFileSync(f, 'utf8')),
    mappingPreset: str('preset') as MappingPreset | undefined,
    signRequests: flag(v, 'sign-requests', 'unsigned-requests'),
    // An unsigned assertion is only acceptable inside a signed response.
    wantResponseSigned:
      flag(v, 'want-response-signed', 'no-want-response-signed') ?? (noAssertion === false ? true : undefined),
    wantAssertionSigned: noAssertion,
    allowIdpInitiated: flag(v, 'allow-idp-initiated', 'no-allow-idp-initiated'),
    defaultAppId: orNull(v, 'default-app', 'no-default-app'),
    allowSha1: flag(v, 'allow-sha1', 'no-allow-sha1'),
    acceptUnsignedLogoutResponse: flag(v, 'accept-unsigned-logout-response', 'no-accept-unsigned-logout-response'),
    sendLoginHint: flag(v, 'send-login-hint', 'no-send-login-hint'),
    emailDomains: domains,
    linkingMode: str('linking') as LinkingMode | undefined,
  });
}

function usage(message: string): never {
  throw new UsageError(message);
}

/** The registration fields a metadata file or URL gives (with the metadata kept for the refresh), or none. A URL
 *  given to an update keeps the IdP's metadata signing certificate: the new document must be signed by it too. */
async function metadataInput(
  v: Values,
  ctx: AppContext,
  signingCertificate: string | null = null,
): Promise<IdentityProviderInput> {
  const file = v['metadata-file'] as string | undefined;
  const url = v['metadata-url'] as string | undefined;
  if (!file && !url) return {};
  if (file && url) usage('give --metadata-file or --metadata-url, not both');
  const manual = (['entity-id', 'sso-url', 'sso-binding', 'cert-file'] as const).filter((k) => v[k] !== undefined);
  if (manual.length)
    usage(
      `${manual.map((k) => `--${k}`).join(', ')} come${manual.length === 1 ? 's' : ''} from the metadata; leave ${manual.length === 1 ? 'it' : 'them'} out`,
    );
  const source = file
    ? { kind: 'document' as const, xml: readFileSync(file, 'utf8') }
    : { kind: 'url' as const, url: url!, signingCertificate };
  return idpFromMetadata(source, {
    allowPrivate: ctx.config.metadataAllowPrivate,
    timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
    now: ctx.clock.now(),
    field: 'metadata',
  });
}

/** An IdP named by id, entity ID or (if unambiguous) name. */
async function findIdpByReference(
  store: TenantStore,
  slug: string,
  ref: string | undefined,
): Promise<IdentityProvider> {
  if (!ref) usage('--idp <id, entity ID or name> is required');
  const exact = (await store.identityProviders.findById(ref)) ?? (await store.identityProviders.findByEntityId(ref));
  if (exact) return exact;
  const all = await store.identityProviders.list();
  const named = all.filter((i) => i.name === ref);
  const matches = named.length ? named : all.filter((i) => i.name.toLowerCase() === ref.toLowerCase());
  if (matches.length === 1) return matches[0];
  if (matches.length > 1)
    usage(
      `"${ref}" names ${matches.length} identity providers of ${slug} (${matches.map((i) => i.id).join(', ')}); give the id`,
    );
  return usage(`no identity provider "${ref}" in ${slug}`);
}

function warnings(idp: IdentityProvider, input: IdentityProviderInput) {
  if (input.linkingMode === 'any-email')
    process.stderr.write(
      `WARNING: "${idp.name}" can now sign in as any user of the organisation by asserting their email address (linking any-email).\n`,
    );
  if (input.signRequests === false)
    process.stderr.write(
      `Note: AuthnRequests to "${idp.name}" are sent unsigned; use this only for an identity provider that cannot take signed requests.\n`,
    );
}

export async function idpCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      json: { type: 'boolean' },
      ...(sub === 'add-oidc' ? OIDC_OPTIONS : sub !== 'list' && SETTING_OPTIONS),
      ...(sub === 'update' && UPDATE_OPTIONS),
    },
  });
  const v = values as Values;
  const tenant = await tenantBySlug(ctx, v.org as string | undefined);
  const by = { actor: 'cli', at: ctx.clock.now() };
  if (sub === 'list') {
    const idps = await tenant.store.identityProviders.list();
    if (v.json)
      console.log(
        JSON.stringify(
          idps.map(({ certificates, ...i }) => ({ ...i, certificateCount: certificates.length })),
          null,
          2,
        ),
      );
    else
      for (const i of idps)
        console.log(
          `${i.id}  ${i.name.padEnd(24)} ${i.entityId}${i.enabled ? '' : '  (disabled)'}${i.emailDomains.length ? `  domains: ${i.emailDomains.join(', ')}` : ''}  linking: ${i.linkingMode}`,
        );
    return 0;
  }

  if (sub === 'add') {
    const { mapping } = mappingArgs(v.map as string[] | undefined, {});
    const settings = settingsFromArgs(v);
    const idp = await createIdp(
      tenant.store,
      {
        ...(await metadataInput(v, ctx)),
        mappingPreset: 'okta',
        ...settings,
        name: v.name as string | undefined,
        attributeMapping: mapping,
      },
      by,
    );
    warnings(idp, settings);
    if (v.json)
      console.log(
        JSON.stringify(
          {
            id: idp.id,
            entityId: idp.entityId,
            name: idp.name,
            signRequests: idp.signRequests,
            sendLoginHint: idp.sendLoginHint,
            emailDomains: idp.emailDomains,
            linkingMode: idp.linkingMode,
          },
          null,
          2,
        ),
      );
    else {
      console.log(`Registered identity provider "${idp.name}" (${idp.id})`);
      console.log(
        `  Entity ID: ${idp.entityId}\n  SSO URL:   ${idp.ssoUrl} (${idp.ssoBinding})\n  In the IdP, configure: ACS ${tenant.urls.spAcs}, Audience/SP entity ID ${tenant.urls.spEntityId}`,
      );
    }
    return 0;
  }

  if (sub === 'add-oidc') {
    const o = values as Partial<Record<keyof typeof OIDC_OPTIONS, string | boolean | string[]>>;
    if (!o.issuer === !o['discovery-file']) usage('give --issuer or --discovery-file (one of them)');
    if (!o['client-secret-file'] && o['client-auth'] !== 'private_key_jwt')
      usage('--client-secret-file <file> is required (unless --client-auth private_key_jwt)');
    const { mapping } = mappingArgs(o.map as string[] | undefined, {});
    const input = await oidcIdpInput(
      {
        ...(o.issuer
          ? { issuer: o.issuer as string }
          : { discovery: readFileSync(o['discovery-file'] as string, 'utf8') }),
        clientId: (o['client-id'] as string | undefined) ?? '',
        ...(o['client-secret-file'] && {
          clientSecret: readFileSync(o['client-secret-file'] as string, 'utf8').trim(),
        }),
        clientAuth: o['client-auth'] as OidcClientAuth | undefined,
        preset: ((o.preset as string | undefined) ?? 'custom') as MappingPreset,
        scopes: o.scopes as string | undefined,
        userinfo: !!o.userinfo,
      },
      {
        orgId: tenant.org.id,
        box: ctx.box,
        now: ctx.clock.now(),
        allowPrivate: ctx.config.metadataAllowPrivate,
        timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
        refreshSeconds: ctx.config.metadataRefreshIntervalSeconds,
      },
    );
    const domains = (o.domain as string[] | undefined)
      ?.flatMap((d) => d.split(','))
      .map((d) => d.trim())
      .filter(Boolean);
    const idp = await createIdp(
      tenant.store,
      definedOnly<IdentityProviderInput>({
        ...input,
        name: o.name as string | undefined,
        attributeMapping: mapping,
        emailDomains: domains,
        linkingMode: o.linking as LinkingMode | undefined,
      }),
      by,
    );
    if (v.json)
      console.log(
        JSON.stringify(
          {
            id: idp.id,
            protocol: idp.protocol,
            issuer: idp.entityId,
            name: idp.name,
            redirectUri: tenant.urls.oidcCallback,
            emailDomains: idp.emailDomains,
            linkingMode: idp.linkingMode,
          },
          null,
          2,
        ),
      );
    else {
      console.log(`Registered OpenID Connect identity provider "${idp.name}" (${idp.id})`);
      console.log(
        `  Issuer: ${idp.entityId}\n  In the IdP, register the redirect URI: ${tenant.urls.oidcCallback}\n  post-logout redirect URI: ${tenant.urls.oidcLogoutCallback}\n  initiate login URI: ${tenant.urls.oidcInitiate}${idp.oidcClientAuth === 'private_key_jwt' ? `\n  JWKS URL (private_key_jwt): ${tenant.urls.oidcJwks}` : ''}`,
      );
    }
    return 0;
  }

  if (sub === 'update') {
    if (v.enable && v.disable) usage('--enable and --disable contradict each other');
    const before = await findIdpByReference(tenant.store, tenant.org.slug, v.idp as string | undefined);
    const { mapping, given } = mappingArgs(v.map as string[] | undefined, before.attributeMapping);
    const input: IdentityProviderInput = {
      ...(await metadataInput(v, ctx, before.metadataSigningCertificate)),
      ...settingsFromArgs(v),
      ...(given && { attributeMapping: mapping }),
    };
    if (!Object.keys(input).length && !v.enable && !v.disable)
      usage('idp update: nothing to change; give at least one option (see npm run cli -- help)');
    let idp = Object.keys(input).length ? await updateIdp(tenant.store, before.id, input, by) : before;
    if (v.enable || v.disable) idp = await setIdpEnabled(tenant.store, idp.id, !!v.enable, by);
    const changed = [...changedFields(input, before, idp), ...(before.enabled !== idp.enabled ? ['enabled'] : [])];
    warnings(idp, input);
    if (v.json) console.log(JSON.stringify({ id: idp.id, name: idp.name, entityId: idp.entityId, changed }, null, 2));
    else
      console.log(
        changed.length
          ? `Updated identity provider "${idp.name}" (${idp.id}): ${changed.join(', ')}`
          : `No change to identity provider "${idp.name}" (${idp.id}).`,
      );
    return 0;
  }
  throw new UsageError(`unknown idp command "${sub ?? ''}"`);
}
