// Home-realm discovery through HTTP: a login hint (the AuthnRequest's Subject, or login_hint) or an email typed on
// the chooser picks the IdP that owns its domain, only among this organisation's enabled IdPs; anything else
// falls back to the chooser. A hint never decides who signs in.
import t from 'tap';
import { sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import type { Application } from '../../src/store/applications.ts';
import { Browser } from '../helpers/browser.ts';
import { createOrg } from '../helpers/context.ts';
import { FakeIdp, OKTA_ATTRIBUTES } from '../helpers/fake-idp.ts';
import { appReceives, createWorld, idpAnswers, type World } from '../helpers/sso-world.ts';

const SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

/** An AuthnRequest over HTTP-Redirect, signed with `keyPem`, naming `subject` in its Subject when given. */
function signedRequestUrl(w: World, app: Application, keyPem: string, id: string, subject?: string, extra = '') {
  const subjectXml =
    subject === undefined
      ? ''
      : `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${subject}</saml:NameID></saml:Subject>`;
  const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${w.base}/saml/idp/sso" AssertionConsumerServiceURL="${app.acsUrls[0]}"><saml:Issuer>${app.entityId}</saml:Issuer>${subjectXml}</samlp:AuthnRequest>`;
  const query = `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}&RelayState=r&SigAlg=${encodeURIComponent(SHA256)}`;
  return `${w.base}/saml/idp/sso?${query}&Signature=${encodeURIComponent(sign('sha256', Buffer.from(query), keyPem).toString('base64'))}${extra}`;
}

const idpHost = (res: { headers: Record<string, unknown> }) => {
  const location = String(res.headers.location ?? '');
  return location.startsWith('https://') ? new URL(location).host : null;
};

for (const provider of ['sqlite', 'postgresql'] as const) {
  t.test(`home-realm discovery (${provider})`, async (t) => {
    const w = await createWorld('piedpipers', provider);
    t.teardown(w.ta.cleanup);
    // The fake IdP and node-saml use the real clock: the broker's starts each step at real time.
    t.beforeEach(() => w.ta.clock.set(new Date()));
    const okta = await w.addIdp('Okta');
    const wso2 = await w.addIdp('WSO2');
    const retired = await w.addIdp('Retired');
    await saveIdentityProvider(w.org.store, { emailDomains: ['acme.example'] }, okta.idp.id);
    await saveIdentityProvider(w.org.store, { emailDomains: ['*.globex.example'] }, wso2.idp.id);
    await saveIdentityProvider(w.org.store, { emailDomains: ['initech.example'], enabled: false }, retired.idp.id);
    // Another organisation of the same broker owns hooli.example with its own IdP.
    const hooli = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
    const hooliIdp = new FakeIdp({ entityId: 'https://hooli.idp.example/saml' });
    await saveIdentityProvider(hooli.store, {
      name: 'Hooli IdP',
      entityId: hooliIdp.entityId,
      ssoUrl: 'https://hooli.idp.example/sso',
      certificates: [hooliIdp.certificatePem],
      emailDomains: ['hooli.example'],
    });

    const appKey = generateSigningCredential('jira-sp');
    const { app, sp } = await w.addApp('Jira', { certificate: appKey.certificatePem, wantAuthnRequestsSigned: true });
    const { app: wiki } = await w.addApp('Wiki');
    const wikiSp = w.nodeSaml(wiki);
    const wikiUrl = async (extra = '') => `${await wikiSp.getAuthorizeUrlAsync('', undefined, {})}${extra}`;

    t.test('a Subject in a signed AuthnRequest routes to the IdP that owns its domain', async (t) => {
      const res = await new Browser(w.ta).get(
        signedRequestUrl(w, app, appKey.privateKeyPem, '_subject1', 'ann@acme.example'),
      );
      t.equal(res.statusCode, 302);
      t.equal(idpHost(res), 'okta.idp.example', 'straight to Okta, no chooser');
      const sub = await new Browser(w.ta).get(
        signedRequestUrl(w, app, appKey.privateKeyPem, '_subject2', 'Bob@EU.Globex.Example'),
      );
      t.equal(idpHost(sub), 'wso2.idp.example', 'a subdomain under a wildcard entry, in any letter case');
    });

    t.test('a Subject naming no owned domain, or no Subject, shows the chooser', async (t) => {
      for (const [id, subject] of [
        ['_s3', 'ann@unknown.example'],
        ['_s4', undefined],
        ['_s5', 'not an email'],
        ['_s6', 'ann@globex.example'],
      ] as const) {
        const res = await new Browser(w.ta).get(signedRequestUrl(w, app, appKey.privateKeyPem, id, subject));
        t.equal(res.statusCode, 303, `${subject}: chooser`);
        t.match(String(res.headers.location), /^\/flow\/[^/]+\/idp$/);
      }
    });

    t.test("a hint for a disabled IdP's domain, or another organisation's domain, does not route", async (t) => {
      for (const hint of ['ann@initech.example', 'ann@hooli.example']) {
        const bySubject = await new Browser(w.ta).get(
          signedRequestUrl(w, app, appKey.privateKeyPem, `_h${hint.length}${hint[4]}`, hint),
        );
        t.equal(bySubject.statusCode, 303, `Subject ${hint}: chooser`);
        const byParam = await new Browser(w.ta).get(await wikiUrl(`&login_hint=${encodeURIComponent(hint)}`));
        t.equal(byParam.statusCode, 303, `login_hint ${hint}: chooser`);
        t.equal(idpHost(byParam), null, 'no IdP of any organisation is asked');
      }
    });

    t.test('login_hint on /saml/idp/sso (Redirect and POST bindings) and on the launch link', async (t) => {
      t.equal(
        idpHost(await new Browser(w.ta).get(await wikiUrl('&login_hint=carol%40acme.example'))),
        'okta.idp.example',
      );
      // Outside the signed octets of a Redirect request: the signature still verifies, the hint still routes.
      t.equal(
        idpHost(
          await new Browser(w.ta).get(
            signedRequestUrl(w, app, appKey.privateKeyPem, '_s7', undefined, '&login_hint=dan%40x.globex.example'),
          ),
        ),
        'wso2.idp.example',
      );
      const { SAML } = await import('@node-saml/node-saml');
      const postSp = new SAML({
        ...(wikiSp as unknown as { options: object }).options,
        authnRequestBinding: 'HTTP-POST',
      } as never);
      const form = await postSp.getAuthorizeFormAsync('', undefined, {});
      const samlRequest = /name="SAMLRequest" value="([^"]+)"/.exec(form)![1];
      const posted = await new Browser(w.ta).post(`${w.base}/saml/idp/sso`, {
        SAMLRequest: samlRequest,
        login_hint: 'erin@acme.example',
      });
      t.equal(idpHost(posted), 'okta.idp.example', 'POST binding, login_hint form field');
      const launch = await new Browser(w.ta).get(
        `${w.base}/apps/${wiki.id}/launch?login_hint=${encodeURIComponent('fay@acme.example')}`,
      );
      t.equal(idpHost(launch), 'okta.idp.example', 'launch link');
      const plain = await new Browser(w.ta).get(`${w.base}/apps/${wiki.id}/launch`);
      t.equal(plain.statusCode, 303, 'launch link without a hint: the chooser');
    });

    t.test("the Subject wins over login_hint; the app's primary IdP wins over both", async (t) => {
      const both = await new Browser(w.ta).get(
        signedRequestUrl(w, app, appKey.privateKeyPem, '_s8', 'ann@acme.example', '&login_hint=dan%40x.globex.example'),
      );
      t.equal(idpHost(both), 'okta.idp.example');
      const { app: portal, sp: portalSp } = await w.addApp('Portal', { primaryIdpId: wso2.idp.id });
      t.ok(portal);
      const res = await new Browser(w.ta).get(
        `${await portalSp.getAuthorizeUrlAsync('', undefined, {})}&login_hint=ann%40acme.example`,
      );
      t.equal(idpHost(res), 'wso2.idp.example', 'an app bound to one IdP stays bound to it');
    });

    t.test('hostile hints are ignored, never echoed unescaped', async (t) => {
      const long = `${'a'.repeat(250)}@acme.example`;
      t.equal(
        (await new Browser(w.ta).get(await wikiUrl(`&login_hint=${encodeURIComponent(long)}`))).statusCode,
        303,
        'longer than an address can be: ignored',
      );
      const browser = new Browser(w.ta);
      const hostile = '"><script>alert(1)</script>@acme.example';
      const res = await browser.get(await wikiUrl(`&login_hint=${encodeURIComponent(hostile)}`));
      t.equal(res.statusCode, 303, 'not an address: the chooser');
      const chooser = await browser.get(`${w.base}${res.headers.location}`);
      t.notMatch(chooser.body, /<script>alert/);
      const typed = await browser.post(`${w.base}${res.headers.location}`, { email: hostile });
      t.equal(typed.statusCode, 200);
      t.notMatch(typed.body, /<script>alert/);
      t.match(typed.body, /&quot;&gt;&lt;script&gt;/, 'kept in the field, escaped');
    });

    t.test(
      'a typed email on the chooser: owner, unknown domain (list again, address kept), disabled IdP',
      async (t) => {
        const browser = new Browser(w.ta);
        const start = await browser.get(await wikiUrl());
        const chooserUrl = `${w.base}${start.headers.location}`;
        const page = await browser.get(chooserUrl);
        t.match(page.body, /Work email/);
        t.match(page.body, /Okta/);
        const unknown = await browser.post(chooserUrl, { email: 'gil@example.com' });
        t.equal(unknown.statusCode, 200);
        t.match(unknown.body, /No sign-in option is set up for example\.com; choose one below/);
        t.match(unknown.body, /value="gil@example\.com"/, 'the typed address is kept');
        t.match(unknown.body, /WSO2/, 'the list is shown again');
        const disabled = await browser.post(chooserUrl, { email: 'hal@initech.example' });
        t.match(disabled.body, /No sign-in option is set up for initech\.example/);
        const other = await browser.post(chooserUrl, { email: 'ivy@hooli.example' });
        t.match(other.body, /No sign-in option is set up for hooli\.example/);
        const invalid = await browser.post(chooserUrl, { email: 'not-an-address' });
        t.match(invalid.body, /Enter an email address/);
        const owner = await browser.post(chooserUrl, { email: 'jo@acme.example' });
        t.equal(owner.statusCode, 302);
        t.equal(idpHost(owner), 'okta.idp.example');
        t.equal(
          (await browser.post(chooserUrl, { email: 'jo@acme.example' })).statusCode,
          410,
          'the flow moved on: the chooser is done',
        );
        const stranger = await new Browser(w.ta).post(chooserUrl, { email: 'jo@acme.example' });
        t.ok(stranger.statusCode === 403 || stranger.statusCode === 410, 'another browser cannot drive the chooser');
      },
    );

    t.test('a login hint prefills the chooser when it names no owned domain', async (t) => {
      const browser = new Browser(w.ta);
      const start = await browser.get(await wikiUrl('&login_hint=kim%40unknown.example'));
      const page = await browser.get(`${w.base}${start.headers.location}`);
      t.match(page.body, /value="kim@unknown\.example"/);
    });

    t.test('the hint only picks the IdP: who signs in is what the IdP asserts', async (t) => {
      await w.org.store.users.create({ email: 'bob@acme.example' });
      const browser = new Browser(w.ta);
      const start = await browser.get(await wikiUrl('&login_hint=ann%40acme.example'));
      t.equal(idpHost(start), 'okta.idp.example');
      const acs = await idpAnswers(w, browser, okta.fake, String(start.headers.location), {
        email: 'bob@acme.example',
        attributes: OKTA_ATTRIBUTES('bob@acme.example'),
      });
      const { res } = await browser.follow(acs.res, w.base);
      const { profile } = await appReceives(wikiSp, res);
      t.equal(profile.nameID, 'bob@acme.example');
      t.ok(sp);
    });
  });
}
