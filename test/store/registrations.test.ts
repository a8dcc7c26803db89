// Registering IdPs and apps validates every field before anything is stored.
import t from 'tap';
import { createTestContext, createOrg } from '../helpers/context.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { AppError, ValidationError } from '../../src/errors.ts';

t.test('registrations', async (t) => {
  const tc = await createTestContext();
  t.teardown(tc.cleanup);
  const a = await createOrg(tc.ctx, 'orga');
  const b = await createOrg(tc.ctx, 'orgb');
  const cert = generateSigningCredential('idp.example').certificatePem;
  const base64Only = cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

  t.test('an IdP with a pasted base64 certificate is stored normalised', async (t) => {
    const idp = await saveIdentityProvider(a.store, {
      name: 'Okta',
      entityId: 'http://www.okta.com/x',
      ssoUrl: 'https://okta.example/sso',
      certificates: [base64Only],
    });
    t.match(idp.certificates[0], /^-----BEGIN CERTIFICATE-----\n/);
    t.equal(idp.wantAssertionSigned, true, 'assertions must be signed by default');
  });

  t.test('bad IdP input is refused field by field and nothing is stored', async (t) => {
    const err = (await t.rejects(
      saveIdentityProvider(a.store, {
        name: '',
        entityId: 'e',
        ssoUrl: 'javascript:alert(1)',
        certificates: ['nope'],
        mappingPreset: 'weird' as never,
        wantAssertionSigned: false,
        wantResponseSigned: false,
      }),
    )) as ValidationError;
    t.ok(err instanceof ValidationError);
    t.match(err.fields, {
      name: /required/,
      ssoUrl: /http\(s\)/,
      certificates: /not an X\.509/,
      mappingPreset: /one of/,
      wantAssertionSigned: /must be signed/,
    });
    const noCert = (await t.rejects(
      saveIdentityProvider(a.store, { name: 'x', entityId: 'e2', ssoUrl: 'https://x.example' }),
    )) as ValidationError;
    t.match(noCert.fields.certificates, /at least one/);
    t.equal((await a.store.identityProviders.list()).length, 1);
  });

  t.test('duplicate entity IDs are a clear conflict within an organisation only', async (t) => {
    const dup = (await t.rejects(
      saveIdentityProvider(a.store, {
        name: 'Again',
        entityId: 'http://www.okta.com/x',
        ssoUrl: 'https://okta.example/sso',
        certificates: [cert],
      }),
    )) as AppError;
    t.equal(dup.code, 'idp_exists');
    await saveIdentityProvider(b.store, {
      name: 'Okta',
      entityId: 'http://www.okta.com/x',
      ssoUrl: 'https://okta.example/sso',
      certificates: [cert],
    });
  });

  t.test('apps: ACS URLs required and checked; primary IdP must be of the same organisation', async (t) => {
    const idpB = (await b.store.identityProviders.list())[0];
    const err = (await t.rejects(
      saveApplication(a.store, {
        name: 'Jira',
        entityId: 'https://jira.example',
        acsUrls: ['not a url'],
        nameIdFormat: 'x' as never,
        attributeRelease: ['password'],
        primaryIdpId: idpB.id,
        encryptAssertion: true,
      }),
    )) as ValidationError;
    t.match(err.fields, {
      'acsUrls.0': /not a valid URL/,
      nameIdFormat: /one of/,
      attributeRelease: /unknown attribute/,
      primaryIdpId: /not an identity provider of this organisation/,
      certificate: /required/,
    });
    const app = await saveApplication(a.store, {
      name: 'Jira',
      entityId: 'https://jira.example',
      acsUrls: ['https://jira.example/acs'],
    });
    t.equal(app.signResponse, true, '"Sign Response" defaults to on, as in the guides');
    t.equal(app.nameIdFormat, 'emailAddress');
    const updated = await saveApplication(
      a.store,
      { primaryIdpId: (await a.store.identityProviders.list())[0].id },
      app.id,
    );
    t.ok(updated.primaryIdpId);
    const dup = (await t.rejects(
      saveApplication(a.store, {
        name: 'Jira 2',
        entityId: 'https://jira.example',
        acsUrls: ['https://jira.example/acs'],
      }),
    )) as AppError;
    t.equal(dup.code, 'app_exists');
  });
});
