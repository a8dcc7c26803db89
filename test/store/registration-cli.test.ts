// `idp update` and `app update` through the CLI command modules, against a real database (both providers): only
// the options given change, --map edits one field, --no-… clears, names resolve (ambiguous ones refused), usage
// errors before anything is written, and an update by --metadata-url keeps requiring the IdP's metadata signature.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SignedXml } from 'xml-crypto';
import { appCommand } from '../../src/cli/commands/app.ts';
import { idpCommand } from '../../src/cli/commands/idp.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';

const idpKey = generateSigningCredential('cli-idp');
const federationKey = generateSigningCredential('federation');
const metadataOf = (entityId: string, ssoUrl: string) =>
  idpMetadata({
    entityId,
    ssoUrl,
    sloUrl: `${entityId}/slo`,
    certificates: [idpKey.certificatePem],
    organizationName: 'F',
    organizationUrl: 'https://fed.example',
  });
function signed(xml: string, key = federationKey) {
  const withId = xml.replace('<md:EntityDescriptor ', '<md:EntityDescriptor ID="_md1" ');
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: "/*[@ID='_md1']",
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(withId, { prefix: 'ds', location: { reference: "/*[@ID='_md1']", action: 'prepend' } });
  return sig.getSignedXml();
}

for (const provider of testProviders()) {
  t.test(`idp update and app update (${provider})`, async (t) => {
    const tc = await createTestContext({ provider, env: { METADATA_ALLOW_PRIVATE: 'true' } });
    const dir = mkdtempSync(join(tmpdir(), 'registration-cli-'));
    t.teardown(async () => {
      rmSync(dir, { recursive: true, force: true });
      await tc.cleanup();
    });
    const { store } = await createOrg(tc.ctx, 'acme');
    const run = async (command: typeof idpCommand, ...argv: string[]) => {
      const lines: string[] = [];
      const [log, err] = [console.log, process.stderr.write];
      console.log = (...a: unknown[]) => lines.push(a.join(' '));
      process.stderr.write = (() => true) as typeof process.stderr.write;
      try {
        return { code: await command(argv, tc.ctx), out: lines.join('\n') };
      } finally {
        [console.log, process.stderr.write] = [log, err];
      }
    };
    const base = {
      name: 'Okta',
      entityId: 'https://okta.example/acme',
      ssoUrl: 'https://okta.example/sso',
      certificates: [idpKey.certificatePem],
    };
    const okta = await saveIdentityProvider(store, {
      ...base,
      attributeMapping: { email: 'mail', groups: 'roles' },
      emailDomains: ['acme.example'],
      defaultAppId: null,
      sloUrl: 'https://okta.example/slo',
    });

    t.test('usage errors write nothing', async (t) => {
      for (const [argv, message] of [
        [['update', '--org', 'acme', '--idp', okta.id], /nothing to change/],
        [['update', '--org', 'acme', '--idp', okta.id, '--enable', '--disable'], /contradict/],
        [['update', '--org', 'acme', '--idp', okta.id, '--domain', 'x.example', '--no-domains'], /contradict/],
        [['update', '--org', 'acme', '--idp', okta.id, '--slo-url', 'https://x.example', '--no-slo-url'], /contradict/],
        [['update', '--org', 'acme', '--idp', okta.id, '--map', 'nonsense'], /--map expects field=attribute/],
        [
          ['update', '--org', 'acme', '--idp', okta.id, '--metadata-file', join(dir, 'x.xml'), '--entity-id', 'x'],
          /--entity-id comes from the metadata/,
        ],
        [['update', '--org', 'acme'], /--idp <id, entity ID or name> is required/],
      ] as [string[], RegExp][]) {
        await t.rejects(run(idpCommand, ...argv), { message }, argv.slice(4).join(' '));
      }
      await t.rejects(
        run(idpCommand, 'add', '--org', 'acme', '--name', 'X', '--enable'),
        { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' },
        '--enable is for update only',
      );
      t.same((await store.identityProviders.findById(okta.id))!.updatedAt, okta.updatedAt, 'unchanged');
    });

    t.test('only what is given changes; --map edits one field; --no-… clears', async (t) => {
      const r = await run(
        idpCommand,
        'update',
        '--org',
        'acme',
        '--idp',
        'https://okta.example/acme',
        '--map',
        'groups=',
        '--map',
        'firstName=givenName',
        '--no-slo-url',
        '--no-domains',
        '--json',
      );
      t.equal(r.code, 0);
      t.same(JSON.parse(r.out).changed, ['sloUrl', 'emailDomains', 'attributeMapping']);
      const after = (await store.identityProviders.findById(okta.id))!;
      t.match(after, {
        name: 'Okta',
        ssoUrl: base.ssoUrl,
        sloUrl: null,
        emailDomains: [],
        signRequests: true,
        linkingMode: 'verified-domains',
        enabled: true,
      });
      t.same(after.attributeMapping, { email: 'mail', firstName: 'givenName' });
      const same = await run(idpCommand, 'update', '--org', 'acme', '--idp', 'okta', '--sign-requests');
      t.match(
        same.out,
        'No change to identity provider "Okta"',
        'names match ignoring case; --sign-requests on a signing IdP changes nothing',
      );
      t.equal(
        (await store.audit.list({ type: 'idp.updated', idpId: okta.id })).length,
        1,
        'one audit line, for the one real change',
      );
    });

    t.test('names: ambiguous ones are refused with the ids; apps too', async (t) => {
      const twin = await saveIdentityProvider(store, { ...base, entityId: 'https://okta.example/twin' });
      await t.rejects(run(idpCommand, 'update', '--org', 'acme', '--idp', 'Okta', '--disable'), {
        message: new RegExp(`names 2 identity providers of acme \\(.*${twin.id}.*\\); give the id`),
      });
      const app = await saveApplication(store, {
        name: 'Portal',
        entityId: 'https://portal.example',
        acsUrls: ['https://portal.example/acs'],
        primaryIdpId: okta.id,
        defaultRelayState: '/home',
      });
      await t.rejects(run(appCommand, 'update', '--org', 'acme', '--app', 'Portal', '--primary-idp', 'Okta'), {
        message: /names 2 identity providers/,
      });
      await t.rejects(run(appCommand, 'update', '--org', 'acme', '--app', 'Nope', '--allow-sha1'), {
        message: 'no app "Nope" in acme',
      });
      const r = await run(
        appCommand,
        'update',
        '--org',
        'acme',
        '--app',
        'https://portal.example',
        '--no-primary-idp',
        '--no-relay-state',
        '--allow-sha1',
        '--no-sign-response',
      );
      t.equal(r.code, 0);
      t.match((await store.applications.findById(app.id))!, {
        primaryIdpId: null,
        defaultRelayState: null,
        allowSha1: true,
        signResponse: false,
        signAssertion: true,
        acsUrls: ['https://portal.example/acs'],
      });
      t.match((await store.audit.list({ type: 'app.updated', appId: app.id }))[0], {
        actor: 'cli',
        details: { changes: { allowSha1: { from: false, to: true }, signResponse: { from: true, to: false } } },
      });
    });

    t.test('--metadata-url on update keeps requiring the metadata signature', async (t) => {
      const documents: Record<string, string> = {
        '/signed': signed(metadataOf('https://fed.example/idp', 'https://fed.example/sso')),
        '/moved-signed': signed(metadataOf('https://fed.example/idp', 'https://fed.example/sso2')),
        '/moved-unsigned': metadataOf('https://fed.example/idp', 'https://evil.example/sso'),
      };
      const server = createServer((req, res) =>
        documents[req.url!] ? res.writeHead(200).end(documents[req.url!]) : res.writeHead(404).end(),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
      const fed = await saveIdentityProvider(store, {
        name: 'Federation',
        entityId: 'https://fed.example/idp',
        ssoUrl: 'https://fed.example/sso',
        certificates: [idpKey.certificatePem],
        metadataUrl: url('/signed'),
        metadataSigningCertificate: federationKey.certificatePem,
      });

      await t.rejects(
        run(idpCommand, 'update', '--org', 'acme', '--idp', fed.id, '--metadata-url', url('/moved-unsigned')),
        { message: /not signed/ },
      );
      t.equal(
        (await store.identityProviders.findById(fed.id))!.ssoUrl,
        'https://fed.example/sso',
        'an unsigned document changes nothing',
      );
      t.equal(
        (await run(idpCommand, 'update', '--org', 'acme', '--idp', fed.id, '--metadata-url', url('/moved-signed')))
          .code,
        0,
      );
      t.match((await store.identityProviders.findById(fed.id))!, {
        ssoUrl: 'https://fed.example/sso2',
        metadataUrl: url('/moved-signed'),
        metadataSigningCertificate: /BEGIN CERTIFICATE/,
        signRequests: true,
      });
    });
  });
}
