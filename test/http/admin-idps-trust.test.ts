// Console section "Identity providers": the trust settings on every form. Email domains (invalid entries and a
// domain another IdP claims shown next to the field, naming that IdP), the linking mode with its any-email warning
// and audit line, "Sign AuthnRequests (recommended)" ticked by default and kept on by metadata that does not ask
// for it, unsigned LogoutResponses off by default; the list and the page show each IdP's domains.
import t from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { createTestApp } from '../helpers/app.ts';

const credential = generateSigningCredential('idp-trust');
const metadataOf = (entityId: string) =>
  idpMetadata({
    entityId,
    ssoUrl: `${entityId}/sso`,
    sloUrl: `${entityId}/slo`,
    certificates: [credential.certificatePem],
    organizationName: 'IdP',
    organizationUrl: 'https://idp.example',
    wantAuthnRequestsSigned: false,
  });
const errorFor = (html: string, id: string) => new RegExp(`id="${id}-error">([^<]*)<`).exec(html)?.[1] ?? null;
const checked = (html: string, name: string, value?: string) =>
  new RegExp(`<input type="(checkbox|radio)" name="${name}"${value ? ` value="${value}"` : ''}[^>]* checked`).test(
    html,
  );

t.test('console: identity provider trust settings', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const okta = await saveIdentityProvider(store, {
    name: 'Okta (Acme)',
    entityId: 'https://okta.example/acme',
    ssoUrl: 'https://okta.example/sso',
    certificates: [credential.certificatePem],
    emailDomains: ['acme.example', '*.acme.example'],
  });
  const manual = {
    name: 'WSO2',
    entityId: 'https://wso2.example/idp',
    ssoUrl: 'https://wso2.example/sso',
    ssoBinding: 'redirect',
    certificates: credential.certificatePem,
    mappingPreset: 'wso2',
    wantAssertionSigned: 'on',
    signRequests: 'on',
    linkingMode: 'verified-domains',
  };

  t.test(
    'the add page: signing ticked by default, linking "only for its email domains", the any-email warning',
    async (t) => {
      const page = await admin.get('/admin/idps/new');
      t.match(page.body, /Sign AuthnRequests \(recommended\)/);
      t.ok(checked(page.body, 'signRequests'), 'Sign AuthnRequests is ticked on a new form');
      t.notOk(checked(page.body, 'acceptUnsignedLogoutResponse'));
      t.match(
        page.body,
        /Accept unsigned LogoutResponses \(SimpleSAMLphp, Entra ID send them unsigned; matched to the request we sent by Issuer, Destination and InResponseTo\)/,
      );
      for (const p of ['url-', 'file-', 'manual-', 'oidc-'])
        t.match(page.body, `id="${p}emailDomains"`, `${p} form has the domains`);
      t.equal(
        page.body.match(/name="linkingMode" value="verified-domains" checked/g)?.length,
        4,
        'each form (three SAML, one OpenID Connect) defaults to verified-domains',
      );
      t.match(page.body, /can sign in as any user of the organisation simply by asserting their email address/);
    },
  );

  t.test('by hand: an invalid domain and a claimed domain are field errors; nothing saved', async (t) => {
    const bad = await admin.post('/admin/idps/new/manual', { ...manual, emailDomains: 'wso2.example, not_a domain!' });
    t.equal(bad.statusCode, 400);
    t.match(
      errorFor(bad.body, 'manual-emailDomains'),
      /^Email domains contains (&quot;|")not_a(&quot;|"), (&quot;|")domain!(&quot;|"), which are not domains/,
    );
    t.match(
      bad.body,
      /id="manual-emailDomains" name="emailDomains" value="wso2.example, not_a, domain!"/,
      'what was typed is kept',
    );

    const taken = await admin.post('/admin/idps/new/manual', {
      ...manual,
      emailDomains: 'wso2.example *.acme.example',
    });
    t.equal(taken.statusCode, 400);
    t.match(
      errorFor(taken.body, 'manual-emailDomains'),
      /^Email domains: \*\.acme\.example is already claimed by identity provider (&quot;|")Okta \(Acme\)(&quot;|")\.$/,
    );
    t.notOk(await store.identityProviders.findByEntityId(manual.entityId), 'nothing saved');
  });

  t.test('by hand: saved normalised, with any-email audited', async (t) => {
    const ok = await admin.post('/admin/idps/new/manual', {
      ...manual,
      signRequests: '',
      emailDomains: 'WSO2.example\n*.wso2.example',
      linkingMode: 'any-email',
    });
    t.equal(ok.statusCode, 303);
    const idp = (await store.identityProviders.findByEntityId(manual.entityId))!;
    t.match(idp, {
      emailDomains: ['wso2.example', '*.wso2.example'],
      linkingMode: 'any-email',
      signRequests: false,
      acceptUnsignedLogoutResponse: false,
      sendLoginHint: false,
    });
    t.match((await store.audit.list({ type: 'idp.linking_any_email' }))[0], { actor: admin.email, idpId: idp.id });

    const page = await admin.get(`/admin/idps/${idp.id}`);
    t.match(page.body, /Email domains: wso2\.example, \*\.wso2\.example\./);
    t.match(
      page.body,
      /role="status">This identity provider can sign in as any user of the organisation/,
      'the page warns while any-email is on',
    );
    t.match(page.body, /AuthnRequests are sent unsigned/);
    t.ok(checked(page.body, 'linkingMode', 'any-email'));
    const list = await admin.get('/admin/idps');
    t.match(list.body, /wso2\.example, \*\.wso2\.example <span class="badge off"[^>]*>Any email/);
    t.match(list.body, /<td>acme\.example, \*\.acme\.example<\/td>/);
  });

  t.test('edit: domains and switches change; the audit line has old and new values', async (t) => {
    const idp = (await store.identityProviders.findByEntityId(manual.entityId))!;
    const form = {
      ...manual,
      emailDomains: 'wso2.example',
      linkingMode: 'verified-domains',
      acceptUnsignedLogoutResponse: 'on',
      sendLoginHint: 'on',
    };
    const taken = await admin.post(`/admin/idps/${idp.id}`, { ...form, emailDomains: 'acme.example' });
    t.equal(taken.statusCode, 400);
    t.match(
      errorFor(taken.body, 'edit-emailDomains'),
      /acme\.example is already claimed by identity provider (&quot;|")Okta \(Acme\)(&quot;|")/,
    );
    const saved = await admin.post(`/admin/idps/${idp.id}`, form);
    t.equal(saved.statusCode, 303);
    t.match((await store.identityProviders.findById(idp.id))!, {
      emailDomains: ['wso2.example'],
      linkingMode: 'verified-domains',
      signRequests: true,
      acceptUnsignedLogoutResponse: true,
      sendLoginHint: true,
    });
    t.ok(checked((await admin.get(`/admin/idps/${idp.id}`)).body, 'sendLoginHint'), 'shown ticked on the edit form');
    t.match((await store.audit.list({ type: 'idp.updated' }))[0].details, {
      changes: {
        emailDomains: { from: ['wso2.example', '*.wso2.example'], to: ['wso2.example'] },
        linkingMode: { from: 'any-email', to: 'verified-domains' },
        signRequests: { from: false, to: true },
        acceptUnsignedLogoutResponse: { from: false, to: true },
      },
    });
    t.notMatch(
      (await admin.get(`/admin/idps/${idp.id}`)).body,
      /role="status">This identity provider can sign in as any user/,
    );
  });

  t.test(
    'from a metadata file: signing stays on although the metadata does not ask for it; domains and linking on the form',
    async (t) => {
      const taken = await admin.upload(
        '/admin/idps/new/file',
        { name: 'Entra', emailDomains: 'sub.acme.example', linkingMode: 'never' },
        { metadataFile: { filename: 'entra.xml', content: metadataOf('https://entra.example/x') } },
      );
      t.equal(taken.statusCode, 400);
      t.match(
        errorFor(taken.body, 'file-emailDomains'),
        /sub\.acme\.example is already claimed by identity provider .*Okta \(Acme\).* \(as \*\.acme\.example\)/,
      );
      t.match(taken.body, /id="file-emailDomains" name="emailDomains" value="sub.acme.example"/);
      t.ok(checked(taken.body, 'linkingMode', 'never'), 'the chosen mode is kept');

      const res = await admin.upload(
        '/admin/idps/new/file',
        { name: 'Entra', emailDomains: 'entra.example', linkingMode: 'never' },
        { metadataFile: { filename: 'entra.xml', content: metadataOf('https://entra.example/x') } },
      );
      t.equal(res.statusCode, 303);
      t.match((await store.identityProviders.findByEntityId('https://entra.example/x'))!, {
        signRequests: true,
        emailDomains: ['entra.example'],
        linkingMode: 'never',
      });
    },
  );

  t.test('the stored IdP is not touched by a refused form of another IdP', async (t) => {
    t.same((await store.identityProviders.findById(okta.id))!.emailDomains, ['acme.example', '*.acme.example']);
  });
});
