// With REDIS_URL, a Redis that restarts without persistence (SIGKILL: nothing saved, as docker-compose runs it) must
// not reopen what was already used: an IdP-initiated Response, an admin's TOTP step and a LogoutRequest (from an app
// and from the IdP) accepted before the restart are refused after it with the same code as a plain replay, because
// their one-time-use records live in the database. What Redis held (the login flows) is gone: a login in progress
// cannot be finished and starts again; a new login works. The broker runs as the real HTTP app on its own Redis
// (test/helpers/own-services.ts), never the machine's shared one.
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import { encodeOutgoing } from '../../src/saml/bindings.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { logoutRequestXml } from '../../src/saml/logout.ts';
import { confirmAdminEnrolment, startAdminEnrolment, verifyAdminCode } from '../../src/admin/admin-totp.ts';
import type { AppError } from '../../src/errors.ts';
import { Browser } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { startOwnRedis } from '../helpers/own-services.ts';
import { appReceives, createWorld, idpAnswers } from '../helpers/sso-world.ts';
import { testProviders } from '../helpers/context.ts';

const ANN = 'ann@customer.example';
const codeOf = (res: LightMyRequestResponse) =>
  /Error code: <code>([^<]+)<\/code>/.exec(res.body)?.[1] ?? `(${res.statusCode}, no error code)`;
const outcomeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: AppError) => e.code,
  );

// PostgreSQL first: the database used alongside Redis in production.
for (const provider of testProviders().reverse()) {
  t.test(`${provider} with Redis: what was used before a Redis restart stays used after it`, async (t) => {
    const redis = await startOwnRedis();
    t.teardown(redis.remove);
    const w = await createWorld('piedpipers', provider, {
      env: { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `replay-${randomBytes(4).toString('hex')}:` },
    });
    t.teardown(w.ta.cleanup);
    const jiraKey = generateSigningCredential('jira');
    const { app: jira, sp } = await w.addApp('Jira', {
      sloUrl: 'https://jira.example/slo',
      certificate: jiraKey.certificatePem,
    });
    const { fake, idp } = await w.addIdp('Okta', {
      allowIdpInitiated: true,
      defaultAppId: jira.id,
      emailDomains: ['customer.example'],
    });
    await w.org.store.identityProviders.update(idp.id, { sloUrl: 'https://okta.idp.example/slo' });
    await w.org.store.users.create({ email: ANN });
    const now = () => w.ta.clock.now();
    const post = (body: Record<string, string>) => new Browser(w.ta).post(w.org.urls.spAcs, body, { crossSite: true });

    // Before the restart: each message is accepted once, and a plain replay is refused.
    const unsolicited = await fake.response({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: null,
      lifetimeSeconds: 600,
    });
    const accepted = await post({ SAMLResponse: unsolicited });
    t.equal(accepted.statusCode, 303, 'the IdP-initiated Response opens a login');
    const replayCode = codeOf(await post({ SAMLResponse: unsolicited }));
    t.equal(replayCode, 'saml_replayed', 'a plain replay of it is refused');

    const org = (await w.ta.ctx.store.organizations.findById(w.org.org.id))!;
    const admin = async () => (await w.org.store.admins.findByEmail(`admin@piedpipers.example`))!;
    const setup = await startAdminEnrolment(w.ta.ctx, org, await admin());
    const codeAt = (steps: number) => oathtool(setup.secretBase32, new Date(now().getTime() + steps * 30_000));
    await confirmAdminEnrolment(w.ta.ctx, w.org.store, org, await admin(), setup.setup, codeAt(0));
    const totpCode = codeAt(1);
    const verify = async () =>
      outcomeOf(verifyAdminCode(w.ta.ctx, w.org.store, await admin(), totpCode, 'admin.login'));
    t.equal(await verify(), 'ok', "an admin's TOTP code is accepted once");
    const totpReplayCode = await verify();
    t.equal(totpReplayCode, 'admin_code_reused', 'and refused the second time');

    const fromApp = encodeOutgoing({
      ...logoutRequestXml({ issuer: jira.entityId, destination: w.org.urls.idpSlo, now: now(), nameId: ANN }),
      param: 'SAMLRequest',
      destination: w.org.urls.idpSlo,
      binding: 'redirect',
      relayState: 'back',
      signer: { keyPem: jiraKey.privateKeyPem, certificatePem: jiraKey.certificatePem },
    });
    const fromIdp = encodeOutgoing({
      ...logoutRequestXml({
        issuer: fake.entityId,
        destination: w.org.urls.spSlo,
        now: now(),
        nameId: ANN,
        sessionIndex: '_idp_session_1',
      }),
      param: 'SAMLRequest',
      destination: w.org.urls.spSlo,
      binding: 'redirect',
      relayState: null,
      signer: { keyPem: fake.credential.privateKeyPem, certificatePem: fake.certificatePem },
    });
    const logoutCodes: Record<string, string> = {};
    for (const [name, sent] of Object.entries({ app: fromApp, idp: fromIdp })) {
      const first = await new Browser(w.ta).get(sent.url);
      t.ok(
        first.statusCode === 302 || first.statusCode === 303,
        `the ${name}'s LogoutRequest is processed (${first.statusCode})`,
      );
      logoutCodes[name] = codeOf(await new Browser(w.ta).get(sent.url));
      t.equal(logoutCodes[name], 'saml_replayed', `a plain replay of the ${name}'s LogoutRequest is refused`);
    }

    // A login in progress: its flow lives in Redis only.
    const browser = new Browser(w.ta);
    const inProgress = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(inProgress.statusCode, 302, 'a login started before the restart');

    await redis.restart();
    // The broker's client reconnects in the background; wait until it answers again.
    for (let i = 0; i < 100 && w.ta.ctx.store.redis!.client.status !== 'ready'; i++)
      await new Promise((r) => setTimeout(r, 100));
    await w.ta.ctx.store.redis!.ping();
    const client = w.ta.ctx.store.redis!.client;
    t.equal(await client.dbsize(), 0, 'Redis lost everything it held');

    await t.test('the IdP-initiated Response is refused as a replay, and opens no login', async (t) => {
      const again = await post({ SAMLResponse: unsolicited });
      t.equal(again.statusCode, 400);
      t.equal(codeOf(again), replayCode);
      t.notOk(again.headers.location, 'no redirect into a login');
    });

    await t.test("the admin's TOTP code is refused as reused", async (t) => {
      t.equal(await verify(), totpReplayCode);
    });

    await t.test('the LogoutRequests are refused as replays', async (t) => {
      for (const [name, sent] of Object.entries({ app: fromApp, idp: fromIdp })) {
        const again = await new Browser(w.ta).get(sent.url);
        t.equal(again.statusCode, 400, name);
        t.equal(codeOf(again), logoutCodes[name], name);
      }
    });

    await t.test('the login in progress is lost (it starts again); a new login works', async (t) => {
      const answer = await idpAnswers(w, browser, fake, String(inProgress.headers.location));
      t.equal(answer.res.statusCode, 400, `the answer to the lost flow is refused (${codeOf(answer.res)})`);
      t.notOk(answer.res.headers.location);
      const fresh = new Browser(w.ta);
      const start = await fresh.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
      const acs = await idpAnswers(w, fresh, fake, String(start.headers.location));
      t.equal(acs.res.statusCode, 303);
      const { profile } = await appReceives(sp, (await fresh.follow(acs.res, w.base)).res);
      t.equal(profile.nameID, ANN, 'a login begun after the restart completes');
    });
  });
}
