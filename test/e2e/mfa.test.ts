// The app login policy and the TOTP second factor in the brokered flow, through HTTP, with codes computed by
// oathtool from the key shown on the enrolment page; and the ways around it that must not exist.
import t from 'tap';
import { oathtool } from '../helpers/oathtool.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { createOrg } from '../helpers/context.ts';
import { appReceives, createWorld, idpAnswers, type World } from '../helpers/sso-world.ts';
import { setTwoFactor } from '../../src/policy/two-factor-toggle.ts';
import type { FakeIdp } from '../helpers/fake-idp.ts';
import type { SAML } from '@node-saml/node-saml';
import { pressReturn } from '../helpers/return-to-app.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const keyOn = (html: string) => /id="manual-key"[^>]*>([A-Z2-7 ]+)</.exec(html)![1];
const qrOn = (html: string) => /<img src="(data:image\/png;base64,[^"]+)"/.exec(html)![1];
const noticeOn = (html: string) => /id="code-notice">([^<]*)</.exec(html)?.[1];

/** From the app's request to the page after the upstream IdP (the continue step), in a given browser. */
async function upTo2fa(w: World, browser: Browser, sp: SAML, idp: FakeIdp) {
  const start = await browser.get(await sp.getAuthorizeUrlAsync('relay-2fa', undefined, {}));
  const acs = await idpAnswers(w, browser, idp, String(start.headers.location));
  const cont = await browser.get(`${w.base}${acs.res.headers.location}`);
  return { acs, cont, flowPath: String(acs.res.headers.location).replace('/continue', '') };
}

t.test('2FA enabled for an app: enrol, then verify; nothing reaches the app without the code', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true, 30) });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const now = () => w.ta.clock.now();
  let key = '';
  // Each login's codes must belong to a newer time step than the one before (a step, once used, and every older one
  // are spent), while the upstream IdP's assertion and the app's check of the Response run on the real clock. So each
  // login meets the IdP at the real time, then its code pages run some 30-second steps back (the Response stays valid
  // in real time), a step later than the login before.
  const realStart = now().getTime();
  const stepsBack = (steps: number) => w.ta.clock.set(new Date(realStart - steps * 30_000));
  const backToReal = () => w.ta.clock.set(new Date(realStart));

  await t.test('first login: enrolment page (branded, QR and manual key), confirmed by an oathtool code', async (t) => {
    const browser = new Browser(w.ta);
    const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
    t.equal(cont.statusCode, 303);
    t.equal(cont.headers.location, `${flowPath}/mfa`);
    stepsBack(8);
    t.teardown(backToReal);
    const enrol = await browser.get(`${w.base}${flowPath}/mfa`);
    t.equal(enrol.statusCode, 200);
    t.match(enrol.body, /Set up two-factor authentication/);
    t.match(enrol.body, /<img src="data:image\/png;base64,/);
    t.match(enrol.body, /Pied Pipers/, 'branded');
    key = keyOn(enrol.body);
    t.match(key, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);

    t.test('the continue step cannot be replayed to skip the second factor', async (t) => {
      t.equal((await browser.get(`${w.base}${flowPath}/continue`)).statusCode, 410);
      t.equal((await browser.post(`${w.base}${flowPath}/finish`, {})).statusCode, 410, 'finish before a code');
    });

    const qr = qrOn(enrol.body);
    const reload = await browser.get(`${w.base}${flowPath}/mfa`);
    t.equal(keyOn(reload.body), key, 'a reload shows the same key');
    t.equal(qrOn(reload.body), qr, 'and the same QR code (the same otpauth URI)');
    const wrong = await browser.post(`${w.base}${flowPath}/mfa`, {
      code: oathtool(key, now()) === '000000' ? '111111' : '000000',
    });
    t.equal(wrong.statusCode, 400);
    t.match(wrong.body, /That code is not right/);
    t.equal(keyOn(wrong.body), key, 'a wrong code keeps the key the user scanned');
    t.equal(qrOn(wrong.body), qr);
    t.notMatch(wrong.body, /One more wrong code/, 'no warning with tries left');
    const ok = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, now()) });
    t.equal(ok.statusCode, 200);
    const codes = [...ok.body.matchAll(/<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2})<\/li>/g)].map((m) => m[1]);
    t.equal(codes.length, 10, 'ten recovery codes shown once');
    const replay = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, now()) });
    t.equal(replay.statusCode, 410, 'the enrolment form cannot be replayed');
    const fin = await browser.post(`${w.base}${flowPath}/finish`, {});
    const { form, profile } = await appReceives(sp, fin);
    t.equal(profile.nameID, 'ann@customer.example');
    t.equal(form.fields.RelayState, 'relay-2fa');
    t.equal((await browser.post(`${w.base}${flowPath}/finish`, {})).statusCode, 410, 'finish works once');
  });

  await t.test('later login: verification page; a remembered device skips it next time', async (t) => {
    const browser = new Browser(w.ta);
    const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
    const verify = await browser.get(`${w.base}${cont.headers.location}`);
    t.match(verify.body, /Enter the 6-digit code/);
    t.match(verify.body, /Remember this device for 30 days/);
    stepsBack(7);
    const reused = await browser.post(`${w.base}${flowPath}/mfa`, {
      code: oathtool(key, new Date(now().getTime() - 30_000)),
    });
    t.equal(reused.statusCode, 400);
    t.match(reused.body, /already used/, 'the enrolment step cannot be used again (one step back: inside the window)');
    const ok = await browser.post(`${w.base}${flowPath}/mfa`, {
      code: oathtool(key, new Date(now().getTime() + 30_000)),
      remember: 'on',
    });
    const { profile } = await appReceives(sp, ok);
    backToReal();
    t.equal(profile.nameID, 'ann@customer.example');
    const device = browser.cookies(new URL(w.base).host).get('broker_device');
    t.ok(device, 'a remembered-device cookie was set');

    const again = new Browser(w.ta);
    // same device (its cookie), new browser session: no second factor asked
    (again as unknown as { jar: Map<string, Map<string, string>> }).jar.set(
      new URL(w.base).host,
      new Map([['broker_device', device!]]),
    );
    const { cont: c2 } = await upTo2fa(w, again, sp, fake);
    const direct = await appReceives(sp, c2);
    t.equal(direct.profile.nameID, 'ann@customer.example', 'the remembered device counted');

    const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
    await w.org.store.devices.revoke(user.id, null, now());
    const third = new Browser(w.ta);
    (third as unknown as { jar: Map<string, Map<string, string>> }).jar.set(
      new URL(w.base).host,
      new Map([['broker_device', device!]]),
    );
    const { cont: c3 } = await upTo2fa(w, third, sp, fake);
    t.match(String(c3.headers.location), /\/mfa$/, 'a revoked device no longer counts');
  });

  await t.test(
    'the broker session remembers the factor for a second app, unless its rule wants a fresh one',
    async (t) => {
      const browser = new Browser(w.ta);
      const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
      await browser.get(`${w.base}${cont.headers.location}`);
      stepsBack(4);
      t.teardown(backToReal);
      await appReceives(
        sp,
        await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(now().getTime() - 30_000)) }),
      );
      const { app: confluence, sp: confluenceSp } = await w.addApp('Confluence');
      await w.org.store.applications.update(confluence.id, { policy: setTwoFactor([], true) });
      const start = await browser.get(await confluenceSp.getAuthorizeUrlAsync('', undefined, {}));
      const { res } = await browser.follow(start, w.base);
      const { profile } = await appReceives(confluenceSp, res);
      t.equal(profile.nameID, 'ann@customer.example', 'no second factor asked again');
      const { app: vault, sp: vaultSp } = await w.addApp('Vault');
      await w.org.store.applications.update(vault.id, {
        policy: [{ id: 'fresh', action: 'require_totp', conditions: {}, freshFactor: true }],
      });
      const s2 = await browser.get(await vaultSp.getAuthorizeUrlAsync('', undefined, {}));
      const { res: r2 } = await browser.follow(s2, w.base);
      t.match(r2.body, /Two-factor authentication/, 'a rule demanding a fresh factor asks again');
      t.notOk(formIn(r2.body)?.fields.SAMLResponse);

      const { SAML } = await import('@node-saml/node-saml');
      const passiveVault = new SAML({ ...(vaultSp as unknown as { options: object }).options, passive: true } as never);
      const s3 = await browser.get(await passiveVault.getAuthorizeUrlAsync('', undefined, {}));
      const { res: r3 } = await browser.follow(s3, w.base);
      t.ok(
        (await w.org.store.audit.list({ type: 'login.denied' })).some((e) => e.code === 'mfa_required_passive'),
        'IsPassive: no page, so NoPassive (posted at once) instead of a TOTP page',
      );
      t.match(Buffer.from(formIn(r3.body)!.fields.SAMLResponse, 'base64').toString(), /status:NoPassive/);
    },
  );

  await t.test(
    'two valid codes posted at once on one flow: one Response; the other finds the flow completed or its step spent',
    async (t) => {
      const browser = new Browser(w.ta);
      const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
      await browser.get(`${w.base}${cont.headers.location}`);
      // Steps newer than the last login's (its code was 5 steps back), still valid Responses for the app's real clock.
      stepsBack(2);
      t.teardown(backToReal);
      const at = now().getTime();
      const both = await Promise.all(
        [at - 30_000, at + 30_000].map((ms) =>
          browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(ms)) }),
        ),
      );
      const responses = both.filter((r) => formIn(r.body)?.fields.SAMLResponse);
      t.equal(responses.length, 1, 'exactly one Response');
      const other = both.find((r) => !formIn(r.body)?.fields.SAMLResponse)!;
      // The older step loses if the newer one was accepted first; otherwise both codes pass and the flow moves once.
      t.ok(
        (other.statusCode === 410 && codeOf(other.body) === 'flow_not_found') ||
          (other.statusCode === 400 && /already used/.test(other.body)),
        `the other request: ${other.statusCode}`,
      );
      const { profile } = await appReceives(sp, responses[0]);
      t.equal(profile.nameID, 'ann@customer.example');
      const again = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(at)) });
      t.equal(again.statusCode, 410, 'the completed flow takes no further code');
      const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
      const flowId = flowPath.split('/')[2];
      const lines = (await w.org.store.audit.list({ userId: user.id })).filter((e) => e.flowId === flowId);
      t.same(lines.filter((e) => e.type === 'login.success').length, 1, 'one login.success for the flow');
      t.ok(
        lines.some((e) => e.type === 'mfa.verified' && (e.details as { method?: string }).method === 'totp'),
        'the verification is audited with its method',
      );
    },
  );

  await t.test(
    'wrong codes: a warning before the last try, then a lock whose page says how long is left; audited',
    async (t) => {
      const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
      await w.org.store.totp.resetFailures(user.id); // the race above may have left one refusal counted
      const browser = new Browser(w.ta);
      const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
      t.equal(
        noticeOn((await browser.get(`${w.base}${cont.headers.location}`)).body),
        undefined,
        'no notice before any failure',
      );
      let last;
      for (let i = 0; i < 3; i++) last = await browser.post(`${w.base}${flowPath}/mfa`, { code: '99999' + i });
      t.equal(noticeOn(last!.body), undefined, 'two tries left: no warning yet');
      last = await browser.post(`${w.base}${flowPath}/mfa`, { code: '999993' });
      t.equal(last.statusCode, 400);
      t.match(last.body, /That code is not right/);
      t.equal(
        noticeOn(last.body),
        'One more wrong code locks two-factor sign-in for 15 minutes.',
        'the last try is announced',
      );
      t.equal(
        noticeOn((await browser.get(`${w.base}${flowPath}/mfa`)).body),
        'One more wrong code locks two-factor sign-in for 15 minutes.',
        'also on a reload',
      );
      last = await browser.post(`${w.base}${flowPath}/mfa`, { code: '999994' });
      t.equal(last.statusCode, 423);
      t.match(last.body, /Too many wrong codes: two-factor sign-in is locked\. Try again in 15 minutes\./);
      t.equal(noticeOn(last.body), undefined, 'the lock is said once');
      t.notMatch(last.body, /UTC/, 'no clock time');
      const right = await browser.post(`${w.base}${flowPath}/mfa`, {
        code: oathtool(key, new Date(now().getTime() + 30_000)),
      });
      t.equal(right.statusCode, 410, 'the lock ended the flow: not even the right code continues it');
      t.notOk(formIn(right.body)?.fields.SAMLResponse);
      // The lock ended that flow (the app hears back); a new sign-in meets the lock, and its page says how long is left.
      const newSignIn = async () => {
        const b = new Browser(w.ta);
        const { cont } = await upTo2fa(w, b, sp, fake);
        return (await b.get(`${w.base}${cont.headers.location}`)).body;
      };
      w.ta.clock.advance(61_000);
      t.equal(
        noticeOn(await newSignIn()),
        'Too many wrong codes: two-factor sign-in is locked. Try again in 14 minutes.',
        'the page says how long is left, by the clock',
      );
      // "1 minute" and "less than a minute" are checked in test/unit/lockout-wording.test.ts.
      t.equal((await w.org.store.audit.list({ type: 'mfa.locked', userId: user.id })).length, 1);
    },
  );
});

t.test(
  'enrolment in two browsers: the later one owns the setup; the earlier one is told so and enrols nothing',
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
    const { app, sp } = await w.addApp('Jira');
    await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true) });
    const ann = await w.org.store.users.create({ email: 'ann@customer.example' });
    const now = () => w.ta.clock.now();
    const wrongFor = (key: string) => (oathtool(key, now()) === '000000' ? '111111' : '000000');
    const first = new Browser(w.ta);
    const a = await upTo2fa(w, first, sp, fake);
    const keyA = keyOn((await first.get(`${w.base}${a.flowPath}/mfa`)).body);
    const second = new Browser(w.ta);
    const b = await upTo2fa(w, second, sp, fake);
    const keyB = keyOn((await second.get(`${w.base}${b.flowPath}/mfa`)).body);
    t.not(keyB, keyA, 'another login shows another key');

    const late = await first.post(`${w.base}${a.flowPath}/mfa`, { code: oathtool(keyA, now()) });
    t.equal(late.statusCode, 409, "the first browser's key no longer works");
    t.match(late.body, /id="code-error">Two-factor setup was started again in another window or browser/);
    t.notMatch(late.body, /id="manual-key"|<img src="data:/, 'and no key is shown there');
    t.match(late.body, `href="${a.flowPath}/mfa">Start again here</a>`);
    t.equal(
      (await first.post(`${w.base}${a.flowPath}/mfa`, { code: oathtool(keyB, now()) })).statusCode,
      409,
      "nor can it enrol the second browser's key",
    );
    t.match(
      await w.org.store.totp.find(ann.id),
      { status: 'pending', failedAttempts: 0 },
      'nothing enrolled, nothing counted',
    );
    const refused = await w.org.store.audit.list({ type: 'mfa.enrol_failed', userId: ann.id });
    t.same(
      refused.map((e) => e.code),
      ['mfa_enrolment_replaced', 'mfa_enrolment_replaced'],
    );

    let page;
    for (let i = 0; i < 4; i++) page = await second.post(`${w.base}${b.flowPath}/mfa`, { code: wrongFor(keyB) });
    t.equal(keyOn(page!.body), keyB, 'wrong codes keep the key');
    t.equal(
      noticeOn(page!.body),
      'One more wrong code locks two-factor sign-in for 15 minutes.',
      'enrolment failures count, and the last try is announced',
    );

    const restart = await first.get(`${w.base}${a.flowPath}/mfa`);
    const keyC = keyOn(restart.body);
    t.ok(keyC !== keyA && keyC !== keyB, 'starting again in the first browser shows a new key');
    t.equal(
      noticeOn(restart.body),
      'One more wrong code locks two-factor sign-in for 15 minutes.',
      'a new login does not lift the count',
    );
    t.equal(
      (await second.post(`${w.base}${b.flowPath}/mfa`, { code: oathtool(keyB, now()) })).statusCode,
      409,
      "now the second browser's key is the replaced one",
    );
    const ok = await first.post(`${w.base}${a.flowPath}/mfa`, { code: oathtool(keyC, now()) });
    t.equal(ok.statusCode, 200);
    t.match(ok.body, /Save your recovery codes/);
    const { profile } = await appReceives(sp, await first.post(`${w.base}${a.flowPath}/finish`, {}));
    t.equal(profile.nameID, 'ann@customer.example');
    const after = await second.post(`${w.base}${b.flowPath}/mfa`, { code: oathtool(keyB, now()) });
    t.equal(after.statusCode, 409);
    t.equal(
      codeOf(after.body),
      'mfa_already_enrolled',
      'the factor that is on is never replaced from the other browser',
    );
    t.match(await w.org.store.totp.find(ann.id), { status: 'active' });
  },
);

t.test('must hold: no Response without the code, whatever is posted where', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true) });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  await w.org.store.users.create({ email: 'mallory@customer.example' });
  const hooli = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
  t.ok(hooli);

  const victim = new Browser(w.ta);
  const { flowPath } = await upTo2fa(w, victim, sp, fake);
  const mfaUrl = `${w.base}${flowPath}/mfa`;

  t.test("another browser cannot use the victim's flow id", async (t) => {
    const attacker = new Browser(w.ta);
    for (const res of [await attacker.get(mfaUrl), await attacker.post(mfaUrl, { code: '123456' })]) {
      t.equal(res.statusCode, 403);
      t.equal(codeOf(res.body), 'flow_browser_mismatch');
    }
    const finish = await attacker.post(`${w.base}${flowPath}/finish`, {});
    t.equal(finish.statusCode, 410, 'finish only exists for a flow whose code was verified');
    t.notOk(formIn(finish.body)?.fields.SAMLResponse);
  });

  t.test("an attacker's own completed second factor does not unlock the victim's flow", async (t) => {
    const attacker = new Browser(w.ta);
    const mine = await upTo2fa(w, attacker, sp, fake);
    t.ok(mine);
    // the attacker's browser cookie with the victim's flow id
    const res = await attacker.post(mfaUrl, { code: '000000' });
    t.equal(res.statusCode, 403);
  });

  t.test("the same flow id on another organisation's host finds nothing", async (t) => {
    const res = await victim.post(mfaUrl.replace('piedpipers.', 'hooli.'), { code: '123456' });
    t.equal(res.statusCode, 410);
    const fin = await victim.post(`${w.base.replace('piedpipers.', 'hooli.')}${flowPath}/finish`, {});
    t.equal(fin.statusCode, 410);
  });

  t.test('no later endpoint issues a Response before the code', async (t) => {
    t.equal((await victim.get(`${w.base}${flowPath}/continue`)).statusCode, 410);
    t.equal((await victim.post(`${w.base}${flowPath}/finish`, {})).statusCode, 410);
    t.equal((await victim.post(`${w.base}${flowPath}/idp`, { idpId: 'x' })).statusCode, 410);
    const acs = await victim.post(
      w.org.urls.spAcs,
      {
        SAMLResponse: await fake.response({
          acsUrl: w.org.urls.spAcs,
          audience: w.org.urls.spEntityId,
          inResponseTo: null,
        }),
        RelayState: flowPath.split('/')[2],
      },
      { crossSite: true },
    );
    // Refused as a re-post (the Back button's case: flow_already_used, audited) and sent to the restart page; it
    // never re-enters the flow, which still waits for its code.
    const flowId = flowPath.split('/')[2];
    t.equal(acs.statusCode, 303, 'a fresh upstream response cannot re-enter a flow waiting for its second factor');
    t.equal(acs.headers.location, `/flow/${flowId}/restart`, 'it is sent to the restart page');
    t.notMatch(acs.body, /SAMLResponse/);
    const refused = await w.ta.ctx.store.db.auditEvent.findMany({ where: { code: 'flow_already_used' } });
    t.equal(refused.length, 1, 'the refusal is audited');
    const waiting = await w.ta.ctx.store.db.loginFlow.findUnique({ where: { id: flowId } });
    t.match(waiting?.stage, /^mfa/, 'the flow still waits for its second factor');
    const flows = await w.ta.ctx.store.db.loginFlow.findMany({ where: { stage: 'completed' } });
    t.equal(flows.length, 0, 'no flow completed');
  });

  t.test('a session created without the factor does not count as one', async (t) => {
    const sessions = await w.ta.ctx.store.db.brokerSession.findMany({});
    t.equal(sessions.length, 0, 'no broker session exists before the second factor');
  });
});

t.test('policy deny: branded page for the user, RequestDenied for the app, audited with the rule', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['partner.example'] });
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, {
    policy: [
      {
        id: 'no-partners',
        action: 'deny',
        conditions: { emailDomains: ['partner.example'] },
        message: 'Partners use the partner portal.',
      },
    ],
  });
  await w.org.store.users.create({ email: 'pat@partner.example' });
  const browser = new Browser(w.ta);
  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location), {
    email: 'pat@partner.example',
    attributes: { Email: ['pat@partner.example'] },
  });
  const { res } = await browser.follow(acs.res, w.base);
  t.equal(res.statusCode, 403);
  t.match(res.body, /Partners use the partner portal\./);
  t.equal(codeOf(res.body), 'policy_denied');
  const samlResponse = formIn((await pressReturn(browser, w.base, res)).body)!.fields.SAMLResponse;
  t.match(Buffer.from(samlResponse, 'base64').toString(), /status:RequestDenied/);
  const decisions = await w.org.store.audit.list({ type: 'policy.decision' });
  t.match(decisions[0].details, { action: 'deny', rule: { id: 'no-partners', index: 0 } });
});
