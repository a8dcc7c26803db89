// The second-factor levels of the app login policy (issue 23) through HTTP, with a software authenticator: `any`
// offers both factors to a user who has both and either signs in; `totp` refuses a passkey; `webauthn` refuses an
// app code and sets up only a passkey. Recovery codes cover a lost key as they cover a lost phone: a user who sets up
// only a passkey gets them (shown once), and one of them passes the second factor; at the `webauthn` level it passes
// only on to setting up a new passkey in the same login. Each sign-in ends with a Response node-saml accepts.
import t from 'tap';
import type { SAML } from '@node-saml/node-saml';
import { Browser, formIn } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { appReceives, createWorld, idpAnswers, upstreamRequest, type World } from '../helpers/sso-world.ts';
import type { FakeIdp } from '../helpers/fake-idp.ts';
import { totpFor, webauthnFor } from '../../src/mfa/for-tenant.ts';
import { RecoveryCodes } from '../../src/mfa/recovery-codes.ts';
import type { SecondFactorLevel } from '../../src/policy/rules.ts';

const codesOn = (html: string) =>
  [...html.matchAll(/<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2})<\/li>/g)].map((m) => m[1]);
const optionsOn = (html: string) =>
  JSON.parse(/<script type="application\/json" id="passkey-options">([^<]*)<\/script>/.exec(html)![1]);

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
  const setLevel = (level: SecondFactorLevel) =>
    w.org.store.applications.update(app.id, {
      policy: [{ id: 'mfa', conditions: {}, action: 'require_totp', secondFactor: level }],
    });
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
    const res = await browser.post(`${w.base}${path}`, {
      passkey: JSON.stringify(key.get(optionsOn(page.body), origin)),
    });
    const { profile } = await appReceives(sp, res);
    t.equal(profile.nameID, 'ann@customer.example');
  });

  await t.test('any: the app code signs in too', async (t) => {
    const browser = new Browser(w.ta);
    const { path } = await toSecondFactor(w, browser, sp, fake);
    const res = await browser.post(`${w.base}${path}`, {
      code: oathtool(secretBase32, new Date(w.ta.clock.now().getTime() + 30_000)),
    });
    t.equal((await appReceives(sp, res)).profile.nameID, 'ann@customer.example');
  });

  await t.test('totp: no passkey is offered, and one is refused', async (t) => {
    await setLevel('totp');
    const browser = new Browser(w.ta);
    const { path, page } = await toSecondFactor(w, browser, sp, fake);
    t.notMatch(page.body, /passkey-options/);
    const res = await browser.post(`${w.base}${path}`, {
      passkey: JSON.stringify(key.get({ challenge: 'x', rpId: new URL(w.base).hostname }, origin)),
    });
    t.equal(res.statusCode, 400);
    t.match(res.body, /asks for a code from your authenticator app/);
    t.equal(
      (await w.org.store.audit.list({ userId: ann.id, type: 'mfa.verify_failed' }))[0].code,
      'webauthn_not_allowed',
    );
  });

  await t.test(
    'webauthn: an app code is refused; a recovery code covers a lost key, then a new passkey is set up',
    async (t) => {
      await setLevel('webauthn');
      const browser = new Browser(w.ta);
      const { path, page } = await toSecondFactor(w, browser, sp, fake);
      t.match(page.body, /Lost your passkey or key\? Enter a recovery code/);
      const code = await browser.post(`${w.base}${path}`, {
        code: oathtool(secretBase32, new Date(w.ta.clock.now().getTime() + 30_000)),
      });
      t.equal(code.statusCode, 400);
      t.match(code.body, /asks for a passkey or security key/);
      const recovered = await browser.post(`${w.base}${path}`, { code: recovery[0] });
      t.equal(recovered.statusCode, 200, 'the code is accepted...');
      t.notOk(formIn(recovered.body)?.fields.SAMLResponse, '...but the app gets no Response yet');
      t.match(recovered.body, /Set up a new passkey/);
      t.match(recovered.body, /Your recovery code was accepted \(9 left\)/);
      t.notMatch(recovered.body, /id="manual-key"/, 'no authenticator app is offered instead');
      t.equal(
        (await w.org.store.audit.list({ userId: ann.id, type: 'mfa.recovery_needs_new_passkey' })).length,
        1,
        'audited',
      );
      const appCode = await browser.post(`${w.base}${path}`, {
        code: oathtool(secretBase32, new Date(w.ta.clock.now().getTime() + 60_000)),
      });
      t.equal(appCode.statusCode, 400, 'an app code does not finish it');
      const again = await browser.post(`${w.base}${path}`, { code: recovery[1] });
      t.equal(again.statusCode, 400, 'nor another recovery code');
      t.equal(await totp.recoveryCodesLeft(ann.id), 9, 'which is not spent');
      const newKey = new SoftAuthenticator();
      const res = await browser.post(`${w.base}${path}`, {
        passkey: JSON.stringify(newKey.create(optionsOn(again.body), origin)),
        passkeyName: 'New key',
      });
      t.equal(
        (await appReceives(sp, res)).profile.nameID,
        'ann@customer.example',
        'the new passkey opens the app (her codes are kept: none shown)',
      );
      t.same(
        (await w.org.store.webauthn.list(ann.id)).map((c) => c.name),
        ['Blue key', 'New key'],
      );
      t.equal((await browser.post(`${w.base}${path}`, { code: recovery[0] })).statusCode, 410, 'the flow is over');
    },
  );

  let bobCodes: string[] = [];
  await t.test(
    'webauthn: a user without a passkey sets one up (no app is offered), and signs in with it',
    async (t) => {
      const bob = await w.org.store.users.create({ email: 'bob@customer.example' });
      const browser = new Browser(w.ta);
      const start = await browser.get(await sp.getAuthorizeUrlAsync('relay', undefined, {}));
      const acs = await idpAnswers(w, browser, fake, String(start.headers.location), {
        email: bob.email,
        attributes: { email: [bob.email], firstName: ['Bob'], lastName: ['B'], groups: [] },
      });
      const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
      const path = String(cont.headers.location);
      const page = await browser.get(`${w.base}${path}`);
      t.notMatch(page.body, /id="manual-key"/, 'no authenticator app');
      t.equal((await totp.status(bob.id)).state, 'none', 'no app setup was started');
      const bobKey = new SoftAuthenticator();
      const res = await browser.post(`${w.base}${path}`, {
        passkey: JSON.stringify(bobKey.create(optionsOn(page.body), origin)),
        passkeyName: "Bob's key",
      });
      t.equal(res.statusCode, 200);
      t.match(res.body, /Save your recovery codes/, 'a first factor: recovery codes, as after an app');
      t.match(res.body, /If you lose your\s+passkey or security key/);
      bobCodes = codesOn(res.body);
      t.equal(bobCodes.length, 10, 'ten codes shown once');
      t.match(res.body, /download="recovery-codes.txt"/, 'with the download, copy and print of the shared template');
      t.equal(await totp.recoveryCodesLeft(bob.id), 10);
      const again = await browser.post(`${w.base}${path}`, {
        passkey: JSON.stringify(bobKey.create(optionsOn(page.body), origin)),
        passkeyName: 'x',
      });
      t.equal(again.statusCode, 410, 'the enrolment takes no second answer');
      t.equal(
        (await appReceives(sp, await browser.post(`${w.base}${path.replace(/\/mfa$/, '')}/finish`, {}))).profile.nameID,
        'bob@customer.example',
      );
      t.same(
        (await w.org.store.webauthn.list(bob.id)).map((c) => c.name),
        ["Bob's key"],
      );
    },
  );

  const loginAs = async (browser: Browser, email: string) => {
    const start = await browser.get(await sp.getAuthorizeUrlAsync('relay', undefined, {}));
    const acs = await idpAnswers(w, browser, fake, String(start.headers.location), {
      email,
      attributes: { email: [email], firstName: ['Bob'], lastName: ['B'], groups: [] },
    });
    const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
    const path = String(cont.headers.location);
    return { path, page: await browser.get(`${w.base}${path}`) };
  };

  await t.test('any: a passkey-only user who lost the key signs in with a recovery code, once', async (t) => {
    await setLevel('any');
    const bob = (await w.org.store.users.findByEmail('bob@customer.example'))!;
    const browser = new Browser(w.ta);
    const { path, page } = await loginAs(browser, bob.email);
    t.match(page.body, /Use your passkey or security key/);
    t.match(
      page.body,
      /Lost your passkey or key\? Enter a recovery code/,
      'the recovery code is offered beside the passkey',
    );
    const wrong = await browser.post(`${w.base}${path}`, { code: 'aaaa-bbbb-cc' });
    t.equal(wrong.statusCode, 400);
    t.match(wrong.body, /not valid or was already used/);
    t.equal(
      (await w.org.store.audit.list({ userId: bob.id, type: 'mfa.verify_failed' }))[0].code,
      'mfa_invalid_code',
      'the refusal is audited',
    );
    const res = await browser.post(`${w.base}${path}`, { code: bobCodes[0].toUpperCase() });
    t.equal((await appReceives(sp, res)).profile.nameID, 'bob@customer.example');
    const [verified] = await w.org.store.audit.list({ userId: bob.id, type: 'mfa.verified' });
    t.equal(verified.details.method, 'recovery', 'audited as a recovery code');
    const other = new Browser(w.ta);
    const second = await loginAs(other, bob.email);
    const reused = await other.post(`${w.base}${second.path}`, { code: bobCodes[0] });
    t.equal(reused.statusCode, 400, 'the same code again: refused');
    t.equal(await totp.recoveryCodesLeft(bob.id), 9);
  });

  await t.test(
    "webauthn: a passkey-only user's recovery code leads to a new passkey; the last code brings new codes",
    async (t) => {
      await setLevel('webauthn');
      const bob = (await w.org.store.users.findByEmail('bob@customer.example'))!;
      // Only one code left: after it, the new passkey comes with a new set.
      for (const c of bobCodes.slice(1, 9))
        t.not(await new RecoveryCodes(w.org.store, w.ta.clock).use(bob.id, c), null);
      t.equal(await totp.recoveryCodesLeft(bob.id), 1);
      const browser = new Browser(w.ta);
      const { path } = await loginAs(browser, bob.email);
      const recovered = await browser.post(`${w.base}${path}`, { code: bobCodes[9] });
      t.match(recovered.body, /Set up a new passkey/);
      const res = await browser.post(`${w.base}${path}`, {
        passkey: JSON.stringify(new SoftAuthenticator().create(optionsOn(recovered.body), origin)),
        passkeyName: 'Spare key',
      });
      t.match(res.body, /Save your recovery codes/, 'no code was left: a new set is shown');
      t.equal(codesOn(res.body).length, 10);
      t.equal(
        (await appReceives(sp, await browser.post(`${w.base}${path.replace(/\/mfa$/, '')}/finish`, {}))).profile.nameID,
        'bob@customer.example',
      );
    },
  );

  await t.test(
    "a passkey-only user's wrong recovery codes lock like an app's: the login ends, and the lock lapses",
    async (t) => {
      await setLevel('any');
      const cleo = await w.org.store.users.create({ email: 'cleo@customer.example' });
      const r = await passkeys.registrationOptions(cleo);
      await passkeys.register(cleo, r.challenge, new SoftAuthenticator().create(r.options, origin), "Cleo's key");
      const cleoCodes = await new RecoveryCodes(w.org.store, w.ta.clock).issue(cleo.id);
      const { mfaLockoutThreshold: threshold, mfaLockoutSeconds: seconds } = w.ta.ctx.config;
      const browser = new Browser(w.ta);
      const { path } = await loginAs(browser, cleo.email);
      for (let i = 0; i < threshold; i++) {
        const wrong = await browser.post(`${w.base}${path}`, { code: `aaaa-bbbb-${'cdefghjk'[i]}${'cdefghjk'[i]}` });
        t.equal(wrong.statusCode, 400, `wrong code ${i + 1}`);
      }
      const locked = await browser.post(`${w.base}${path}`, { code: cleoCodes[0] });
      t.equal(locked.statusCode, 423, 'then even a right code is refused: locked');
      t.match(locked.body, /Try again in/);
      t.equal(await new RecoveryCodes(w.org.store, w.ta.clock).left(cleo.id), 10, 'and not spent');
      t.equal((await browser.post(`${w.base}${path}`, { code: cleoCodes[0] })).statusCode, 410, 'the login ended');
      // Still locked in a new login; after the lock time (the broker's clock moved on: the IdP's assertion is made at
      // that time, and the app's Response is only looked at, as node-saml checks it against the real time), it works.
      const during = new Browser(w.ta);
      t.equal(
        (await during.post(`${w.base}${(await loginAs(during, cleo.email)).path}`, { code: cleoCodes[0] })).statusCode,
        423,
        'a new login is locked too',
      );
      w.ta.clock.advance((seconds + 1) * 1000);
      const later = new Browser(w.ta);
      const start = await later.get(await sp.getAuthorizeUrlAsync('relay', undefined, {}));
      const req = upstreamRequest(String(start.headers.location));
      const samlResponse = await fake.response({
        acsUrl: w.org.urls.spAcs,
        audience: w.org.urls.spEntityId,
        inResponseTo: req.id,
        nameId: cleo.email,
        attributes: { email: [cleo.email], firstName: ['Cleo'], lastName: ['C'], groups: [] },
        now: w.ta.clock.now(),
      });
      const acs = await later.post(
        w.org.urls.spAcs,
        { SAMLResponse: samlResponse, RelayState: req.relayState },
        { crossSite: true },
      );
      const path2 = String((await later.get(`${w.base}${acs.headers.location}`)).headers.location);
      const res = await later.post(`${w.base}${path2}`, { code: cleoCodes[0] });
      t.equal(res.statusCode, 200);
      t.ok(formIn(res.body)?.fields.SAMLResponse, 'after the lock time, the code works: the app gets its Response');
      t.equal(await new RecoveryCodes(w.org.store, w.ta.clock).left(cleo.id), 9);
    },
  );
});
