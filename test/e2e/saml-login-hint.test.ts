// The login hint toward a SAML upstream IdP: when the sign-in started with a known email (the app's login_hint, or
// the address typed on the chooser) and the IdP's registration opts in (sendLoginHint), our AuthnRequest carries it
// as <saml:Subject><saml:NameID Format="...emailAddress"> (SAML core 3.4.1), schema-valid on both bindings, signed
// or not; off (the default), or with no hint, there is no Subject. The fake IdP then answers and the app gets its
// Response: the hint decides nothing about who signs in.
import t from 'tap';
import { createSchemaValidator } from '../../src/saml/schema-validator.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { OKTA_ATTRIBUTES } from '../helpers/fake-idp.ts';
import { appReceives, createWorld, idpAnswers, upstreamRequest } from '../helpers/sso-world.ts';

const SUBJECT = (email: string) =>
  `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${email}</saml:NameID></saml:Subject>`;
const schema = createSchemaValidator();

for (const provider of ['sqlite', 'postgresql'] as const) {
  t.test(`login hint to a SAML IdP (${provider})`, async (t) => {
    const w = await createWorld('hintpipers', provider);
    t.teardown(w.ta.cleanup);
    t.beforeEach(() => w.ta.clock.set(new Date()));
    const okta = await w.addIdp('Okta', { emailDomains: ['acme.example'] });
    await w.addIdp('WSO2', { emailDomains: ['globex.example'] });
    t.equal(okta.idp.sendLoginHint, false, 'off by default');
    const { app } = await w.addApp('Jira');
    const sp = w.nodeSaml(app);
    await w.org.store.users.create({ email: 'ann@acme.example' });
    const withHint = async (hint: string) =>
      `${await sp.getAuthorizeUrlAsync('', undefined, {})}&login_hint=${encodeURIComponent(hint)}`;

    await t.test('off: the login_hint picks the IdP but no Subject is sent', async (t) => {
      const res = await new Browser(w.ta).get(await withHint('ann@acme.example'));
      t.equal(res.statusCode, 302);
      const req = upstreamRequest(String(res.headers.location));
      t.equal(req.ssoUrl, 'https://okta.idp.example/sso');
      t.notMatch(req.xml, /Subject/);
    });

    await saveIdentityProvider(w.org.store, { sendLoginHint: true }, okta.idp.id);

    await t.test("on: the app's login_hint arrives as the Subject, and the sign-in completes", async (t) => {
      const browser = new Browser(w.ta);
      const res = await browser.get(await withHint('ann@acme.example'));
      const req = upstreamRequest(String(res.headers.location));
      t.match(req.xml, `</saml:Issuer>${SUBJECT('ann@acme.example')}<samlp:NameIDPolicy`, 'after the Issuer');
      await schema.validate(req.xml);
      const { res: answered } = await idpAnswers(w, browser, okta.fake, String(res.headers.location), {
        email: 'ann@acme.example',
        attributes: OKTA_ATTRIBUTES('ann@acme.example'),
      });
      const { res: done } = await browser.follow(answered, w.base);
      t.equal((await appReceives(sp, done)).profile.nameID, 'ann@acme.example');
    });

    await t.test('on: the address typed on the chooser (home-realm discovery) arrives as the Subject', async (t) => {
      const browser = new Browser(w.ta);
      const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
      t.equal(start.statusCode, 303, 'two IdPs, no hint: the chooser');
      const typed = await browser.post(`${w.base}${start.headers.location}`, { email: 'Jo@acme.example' });
      t.equal(typed.statusCode, 302);
      const req = upstreamRequest(String(typed.headers.location));
      t.equal(req.ssoUrl, 'https://okta.idp.example/sso');
      t.match(req.xml, SUBJECT('Jo@acme.example'), 'as typed');
    });

    await t.test('on, but no hint: no Subject', async (t) => {
      const browser = new Browser(w.ta);
      const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
      const chosen = await browser.post(`${w.base}${start.headers.location}`, { idpId: okta.idp.id });
      t.equal(chosen.statusCode, 302);
      t.notMatch(upstreamRequest(String(chosen.headers.location)).xml, /Subject/);
    });

    await t.test('on: the hint is XML-escaped', async (t) => {
      const res = await new Browser(w.ta).get(await withHint("o'neil&co@acme.example"));
      const req = upstreamRequest(String(res.headers.location));
      t.match(req.xml, /<saml:NameID [^>]*>o(&apos;|&#39;|')neil&amp;co@acme\.example<\/saml:NameID>/);
      await schema.validate(req.xml);
    });

    await t.test('on, HTTP-POST binding, signed: the Subject after the Signature, schema-valid', async (t) => {
      await saveIdentityProvider(w.org.store, { ssoBinding: 'post', signRequests: true }, okta.idp.id);
      t.teardown(() => saveIdentityProvider(w.org.store, { ssoBinding: 'redirect' }, okta.idp.id));
      const res = await new Browser(w.ta).get(await withHint('ann@acme.example'));
      const form = formIn(res.body);
      t.ok(form?.fields.SAMLRequest, 'an auto-POST form to the IdP');
      const xml = Buffer.from(form!.fields.SAMLRequest, 'base64').toString();
      t.match(xml, /<\/ds:Signature><saml:Subject>/);
      t.match(xml, 'ann@acme.example</saml:NameID></saml:Subject>');
      await schema.validate(xml);
    });

    await t.test('the other IdP (off) still gets no Subject for its domain', async (t) => {
      const res = await new Browser(w.ta).get(await withHint('bo@globex.example'));
      const req = upstreamRequest(String(res.headers.location));
      t.equal(req.ssoUrl, 'https://wso2.idp.example/sso');
      t.notMatch(req.xml, /Subject/);
    });
  });
}
