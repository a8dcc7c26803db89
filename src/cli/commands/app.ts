// `app add|update|list`: register downstream apps (SAML SPs such as the Jira SSO app) from SP metadata or by hand,
// and change them. Both go through the lifecycle functions the console and the API use (validation, audit with
// actor "cli").
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createApp, setAppEnabled, updateApp } from '../../orgs/remote/app-lifecycle.ts';
import { changedFields } from '../../orgs/remote/registrations.ts';
import { spMetadataInput } from '../../orgs/remote/sp-metadata-input.ts';
import type { Application, ApplicationInput, NameIdFormat } from '../../store/applications.ts';
import type { TenantStore } from '../../store/store.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';
import { definedOnly, flag, orNull } from './setting-args.ts';

export const appUsage = `
  app add --org <slug> --name <name> (--metadata-file <f> | --metadata-url <url> | --entity-id <id> --acs-url <url> ...)
          [--slo-url <url>] [--cert-file <pem>] [--require-signed-requests] [--no-sign-response] [--sign-assertion]
          [--encrypt-assertion] [--allow-sha1] [--nameid emailAddress|persistent|unspecified]
          [--release email,firstName,...] [--relay-state <value>] [--primary-idp <idp id|entityId|name>] [--json]
  app update --org <slug> --app <id|entityId|name> [any add option] [--enable | --disable]
          [--no-require-signed-requests] [--sign-response] [--no-sign-assertion] [--no-encrypt-assertion]
          [--no-allow-sha1] [--no-slo-url] [--no-relay-state] [--no-primary-idp]
  app list --org <slug> [--json]`;

/** Options that set an app's values: the same for add and update (update changes only those given). */
const SETTING_OPTIONS = {
  name: { type: 'string' },
  'metadata-file': { type: 'string' },
  'metadata-url': { type: 'string' },
  'entity-id': { type: 'string' },
  'acs-url': { type: 'string', multiple: true },
  'slo-url': { type: 'string' },
  'no-slo-url': { type: 'boolean' },
  'cert-file': { type: 'string' },
  'require-signed-requests': { type: 'boolean' },
  'no-require-signed-requests': { type: 'boolean' },
  'sign-response': { type: 'boolean' },
  'no-sign-response': { type: 'boolean' },
  'sign-assertion': { type: 'boolean' },
  'no-sign-assertion': { type: 'boolean' },
  'encrypt-assertion': { type: 'boolean' },
  'no-encrypt-assertion': { type: 'boolean' },
  'allow-sha1': { type: 'boolean' },
  'no-allow-sha1': { type: 'boolean' },
  nameid: { type: 'string' },
  release: { type: 'string' },
  'relay-state': { type: 'string' },
  'no-relay-state': { type: 'boolean' },
  'primary-idp': { type: 'string' },
  'no-primary-idp': { type: 'boolean' },
} as const;
const UPDATE_OPTIONS = { app: { type: 'string' }, enable: { type: 'boolean' }, disable: { type: 'boolean' } } as const;

type Values = Partial<Record<string, string | boolean | string[]>>;

function usage(message: string): never {
  throw new UsageError(message);
}

/** An IdP of this organisation named by id, entity ID or (if unambiguous) name; the id of the one found. */
async function idpIdByReference(store: TenantStore, slug: string, ref: string): Promise<string> {
  const exact = (await store.identityProviders.findById(ref)) ?? (await store.identityProviders.findByEntityId(ref));
  if (exact) return exact.id;
  const named = (await store.identityProviders.list()).filter((i) => i.name === ref);
  if (named.length === 1) return named[0].id;
  return usage(
    named.length
      ? `"${ref}" names ${named.length} identity providers of ${slug}; give the id`
      : `no identity provider "${ref}" in ${slug}`,
  );
}

/** An app named by id, entity ID or (if unambiguous) name. */
async function findAppByReference(store: TenantStore, slug: string, ref: string | undefined): Promise<Application> {
  if (!ref) usage('--app <id, entity ID or name> is required');
  const exact = (await store.applications.findById(ref)) ?? (await store.applications.findByEntityId(ref));
  if (exact) return exact;
  const all = await store.applications.list();
  const named = all.filter((a) => a.name === ref);
  const matches = named.length ? named : all.filter((a) => a.name.toLowerCase() === ref.toLowerCase());
  if (matches.length === 1) return matches[0];
  if (matches.length > 1)
    usage(`"${ref}" names ${matches.length} apps of ${slug} (${matches.map((a) => a.id).join(', ')}); give the id`);
  return usage(`no app "${ref}" in ${slug}`);
}

/** The settings the options give, and only those: absent options are absent keys (an update leaves them alone). */
async function settingsFromArgs(v: Values, store: TenantStore, slug: string): Promise<ApplicationInput> {
  const str = (k: string) => v[k] as string | undefined;
  const signResponse = flag(v, 'sign-response', 'no-sign-response');
  const primary = orNull(v, 'primary-idp', 'no-primary-idp');
  return definedOnly<ApplicationInput>({
    name: str('name'),
    entityId: str('entity-id'),
    acsUrls: v['acs-url'] as string[] | undefined,
    sloUrl: orNull(v, 'slo-url', 'no-slo-url'),
    certificate: v['cert-file'] ? readFileSync(v['cert-file'] as string, 'utf8') : undefined,
    wantAuthnRequestsSigned: flag(v, 'require-signed-requests', 'no-require-signed-requests'),
    signResponse,
    // Something must be signed: without the Response signature, the assertion is (unless told otherwise).
    signAssertion: flag(v, 'sign-assertion', 'no-sign-assertion') ?? (signResponse === false ? true : undefined),
    encryptAssertion: flag(v, 'encrypt-assertion', 'no-encrypt-assertion'),
    allowSha1: flag(v, 'allow-sha1', 'no-allow-sha1'),
    nameIdFormat: str('nameid') as NameIdFormat | undefined,
    attributeRelease: str('release')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    defaultRelayState: orNull(v, 'relay-state', 'no-relay-state'),
    primaryIdpId: primary ? await idpIdByReference(store, slug, primary) : primary,
  });
}

/** The fields an SP metadata file or URL gives, or undefined when neither was passed. */
async function metadataInput(v: Values, ctx: AppContext): Promise<ApplicationInput | undefined> {
  const file = v['metadata-file'] as string | undefined;
  const url = v['metadata-url'] as string | undefined;
  if (!file && !url) return undefined;
  if (file && url) usage('give --metadata-file or --metadata-url, not both');
  const source = file ? { xml: readFileSync(file, 'utf8') } : { url: url! };
  return spMetadataInput(source, { allowPrivate: ctx.config.metadataAllowPrivate, field: 'metadata' });
}

function warnings(app: Application, input: ApplicationInput) {
  if (input.allowSha1)
    process.stderr.write(`Note: "${app.name}" may now sign its requests with RSA-SHA1 (legacy switch; audited).\n`);
}

export async function appCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      json: { type: 'boolean' },
      ...(sub !== 'list' && SETTING_OPTIONS),
      ...(sub === 'update' && UPDATE_OPTIONS),
    },
  });
  const v = values as Values;
  const tenant = await tenantBySlug(ctx, v.org as string | undefined);
  const by = { actor: 'cli', at: ctx.clock.now() };
  if (sub === 'list') {
    const apps = await tenant.store.applications.list();
    if (v.json)
      console.log(
        JSON.stringify(
          apps.map((a) => ({
            id: a.id,
            name: a.name,
            entityId: a.entityId,
            acsUrls: a.acsUrls,
            enabled: a.enabled,
            wantAuthnRequestsSigned: a.wantAuthnRequestsSigned,
            allowSha1: a.allowSha1,
            launchUrl: tenant.urls.appLaunch(a.id),
          })),
          null,
          2,
        ),
      );
    else
      for (const a of apps)
        console.log(
          `${a.id}  ${a.name.padEnd(24)} ${a.entityId}${a.enabled ? '' : '  (disabled)'}${a.allowSha1 ? '  (RSA-SHA1 accepted)' : ''}`,
        );
    return 0;
  }

  if (sub === 'add') {
    const fromMetadata = await metadataInput(v, ctx);
    const settings = await settingsFromArgs(v, tenant.store, tenant.org.slug);
    const app = await createApp(
      tenant.store,
      { ...fromMetadata, ...settings, name: v.name as string | undefined },
      by,
      { fromMetadata },
    );
    warnings(app, settings);
    if (v.json)
      console.log(
        JSON.stringify(
          { id: app.id, entityId: app.entityId, name: app.name, launchUrl: tenant.urls.appLaunch(app.id) },
          null,
          2,
        ),
      );
    else {
      console.log(`Registered application "${app.name}" (${app.id})`);
      console.log(
        `  In the app, configure: IdP entity ID ${tenant.urls.idpEntityId}\n  SSO URL ${tenant.urls.idpSso}\n  IdP metadata ${tenant.urls.idpMetadata}\n  Launch link for users: ${tenant.urls.appLaunch(app.id)}`,
      );
    }
    return 0;
  }

  if (sub === 'update') {
    if (v.enable && v.disable) usage('--enable and --disable contradict each other');
    const before = await findAppByReference(tenant.store, tenant.org.slug, v.app as string | undefined);
    const input: ApplicationInput = {
      ...(await metadataInput(v, ctx)),
      ...(await settingsFromArgs(v, tenant.store, tenant.org.slug)),
    };
    if (!Object.keys(input).length && !v.enable && !v.disable)
      usage('app update: nothing to change; give at least one option (see npm run cli -- help)');
    let app = Object.keys(input).length ? await updateApp(tenant.store, before.id, input, by) : before;
    if (v.enable || v.disable) app = await setAppEnabled(tenant.store, app.id, !!v.enable, by);
    const changed = [...changedFields(input, before, app), ...(before.enabled !== app.enabled ? ['enabled'] : [])];
    warnings(app, input);
    if (v.json) console.log(JSON.stringify({ id: app.id, name: app.name, entityId: app.entityId, changed }, null, 2));
    else
      console.log(
        changed.length
          ? `Updated app "${app.name}" (${app.id}): ${changed.join(', ')}`
          : `No change to app "${app.name}" (${app.id}).`,
      );
    return 0;
  }
  throw new UsageError(`unknown app command "${sub ?? ''}"`);
}
