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
  const { fake } = await w.addIdp('Okta');
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true, 30) });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const now = () => w.ta.clock.now();
  let key = '';

  await t.test('first login: enrolment page (branded, QR and manual key), confirmed by an oathtool code', async (t) => {
    const browser = new Browser(w.ta);
    const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
    t.equal(cont.statusCode, 303);
    t.equal(cont.headers.location, `${flowPath}/mfa`);
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

    const wrong = await browser.post(`${w.base}${flowPath}/mfa`, { code: '000000' });
    t.equal(wrong.statusCode, 400);
    t.match(wrong.body, /That code is not right/);
    key = keyOn(wrong.body); // the page shows a fresh key after a failed confirmation
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
    const reused = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, now()) });
    t.equal(reused.statusCode, 400);
    t.match(reused.body, /already used/, 'the enrolment step cannot be used again');
    const ok = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(now().getTime() + 30_000)), remember: 'on' });
    const { profile } = await appReceives(sp, ok);
    t.equal(profile.nameID, 'ann@customer.example');
    const device = browser.cookies(new URL(w.base).host).get('broker_device');
    t.ok(device, 'a remembered-device cookie was set');

    const again = new Browser(w.ta);
    // same device (its cookie), new browser session: no second factor asked
    (again as unknown as { jar: Map<string, Map<string, string>> }).jar.set(new URL(w.base).host, new Map([['broker_device', device!]]));
    const { cont: c2 } = await upTo2fa(w, again, sp, fake);
    const direct = await appReceives(sp, c2);
    t.equal(direct.profile.nameID, 'ann@customer.example', 'the remembered device counted');

    const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
    await w.org.store.devices.revoke(user.id, null, now());
    const third = new Browser(w.ta);
    (third as unknown as { jar: Map<string, Map<string, string>> }).jar.set(new URL(w.base).host, new Map([['broker_device', device!]]));
    const { cont: c3 } = await upTo2fa(w, third, sp, fake);
    t.match(String(c3.headers.location), /\/mfa$/, 'a revoked device no longer counts');
  });

  await t.test('the broker session remembers the factor for a second app, unless its rule wants a fresh one', async (t) => {
    const browser = new Browser(w.ta);
    const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
    await browser.get(`${w.base}${cont.headers.location}`);
    await appReceives(sp, await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(now().getTime() - 30_000)) }));
    const { app: confluence, sp: confluenceSp } = await w.addApp('Confluence');
    await w.org.store.applications.update(confluence.id, { policy: setTwoFactor([], true) });
    const start = await browser.get(await confluenceSp.getAuthorizeUrlAsync('', undefined, {}));
    const { res } = await browser.follow(start, w.base);
    const { profile } = await appReceives(confluenceSp, res);
    t.equal(profile.nameID, 'ann@customer.example', 'no second factor asked again');
    const { app: vault, sp: vaultSp } = await w.addApp('Vault');
    await w.org.store.applications.update(vault.id, { policy: [{ id: 'fresh', action: 'require_totp', conditions: {}, freshFactor: true }] });
    const s2 = await browser.get(await vaultSp.getAuthorizeUrlAsync('', undefined, {}));
    const { res: r2 } = await browser.follow(s2, w.base);
    t.match(r2.body, /Two-factor authentication/, 'a rule demanding a fresh factor asks again');
    t.notOk(formIn(r2.body)?.fields.SAMLResponse);

    const { SAML } = await import('@node-saml/node-saml');
    const passiveVault = new SAML({ ...(vaultSp as unknown as { options: object }).options, passive: true } as never);
    const s3 = await browser.get(await passiveVault.getAuthorizeUrlAsync('', undefined, {}));
    const { res: r3 } = await browser.follow(s3, w.base);
    t.ok((await w.org.store.audit.list({ type: 'login.denied' })).some((e) => e.code === 'mfa_required_passive'), 'IsPassive: no page, so NoPassive (posted at once) instead of a TOTP page');
    t.match(Buffer.from(formIn(r3.body)!.fields.SAMLResponse, 'base64').toString(), /status:NoPassive/);
  });

  await t.test('two valid codes posted at once on one flow: one Response, the other finds the flow completed', async (t) => {
    const browser = new Browser(w.ta);
    const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
    await browser.get(`${w.base}${cont.headers.location}`);
    // Steps no earlier test used: two minutes back, once the IdP's assertion was accepted (the app checks the Response
    // against its own, real clock, within the Response's validity).
    w.ta.clock.advance(-120_000);
    t.teardown(() => w.ta.clock.advance(120_000));
    const at = now().getTime();
    const both = await Promise.all([at - 30_000, at + 30_000].map((ms) => browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(ms)) })));
    const responses = both.filter((r) => formIn(r.body)?.fields.SAMLResponse);
    t.equal(responses.length, 1, 'exactly one Response');
    t.same(both.map((r) => r.statusCode).sort(), [200, 410]);
    t.equal(codeOf(both.find((r) => r.statusCode === 410)!.body), 'flow_not_found');
    const { profile } = await appReceives(sp, responses[0]);
    t.equal(profile.nameID, 'ann@customer.example');
    const again = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(at)) });
    t.equal(again.statusCode, 410, 'the completed flow takes no further code');
    const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
    const flowId = flowPath.split('/')[2];
    const lines = (await w.org.store.audit.list({ userId: user.id })).filter((e) => e.flowId === flowId);
    t.same(lines.filter((e) => e.type === 'login.success').length, 1, 'one login.success for the flow');
    t.ok(lines.some((e) => e.type === 'mfa.verified' && (e.details as { method?: string }).method === 'totp'), 'the verification is audited with its method');
  });

  await t.test('five wrong codes lock the factor; the page says so; audited', async (t) => {
    const browser = new Browser(w.ta);
    const { cont, flowPath } = await upTo2fa(w, browser, sp, fake);
    await browser.get(`${w.base}${cont.headers.location}`);
    let last;
    for (let i = 0; i < 5; i++) last = await browser.post(`${w.base}${flowPath}/mfa`, { code: '99999' + i });
    t.equal(last!.statusCode, 423);
    t.match(last!.body, /locked until/);
    const right = await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, new Date(now().getTime() + 30_000)) });
    t.equal(right.statusCode, 410, 'the lock ended the flow: not even the right code continues it');
    t.notOk(formIn(right.body)?.fields.SAMLResponse);
    const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
    t.equal((await w.org.store.audit.list({ type: 'mfa.locked', userId: user.id })).length, 1);
  });
});

t.test('must hold: no Response without the code, whatever is posted where', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta');
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true) });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  await w.org.store.users.create({ email: 'mallory@customer.example' });
  const hooli = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
  t.ok(hooli);

  const victim = new Browser(w.ta);
  const { flowPath } = await upTo2fa(w, victim, sp, fake);
  const mfaUrl = `${w.base}${flowPath}/mfa`;

  t.test('another browser cannot use the victim\'s flow id', async (t) => {
    const attacker = new Browser(w.ta);
    for (const res of [await attacker.get(mfaUrl), await attacker.post(mfaUrl, { code: '123456' })]) {
      t.equal(res.statusCode, 403);
      t.equal(codeOf(res.body), 'flow_browser_mismatch');
    }
    const finish = await attacker.post(`${w.base}${flowPath}/finish`, {});
    t.equal(finish.statusCode, 410, 'finish only exists for a flow whose code was verified');
    t.notOk(formIn(finish.body)?.fields.SAMLResponse);
  });

  t.test('an attacker\'s own completed second factor does not unlock the victim\'s flow', async (t) => {
    const attacker = new Browser(w.ta);
    const mine = await upTo2fa(w, attacker, sp, fake);
    t.ok(mine);
    // the attacker's browser cookie with the victim's flow id
    const res = await attacker.post(mfaUrl, { code: '000000' });
    t.equal(res.statusCode, 403);
  });

  t.test('the same flow id on another organisation\'s host finds nothing', async (t) => {
    const res = await victim.post(mfaUrl.replace('piedpipers.', 'hooli.'), { code: '123456' });
    t.equal(res.statusCode, 410);
    const fin = await victim.post(`${w.base.replace('piedpipers.', 'hooli.')}${flowPath}/finish`, {});
    t.equal(fin.statusCode, 410);
  });

  t.test('no later endpoint issues a Response before the code', async (t) => {
    t.equal((await victim.get(`${w.base}${flowPath}/continue`)).statusCode, 410);
    t.equal((await victim.post(`${w.base}${flowPath}/finish`, {})).statusCode, 410);
    t.equal((await victim.post(`${w.base}${flowPath}/idp`, { idpId: 'x' })).statusCode, 410);
    const acs = await victim.post(w.org.urls.spAcs, { SAMLResponse: await fake.response({ acsUrl: w.org.urls.spAcs, audience: w.org.urls.spEntityId, inResponseTo: null }), RelayState: flowPath.split('/')[2] }, { crossSite: true });
    t.equal(acs.statusCode, 400, 'a fresh upstream response cannot re-enter a flow waiting for its second factor');
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
  const { fake } = await w.addIdp('Okta');
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: [{ id: 'no-partners', action: 'deny', conditions: { emailDomains: ['partner.example'] }, message: 'Partners use the partner portal.' }] });
  await w.org.store.users.create({ email: 'pat@partner.example' });
  const browser = new Browser(w.ta);
  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location), { email: 'pat@partner.example', attributes: { Email: ['pat@partner.example'] } });
  const { res } = await browser.follow(acs.res, w.base);
  t.equal(res.statusCode, 403);
  t.match(res.body, /Partners use the partner portal\./);
  t.equal(codeOf(res.body), 'policy_denied');
  const samlResponse = formIn((await pressReturn(browser, w.base, res)).body)!.fields.SAMLResponse;
  t.match(Buffer.from(samlResponse, 'base64').toString(), /status:RequestDenied/);
  const decisions = await w.org.store.audit.list({ type: 'policy.decision' });
  t.match(decisions[0].details, { action: 'deny', rule: { id: 'no-partners', index: 0 } });
});
