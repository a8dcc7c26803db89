// `app add|list`: register downstream apps (SAML SPs such as the Jira SSO app) from SP metadata or by hand.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createApp } from '../../orgs/app-lifecycle.ts';
import { spMetadataInput } from '../../orgs/sp-metadata-input.ts';
import type { ApplicationInput, NameIdFormat } from '../../store/applications.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const appUsage = `
  app add --org <slug> --name <name> (--metadata-file <f> | --metadata-url <url> | --entity-id <id> --acs-url <url> ...)
          [--slo-url <url>] [--cert-file <pem>] [--require-signed-requests] [--no-sign-response] [--sign-assertion]
          [--encrypt-assertion] [--nameid emailAddress|persistent|unspecified] [--release email,firstName,...]
          [--relay-state <value>] [--primary-idp <idpId>] [--json]
  app list --org <slug> [--json]`;

export async function appCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' },
      'metadata-file': { type: 'string' }, 'metadata-url': { type: 'string' },
      'entity-id': { type: 'string' }, 'acs-url': { type: 'string', multiple: true }, 'slo-url': { type: 'string' }, 'cert-file': { type: 'string' },
      'require-signed-requests': { type: 'boolean' }, 'no-sign-response': { type: 'boolean' }, 'sign-assertion': { type: 'boolean' },
      'encrypt-assertion': { type: 'boolean' }, nameid: { type: 'string' }, release: { type: 'string' }, 'relay-state': { type: 'string' }, 'primary-idp': { type: 'string' },
    },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (sub === 'list') {
    const apps = await tenant.store.applications.list();
    if (values.json) console.log(JSON.stringify(apps.map((a) => ({ id: a.id, name: a.name, entityId: a.entityId, acsUrls: a.acsUrls, launchUrl: tenant.urls.appLaunch(a.id) })), null, 2));
    else for (const a of apps) console.log(`${a.id}  ${a.name.padEnd(24)} ${a.entityId}`);
    return 0;
  }
  if (sub !== 'add') throw new UsageError(`unknown app command "${sub ?? ''}"`);

  let input: ApplicationInput = {};
  if (values['metadata-file'] || values['metadata-url']) {
    const source = values['metadata-file'] ? { xml: readFileSync(values['metadata-file'], 'utf8') } : { url: values['metadata-url']! };
    input = await spMetadataInput(source, { allowPrivate: ctx.config.metadataAllowPrivate, field: 'metadata' });
  } else {
    input = { entityId: values['entity-id'], acsUrls: values['acs-url'] ?? [], sloUrl: values['slo-url'] ?? null };
  }
  if (values['cert-file']) input.certificate = readFileSync(values['cert-file'], 'utf8');
  const app = await createApp(tenant.store, {
    ...input,
    name: values.name,
    ...(values['require-signed-requests'] && { wantAuthnRequestsSigned: true }),
    ...(values['no-sign-response'] && { signResponse: false, signAssertion: true }),
    ...(values['sign-assertion'] && { signAssertion: true }),
    ...(values['encrypt-assertion'] && { encryptAssertion: true }),
    ...(values.nameid && { nameIdFormat: values.nameid as NameIdFormat }),
    ...(values.release && { attributeRelease: values.release.split(',').map((s) => s.trim()).filter(Boolean) }),
    ...(values['relay-state'] && { defaultRelayState: values['relay-state'] }),
    ...(values['primary-idp'] && { primaryIdpId: values['primary-idp'] }),
  }, { actor: 'cli', at: ctx.clock.now() });
  if (values.json) console.log(JSON.stringify({ id: app.id, entityId: app.entityId, name: app.name, launchUrl: tenant.urls.appLaunch(app.id) }, null, 2));
  else {
    console.log(`Registered application "${app.name}" (${app.id})`);
    console.log(`  In the app, configure: IdP entity ID ${tenant.urls.idpEntityId}\n  SSO URL ${tenant.urls.idpSso}\n  IdP metadata ${tenant.urls.idpMetadata}\n  Launch link for users: ${tenant.urls.appLaunch(app.id)}`);
  }
  return 0;
}
