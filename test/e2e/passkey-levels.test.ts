// The second-factor levels of the app login policy (issue 23) through HTTP, with a software authenticator: `any`
// offers both factors to a user who has both and either signs in; `totp` refuses a passkey; `webauthn` refuses an
// app code (a recovery code still covers a lost key) and sets up only a passkey. Each sign-in ends with a Response
// node-saml accepts.
import t from 'tap';
import type { SAML } from '@node-saml/node-saml';
import { Browser } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { appReceives, createWorld, idpAnswers, type World } from '../helpers/sso-world.ts';
import type { FakeIdp } from '../helpers/fake-idp.ts';
import { totpFor, webauthnFor } from '../../src/mfa/for-tenant.ts';
import type { SecondFactorLevel } from '../../src/policy/rules.ts';

const optionsOn = (html: string) => JSON.parse(/<script type="application\/json" id="passkey-options">([^<]*)<\/script>/.exec(html)![1]);

async function toSecondFactor(w: World, browser: Browser, sp: SAML, idp: FakeIdp) {
  const start = await browser.get(await sp.getAuthorizeUrlAsync('relay', undefined, {}));
  const acs = await idpAnswers(w, browser, idp, String(start.headers.location));
  const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
  const path = String(cont.headers.location);
  return { path, page: await browser.get(`${w.base}${path}`) };
}

t.test('policy levels: any, totp, webauthn', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app, sp } = await w.addApp('Jira');
  const setLevel = (level: SecondFactorLevel) => w.org.store.applications.update(app.id, { policy: [{ id: 'mfa', conditions: {}, action: 'require_totp', secondFactor: level }] });
  const org = (await w.ta.ctx.store.organizations.findById(w.org.org.id))!;
  const origin = new URL(w.base).origin;
  const ann = await w.org.store.users.create({ email: 'ann@customer.example' });
  // Ann has an authenticator app (with recovery codes) and a passkey.
  const totp = totpFor(w.ta.ctx, org, w.org.store);
  const { secretBase32 } = await totp.startEnrolment(ann, 'setup');
  const recovery = await totp.confirmEnrolment(ann.id, 'setup', oathtool(secretBase32, w.ta.clock.now()));
  const key = new SoftAuthenticator();
  const passkeys = webauthnFor(w.ta.ctx, org, w.org.store, w.base);
  const reg = await passkeys.registrationOptions(ann);
  await passkeys.register(ann, reg.challenge, key.create(reg.options, origin), 'Blue key');

  await t.test('any: both are offered; the passkey signs in', async (t) => {
    await setLevel('any');
    const browser = new Browser(w.ta);
    const { path, page } = await toSecondFactor(w, browser, sp, fake);
    t.match(page.body, /Use your passkey or security key/, 'the passkey is offered');
    t.match(page.body, /id="code"/, 'and the code field');
    const res = await browser.post(`${w.base}${path}`, { passkey: JSON.stringify(key.get(optionsOn(page.body), origin)) });
    const { profile } = await appReceives(sp, res);
    t.equal(profile.nameID, 'ann@customer.example');
  });

  await t.test('any: the app code signs in too', async (t) => {
    const browser = new Browser(w.ta);
    const { path } = await toSecondFactor(w, browser, sp, fake);
    const res = await browser.post(`${w.base}${path}`, { code: oathtool(secretBase32, new Date(w.ta.clock.now().getTime() + 30_000)) });
    t.equal((await appReceives(sp, res)).profile.nameID, 'ann@customer.example');
  });

  await t.test('totp: no passkey is offered, and one is refused', async (t) => {
    await setLevel('totp');
    const browser = new Browser(w.ta);
    const { path, page } = await toSecondFactor(w, browser, sp, fake);
    t.notMatch(page.body, /passkey-options/);
    const res = await browser.post(`${w.base}${path}`, { passkey: JSON.stringify(key.get({ challenge: 'x', rpId: new URL(w.base).hostname }, origin)) });
    t.equal(res.statusCode, 400);
    t.match(res.body, /asks for a code from your authenticator app/);
    t.equal((await w.org.store.audit.list({ userId: ann.id, type: 'mfa.verify_failed' }))[0].code, 'webauthn_not_allowed');
  });

  await t.test('webauthn: an app code is refused, a recovery code covers a lost key', async (t) => {
    await setLevel('webauthn');
    const browser = new Browser(w.ta);
    const { path, page } = await toSecondFactor(w, browser, sp, fake);
    t.match(page.body, /Lost your passkey or key\? Enter a recovery code/);
    const code = await browser.post(`${w.base}${path}`, { code: oathtool(secretBase32, new Date(w.ta.clock.now().getTime() + 30_000)) });
    t.equal(code.statusCode, 400);
    t.match(code.body, /asks for a passkey or security key/);
    const res = await browser.post(`${w.base}${path}`, { code: recovery[0] });
    t.equal((await appReceives(sp, res)).profile.nameID, 'ann@customer.example');
  });

  await t.test('webauthn: a user without a passkey sets one up (no app is offered), and signs in with it', async (t) => {
    const bob = await w.org.store.users.create({ email: 'bob@customer.example' });
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('relay', undefined, {}));
    const acs = await idpAnswers(w, browser, fake, String(start.headers.location), { email: bob.email, attributes: { email: [bob.email], firstName: ['Bob'], lastName: ['B'], groups: [] } });
    const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
    const path = String(cont.headers.location);
    const page = await browser.get(`${w.base}${path}`);
    t.notMatch(page.body, /id="manual-key"/, 'no authenticator app');
    t.equal((await totp.status(bob.id)).state, 'none', 'no app setup was started');
    const bobKey = new SoftAuthenticator();
    const res = await browser.post(`${w.base}${path}`, { passkey: JSON.stringify(bobKey.create(optionsOn(page.body), origin)), passkeyName: 'Bob\'s key' });
    t.equal((await appReceives(sp, res)).profile.nameID, 'bob@customer.example');
    t.same((await w.org.store.webauthn.list(bob.id)).map((c) => c.name), ['Bob\'s key']);
    const again = await browser.post(`${w.base}${path}`, { passkey: JSON.stringify(bobKey.create(optionsOn(page.body), origin)), passkeyName: 'x' });
    t.equal(again.statusCode, 410, 'the completed flow takes no second answer');
  });
});
