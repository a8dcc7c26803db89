// The end user's account page (issue 19, self-service) through HTTP: signing in to it through the organisation's
// IdP, setting up and replacing the authenticator (after a fresh check), recovery codes shown once, remembered
// devices, recent sign-ins; and the refusals: no fresh check, another organisation's session, a cross-origin form,
// another user's device.
import t from 'tap';
import { oathtool } from '../helpers/oathtool.ts';
import { Browser } from '../helpers/browser.ts';
import { createOrg } from '../helpers/context.ts';
import { appReceives, createWorld, idpAnswers, type World } from '../helpers/sso-world.ts';
import type { FakeIdp } from '../helpers/fake-idp.ts';
import { setTwoFactor } from '../../src/policy/two-factor-toggle.ts';
import { devicesFor, totpFor } from '../../src/mfa/for-tenant.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';

const keyOn = (html: string) => /id="manual-key"[^>]*>([A-Z2-7 ]+)</.exec(html)![1];
const codesOn = (html: string) =>
  [...html.matchAll(/<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2})<\/li>/g)].map((m) => m[1]);
const wrongCode = (right: string) => (right === '000000' ? '111111' : '000000');

/** /account without a session: the sign-in through the IdP, ending back on /account with a broker session. */
async function signInToAccount(w: World, browser: Browser, fake: FakeIdp, email = 'ann@customer.example') {
  const start = await browser.get(`${w.base}/account`);
  if (start.statusCode !== 302)
    throw new Error(`expected the way to the IdP, got ${start.statusCode}: ${start.body.slice(0, 300)}`);
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location), {
    email,
    attributes: { email: [email], firstName: ['Ann'], lastName: ['Lee'], groups: [] },
  });
  const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
  return { start, acs, cont };
}

/** The passkey options a page carries for its script (what @simplewebauthn/browser would be given). */
const passkeyOptionsOn = (html: string) =>
  JSON.parse(/<script type="application\/json" id="passkey-options">([^<]*)<\/script>/.exec(html)![1]);

/** Ann, with no second factor yet, signed in on /account of a fresh organisation whose Okta vouches for her domain. */
async function annOnTheAccountPage(t: { teardown(fn: () => unknown): void }) {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const ann = await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  await signInToAccount(w, browser, fake);
  return { w, ann, browser, origin: new URL(w.base).origin };
}

t.test('account page: sign-in, authenticator, recovery codes, devices, sign-ins', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app, sp } = await w.addApp('Jira');
  const ann = await w.org.store.users.create({ email: 'ann@customer.example' });
  const clock = w.ta.clock;
  const browser = new Browser(w.ta);
  const totp = async () => totpFor(w.ta.ctx, (await w.ta.ctx.store.organizations.findById(w.org.org.id))!, w.org.store);

  await t.test('without a session, /account signs in through the IdP and comes back to /account', async (t) => {
    const { start, cont } = await signInToAccount(w, browser, fake);
    t.match(
      String(start.headers.location),
      /^https:\/\/okta\.idp\.example\/sso\?SAMLRequest=/,
      'straight to the only IdP',
    );
    t.equal(cont.statusCode, 303);
    t.equal(cont.headers.location, '/account');
    t.ok(browser.cookies(new URL(w.base).host).get('broker_session'), 'a broker session started');
    const page = await browser.get(`${w.base}/account`);
    t.equal(page.statusCode, 200);
    t.match(page.body, /Signed in as <strong class="account-email">ann@customer.example<\/strong>/);
    t.match(page.body, /Pied Pipers/, 'branded');
    t.match(page.body, /Two-factor authentication is not set up yet/);
    t.match(
      page.body,
      /<td data-label="To">Your account<\/td><td data-label="Through">Okta<\/td>/,
      'the sign-in is listed, with its IdP',
    );
    const audit = await w.org.store.audit.list({ userId: ann.id, type: 'account.signed_in' });
    t.equal(audit.length, 1, 'audited');
    t.equal((await w.org.store.audit.list({ type: 'login.success' })).length, 0, 'no app heard of it');
  });

  let key = '';
  let firstCodes: string[] = [];
  await t.test(
    'setting up an authenticator: the same key on reload, a wrong code refused, codes shown once',
    async (t) => {
      const shown = await browser.get(`${w.base}/account/authenticator`);
      t.equal(shown.statusCode, 200);
      key = keyOn(shown.body);
      t.equal(keyOn((await browser.get(`${w.base}/account/authenticator`)).body), key, 'a reload shows the same key');
      const wrong = await browser.post(`${w.base}/account/authenticator`, {
        code: wrongCode(oathtool(key, clock.now())),
      });
      t.equal(wrong.statusCode, 400);
      t.match(wrong.body, /That code is not right/);
      t.equal(keyOn(wrong.body), key, 'the key stays after a wrong code');
      t.equal((await (await totp()).status(ann.id)).state, 'none', 'nothing is on yet');
      const ok = await browser.post(`${w.base}/account/authenticator`, { code: oathtool(key, clock.now()) });
      t.equal(ok.statusCode, 303);
      t.equal(ok.headers.location, '/account/recovery-codes');
      const codes = await browser.get(`${w.base}/account/recovery-codes`);
      firstCodes = codesOn(codes.body);
      t.equal(firstCodes.length, 10, 'ten recovery codes');
      t.match(codes.body, /download="recovery-codes.txt" href="data:text\/plain;charset=utf-8,/, 'a .txt download');
      t.match(codes.body, /data-copy=/, 'a copy button');
      t.match(codes.body, /data-print/, 'a print button');
      const again = await browser.get(`${w.base}/account/recovery-codes`);
      t.equal(codesOn(again.body).length, 0, 'a reload does not show them again');
      t.match(again.body, /were shown once/);
      t.equal((await (await totp()).status(ann.id)).state, 'active');
    },
  );

  await t.test('with a factor on, changes need a fresh check first', async (t) => {
    const page = await browser.get(`${w.base}/account`);
    t.match(page.body, /10<\/strong> of 10 recovery codes are unused/);
    t.match(page.body, /action="\/account\/check"/, 'the check is offered');
    const noCheck = await browser.get(`${w.base}/account/authenticator`);
    t.equal(noCheck.statusCode, 400);
    t.match(noCheck.body, /first confirm it is you/);
    t.notMatch(noCheck.body, /id="manual-key"/, 'no new key without a check');
    const codes = await browser.post(`${w.base}/account/recovery-codes`, {});
    t.equal(codes.statusCode, 400);
    t.match(codes.body, /first confirm it is you/);
    const replayed = await browser.post(`${w.base}/account/check`, { code: oathtool(key, clock.now()) });
    t.equal(replayed.statusCode, 400, 'the code that turned the factor on cannot also confirm');
    t.match(replayed.body, /already used/);
    clock.advance(30_000);
    const wrong = await browser.post(`${w.base}/account/check`, { code: wrongCode(oathtool(key, clock.now())) });
    t.equal(wrong.statusCode, 400);
    t.match(wrong.body, /aria-invalid="true"/);
    const checked = await browser.post(`${w.base}/account/check`, { code: oathtool(key, clock.now()) });
    t.equal(checked.statusCode, 303);
    t.equal(checked.headers.location, '/account?done=checked');
    t.match((await browser.get(`${w.base}/account?done=checked`)).body, /Confirmed\. For the next 5 minutes/);
  });

  await t.test('new recovery codes replace the old ones', async (t) => {
    const made = await browser.post(`${w.base}/account/recovery-codes`, {});
    t.equal(made.statusCode, 303);
    const fresh = codesOn((await browser.get(`${w.base}/account/recovery-codes`)).body);
    t.equal(fresh.length, 10);
    t.same(
      fresh.filter((c) => firstCodes.includes(c)),
      [],
      'all new',
    );
    const service = await totp();
    await t.rejects(service.verify(ann.id, firstCodes[0]), { code: 'mfa_invalid_code' }, 'an old code no longer works');
    t.same(await service.verify(ann.id, fresh[0]), { method: 'recovery', remainingRecoveryCodes: 9 }, 'a new one does');
    t.equal(
      (await w.org.store.audit.list({ userId: ann.id, type: 'mfa.recovery_codes_regenerated' })).length,
      1,
      'audited',
    );
  });

  await t.test('a new authenticator app replaces the old one; recovery codes stay', async (t) => {
    clock.advance(30_000);
    const shown = await browser.get(`${w.base}/account/authenticator`);
    t.equal(shown.statusCode, 200);
    const newKey = keyOn(shown.body);
    t.not(newKey, key);
    const ok = await browser.post(`${w.base}/account/authenticator`, { code: oathtool(newKey, clock.now()) });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/account?done=authenticator', 'no new recovery codes for a replaced app');
    t.equal(await (await totp()).recoveryCodesLeft(ann.id), 9);
    clock.advance(30_000);
    await t.rejects(
      (await totp()).verify(ann.id, oathtool(key, clock.now())),
      { code: 'mfa_invalid_code' },
      "the old app's codes stop working",
    );
    clock.advance(30_000);
    t.same(
      await (await totp()).verify(ann.id, oathtool(newKey, clock.now())),
      { method: 'totp' },
      "the new one's work",
    );
    const enrolled = await w.org.store.audit.list({ userId: ann.id, type: 'mfa.enrolled' });
    t.same(
      enrolled.map((e) => e.details.replaced),
      [true, false],
      'audited, as a replacement',
    );
    const replay = await browser.post(`${w.base}/account/authenticator`, { code: oathtool(newKey, clock.now()) });
    t.equal(replay.statusCode, 400, 'the setup cannot be posted again');
    t.match(replay.body, /no new authenticator being set up/);
  });

  await t.test('the fresh check lapses after 5 minutes', async (t) => {
    clock.advance(301_000);
    const page = await browser.get(`${w.base}/account/authenticator`);
    t.equal(page.statusCode, 400);
    t.match(page.body, /first confirm it is you/);
  });

  await t.test("remembered devices: listed, forgotten; another user's device is not", async (t) => {
    const devices = devicesFor(w.ta.ctx, w.org.store);
    const mine = await devices.remember(ann.id, 30, 'Firefox on Linux');
    const bob = await w.org.store.users.create({ email: 'bob@customer.example' });
    await devices.remember(bob.id, 30, 'Safari on iOS');
    const bobs = (await devices.list(bob.id))[0];
    const page = await browser.get(`${w.base}/account`);
    t.match(page.body, /Firefox on Linux/);
    t.notMatch(page.body, /Safari on iOS/, "only the user's own devices");
    const refused = await browser.post(`${w.base}/account/devices/${bobs.id}/revoke`, {});
    t.equal(refused.statusCode, 404);
    t.match(refused.body, /device_not_found/);
    t.equal((await devices.list(bob.id)).length, 1, "bob's device stays");
    const done = await browser.post(`${w.base}/account/devices/${(await devices.list(ann.id))[0].id}/revoke`, {});
    t.equal(done.statusCode, 303);
    t.equal(done.headers.location, '/account?done=device');
    t.equal(await devices.check(mine.cookie, ann.id), false, 'the cookie no longer skips the factor');
    t.notMatch((await browser.get(`${w.base}/account`)).body, /Firefox on Linux/);
  });

  await t.test('a sign-in to an app is listed with the app and the IdP', async (t) => {
    clock.set(new Date()); // the app checks the Response against the real clock
    const start = await browser.get(await sp.getAuthorizeUrlAsync('relay', undefined, {}));
    t.equal(start.statusCode, 303, 'the broker session serves the app');
    const cont = await browser.get(`${w.base}${start.headers.location}`);
    await appReceives(sp, cont);
    const page = await browser.get(`${w.base}/account`);
    t.match(page.body, /<td data-label="To">Jira<\/td><td data-label="Through">Okta<\/td>/);
    t.equal(app.name, 'Jira');
    t.equal(idp.name, 'Okta');
  });

  await t.test('a form from another origin is refused', async (t) => {
    const res = await w.ta.app.inject({
      method: 'POST',
      url: '/account/recovery-codes',
      headers: {
        host: new URL(w.base).host,
        origin: 'http://evil.example',
        cookie: `broker_session=${browser.cookies(new URL(w.base).host).get('broker_session')}`,
      },
    });
    t.equal(res.statusCode, 403);
    t.match(res.body, /cross_origin_form/);
    const sibling = await w.ta.app.inject({
      method: 'POST',
      url: '/account/recovery-codes',
      headers: {
        host: new URL(w.base).host,
        'sec-fetch-site': 'same-site',
        cookie: `broker_session=${browser.cookies(new URL(w.base).host).get('broker_session')}`,
      },
    });
    t.equal(sibling.statusCode, 403, "also from another organisation's subdomain (same-site)");
  });

  await t.test('the session cookie of one organisation opens nothing in another', async (t) => {
    const other = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
    t.ok(other);
    const res = await w.ta.app.inject({
      method: 'GET',
      url: '/account',
      headers: {
        host: `hooli.${w.ta.config.baseDomain}`,
        cookie: `broker_session=${browser.cookies(new URL(w.base).host).get('broker_session')}`,
      },
    });
    t.not(res.statusCode, 200, 'no account page');
    t.notMatch(res.body, /ann@customer\.example/);
  });

  await t.test('without a session, the forms lead back to the sign-in', async (t) => {
    const stranger = new Browser(w.ta);
    const res = await stranger.post(`${w.base}/account/recovery-codes`, {});
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/account');
  });
});

t.test('account sign-in with several IdPs: the chooser names the account; a disabled user is refused', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  await w.addIdp('Entra', { emailDomains: ['other.example'] });
  const { app } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true, 30) });
  const user = await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  const start = await browser.get(`${w.base}/account`);
  t.equal(start.statusCode, 303);
  const chooser = await browser.get(`${w.base}${start.headers.location}`);
  t.match(chooser.body, /Sign in to your account/);
  const picked = await browser.post(`${w.base}${start.headers.location}`, { email: 'ann@customer.example' });
  t.equal(picked.statusCode, 302);
  await w.org.store.users.update(user.id, { status: 'disabled' });
  const acs = await idpAnswers(w, browser, fake, String(picked.headers.location));
  const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
  t.equal(cont.statusCode, 403);
  t.match(cont.body, /disabled/);
  t.notOk(browser.cookies(new URL(w.base).host).get('broker_session'), 'no session');
});

t.test(
  'account page passkeys: added after a check, refused without one or replayed; the check by passkey',
  async (t) => {
    const { w, ann, browser, origin } = await annOnTheAccountPage(t);
    const key = new SoftAuthenticator();

    // No factor yet: the first passkey needs no check (there is nothing to check with).
    const first = await browser.get(`${w.base}/account/passkeys/new`);
    t.equal(first.statusCode, 200);
    t.match(first.body, /src="\/assets\/simplewebauthn-browser.js"/, 'the browser library comes from the broker');
    const answer = JSON.stringify(key.create(passkeyOptionsOn(first.body), origin));
    const added = await browser.post(`${w.base}/account/passkeys`, { passkey: answer, passkeyName: 'Blue key' });
    t.equal(added.statusCode, 303);
    t.equal(added.headers.location, '/account/recovery-codes', 'a first second factor: its recovery codes follow');
    t.same(
      (await w.org.store.webauthn.list(ann.id)).map((c) => c.name),
      ['Blue key'],
    );
    const codesPage = await browser.get(`${w.base}/account/recovery-codes`);
    const codes = [...codesPage.body.matchAll(/<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2})<\/li>/g)].map((m) => m[1]);
    t.equal(codes.length, 10, 'ten codes, shown once');
    t.match(codesPage.body, /lose your authenticator app, passkey or security key/);
    t.equal(
      [...(await browser.get(`${w.base}/account/recovery-codes`)).body.matchAll(/<li>[a-z2-9]{4}-/g)].length,
      0,
      'not shown again on reload',
    );
    t.equal((await w.org.store.audit.list({ userId: ann.id, type: 'mfa.recovery_codes_issued' })).length, 1, 'audited');
    t.match(
      (await browser.get(`${w.base}/account`)).body,
      /<strong>10<\/strong> of 10 recovery codes are unused/,
      'the account page counts them',
    );
    const replay = await browser.post(`${w.base}/account/passkeys`, { passkey: answer, passkeyName: 'Blue key' });
    t.equal(replay.statusCode, 400, 'the same answer again: refused (the user has a factor now, so first the check)');
    t.match(replay.body, /first confirm it is you/);

    // Now a factor exists: another passkey needs the check first, which a passkey can give.
    const second = await browser.get(`${w.base}/account/passkeys/new`);
    t.equal(second.statusCode, 400);
    t.match(second.body, /first confirm it is you/);
    const check = await browser.get(`${w.base}/account`);
    t.match(check.body, /Confirm with your passkey/);
    const wrongOrigin = await browser.post(`${w.base}/account/check`, {
      passkey: JSON.stringify(key.get(passkeyOptionsOn(check.body), 'https://piedpipers.evil.example')),
    });
    t.equal(wrongOrigin.statusCode, 400);
    t.match(wrongOrigin.body, /made for another website/);
    const again = await browser.get(`${w.base}/account`);
    const checked = await browser.post(`${w.base}/account/check`, {
      passkey: JSON.stringify(key.get(passkeyOptionsOn(again.body), origin)),
    });
    t.equal(checked.statusCode, 303);
    t.equal(checked.headers.location, '/account?done=checked');
    const replayChecked = await browser.post(`${w.base}/account/passkeys`, {
      passkey: answer,
      passkeyName: 'Blue key',
    });
    t.equal(replayChecked.statusCode, 400, 'after the check, the old answer is still refused');
    t.match(replayChecked.body, /There is no passkey request waiting here|answered another request|already answered/);
    const next = await browser.get(`${w.base}/account/passkeys/new`);
    t.equal(next.statusCode, 200);
    const phone = await browser.post(`${w.base}/account/passkeys`, {
      passkey: JSON.stringify(key.create(passkeyOptionsOn(next.body), origin)),
      passkeyName: '',
    });
    t.equal(phone.statusCode, 400, 'a passkey needs a name');
    t.match(phone.body, /Give the passkey a name/);
    t.equal((await w.org.store.webauthn.list(ann.id)).length, 1);
    const named = await browser.post(`${w.base}/account/passkeys`, {
      passkey: JSON.stringify(key.create(passkeyOptionsOn(phone.body), origin)),
      passkeyName: 'Phone',
    });
    t.equal(
      named.headers.location,
      '/account?done=passkey-added',
      'a second passkey: the codes stay as they are, none shown',
    );
    t.equal((await w.org.store.webauthn.list(ann.id)).length, 2);
    // A passkey-only user makes new recovery codes after the check, like a user with an app.
    const renewed = await browser.post(`${w.base}/account/recovery-codes`, {});
    t.equal(renewed.headers.location, '/account/recovery-codes');
    const fresh = [
      ...(await browser.get(`${w.base}/account/recovery-codes`)).body.matchAll(
        /<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2})<\/li>/g,
      ),
    ].map((m) => m[1]);
    t.equal(fresh.length, 10);
    t.notSame(fresh, codes, 'a new set');
  },
);

// Issue 23: a passkey-only user who lost their only passkey passes the fresh check with a recovery code (spent once,
// audited) and adds a new passkey themselves; a wrong or spent code is refused and audited.
t.test('account page: a passkey-only user who lost the key confirms with a recovery code, then adds one', async (t) => {
  const { w, ann, browser, origin } = await annOnTheAccountPage(t);
  const totp = async () => totpFor(w.ta.ctx, (await w.ta.ctx.store.organizations.findById(w.org.org.id))!, w.org.store);

  const lost = new SoftAuthenticator();
  const first = await browser.get(`${w.base}/account/passkeys/new`);
  const added = await browser.post(`${w.base}/account/passkeys`, {
    passkey: JSON.stringify(lost.create(passkeyOptionsOn(first.body), origin)),
    passkeyName: 'Lost key',
  });
  t.equal(added.headers.location, '/account/recovery-codes');
  const codes = codesOn((await browser.get(`${w.base}/account/recovery-codes`)).body);
  t.equal(codes.length, 10);
  t.equal((await (await totp()).status(ann.id)).state, 'none', 'no authenticator app');

  // The key is gone (the soft authenticator is not used again): the page offers a recovery code beside the passkey.
  const page = await browser.get(`${w.base}/account`);
  t.match(page.body, /Confirm with your passkey/);
  t.match(page.body, /Lost your passkey\? Confirm it is you with one of your recovery codes/);
  t.equal((await browser.get(`${w.base}/account/passkeys/new`)).statusCode, 400, 'no new passkey without the check');

  const wrong = await browser.post(`${w.base}/account/check`, { code: 'aaaa-bbbb-cc' });
  t.equal(wrong.statusCode, 400);
  t.match(wrong.body, /That recovery code is not valid or was already used/);
  t.match(await w.org.store.audit.list({ userId: ann.id, type: 'mfa.verify_failed' }), [
    { outcome: 'failure', code: 'mfa_invalid_code', details: { for: 'account' } },
  ]);

  const checked = await browser.post(`${w.base}/account/check`, { code: codes[0].toUpperCase() });
  t.equal(checked.statusCode, 303, 'a recovery code is the check');
  t.equal(checked.headers.location, '/account?done=checked');
  t.match(await w.org.store.audit.list({ userId: ann.id, type: 'mfa.verified' }), [
    { details: { method: 'recovery', for: 'account', remainingRecoveryCodes: 9 } },
  ]);
  t.match((await browser.get(`${w.base}/account`)).body, /<strong>9<\/strong> of 10 recovery codes are unused/);

  const replacement = new SoftAuthenticator();
  const next = await browser.get(`${w.base}/account/passkeys/new`);
  t.equal(next.statusCode, 200, 'now a new passkey can be added');
  const phone = await browser.post(`${w.base}/account/passkeys`, {
    passkey: JSON.stringify(replacement.create(passkeyOptionsOn(next.body), origin)),
    passkeyName: 'New phone',
  });
  t.equal(phone.headers.location, '/account?done=passkey-added', 'the remaining codes stay; none shown');
  const [old] = (await w.org.store.webauthn.list(ann.id)).filter((c) => c.name === 'Lost key');
  t.equal((await browser.post(`${w.base}/account/passkeys/${old.id}/remove`, {})).statusCode, 303);
  t.same(
    (await w.org.store.webauthn.list(ann.id)).map((c) => c.name),
    ['New phone'],
    'the lost key is removed, the new one kept',
  );

  // The check lapses; the spent code does not give another.
  w.ta.clock.advance(301_000);
  const spent = await browser.post(`${w.base}/account/check`, { code: codes[0] });
  t.equal(spent.statusCode, 400, 'a recovery code works once');
  t.match(spent.body, /not valid or was already used/);
  t.equal(await (await totp()).recoveryCodesLeft(ann.id), 9);
});
