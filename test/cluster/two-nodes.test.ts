// Two broker processes on one PostgreSQL database, as behind a load balancer: a flow begun on one node finishes on
// the other; an assertion, a TOTP step and failed attempts are shared; admin sessions work on both; and a node
// killed mid-flow loses nothing. Run twice: with everything in PostgreSQL, and with the login flows in Redis
// (REDIS_URL; one-time-use records stay in PostgreSQL either way).
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateSync } from 'otplib';
import { SAML } from '@node-saml/node-saml';
import { bootstrap } from '../../src/bootstrap.ts';
import { configFrom } from '../../src/config/config.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { setTwoFactor } from '../../src/policy/two-factor-toggle.ts';
import { totpFor } from '../../src/mfa/for-tenant.ts';
import { freshPostgres } from '../helpers/context.ts';
import { freshRedisPrefix } from '../helpers/redis.ts';
import { FakeIdp } from '../helpers/fake-idp.ts';
import { HttpBrowser, type HttpResponse } from '../helpers/http-browser.ts';
import { formIn } from '../helpers/browser.ts';
import { upstreamRequest } from '../helpers/sso-world.ts';
import { freePort } from '../helpers/own-services.ts';

const root = new URL('../..', import.meta.url).pathname;
const MASTER_KEY = Buffer.alloc(32, 11).toString('base64');
const BASE = 'broker.test';
const base = `http://piedpipers.${BASE}`;

async function startNode(
  databaseUrl: string,
  extraEnv: Record<string, string>,
): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  // node --import tsx (not the tsx wrapper): SIGKILL must hit the server process itself.
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH!,
      DATABASE_URL: databaseUrl,
      MASTER_KEY,
      BASE_DOMAIN: BASE,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      PURGE_INTERVAL_SECONDS: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 300; i++) {
    const up = await new HttpBrowser().send(port, 'GET', 'http://lb/healthz').then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) return { port, proc };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node did not start: ${out}`);
}

t.test('two nodes, one PostgreSQL', (t) => twoNodes(t, {}));

t.test('two nodes, one PostgreSQL, flows in Redis', async (t) => {
  const redis = freshRedisPrefix();
  t.teardown(redis.clear);
  await twoNodes(t, redis.env);
  const keys = await redis.keys();
  t.ok(
    keys.some((k) => k.includes(':flow:')),
    'the nodes kept the flows in Redis',
  );
  t.notOk(
    keys.some((k) => k.includes(':once:')),
    'and no one-time record',
  );
});

async function twoNodes(t: Test, extraEnv: Record<string, string>) {
  const db = await freshPostgres();
  t.teardown(db.drop);
  // Seed through the same code the CLI uses.
  const { ctx } = await bootstrap(
    configFrom({ DATABASE_URL: db.url, BASE_DOMAIN: BASE, MASTER_KEY, LOG_LEVEL: 'silent', ...extraEnv }),
  );
  const created = await ctx.organizations.create(
    { slug: 'piedpipers', name: 'Pied Pipers', adminEmail: 'admin@pp.example', adminPassword: 'a long admin password' },
    'test',
  );
  const store = ctx.store.forOrg(created.org.id);
  const fake = new FakeIdp({ entityId: 'https://okta.idp.example/saml' });
  const idp = await saveIdentityProvider(store, {
    name: 'Okta',
    entityId: fake.entityId,
    ssoUrl: 'https://okta.idp.example/sso',
    certificates: [fake.certificatePem],
    allowIdpInitiated: true,
    emailDomains: ['customer.example'],
  });
  const app = await saveApplication(store, {
    name: 'Jira',
    entityId: 'https://jira.example/sp',
    acsUrls: ['https://jira.example/acs'],
    policy: setTwoFactor([], true),
    primaryIdpId: idp.id,
  });
  await saveIdentityProvider(store, { defaultAppId: app.id }, idp.id);
  const user = await store.users.create({ email: 'ann@customer.example' });
  const org = (await ctx.store.organizations.findById(created.org.id))!;
  const enrolment = await totpFor(ctx, org, store).startEnrolment(user, 'seed');
  const codeAt = (offsetSteps: number) =>
    generateSync({ secret: enrolment.secretBase32, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });
  await totpFor(ctx, org, store).confirmEnrolment(user.id, 'seed', codeAt(-1));
  const idpCert = (await store.signingKeys.active())!.certificatePem;
  await ctx.store.close();

  const a = await startNode(db.url, extraEnv);
  const b = await startNode(db.url, extraEnv);
  t.teardown(() => {
    a.proc.kill('SIGKILL');
    b.proc.kill('SIGKILL');
  });
  const sp = new SAML({
    entryPoint: `${base}/saml/idp/sso`,
    issuer: app.entityId,
    audience: app.entityId,
    callbackUrl: app.acsUrls[0],
    idpCert,
    wantAuthnResponseSigned: true,
    wantAssertionsSigned: false,
    validateInResponseTo: 'never' as never,
    acceptedClockSkewMs: 5000,
  });

  /** SSO on one node, the IdP's answer at another's ACS, the continue step on a third choice. */
  async function upToMfa(browser: HttpBrowser, ssoPort: number, acsPort: number, continuePort: number) {
    const start = await browser.send(ssoPort, 'GET', await sp.getAuthorizeUrlAsync('', undefined, {}));
    const req = upstreamRequest(String(start.headers.location));
    const samlResponse = await fake.response({
      acsUrl: `${base}/saml/sp/acs`,
      audience: `${base}/saml/sp/metadata`,
      inResponseTo: req.id,
    });
    const acs = await browser.send(
      acsPort,
      'POST',
      `${base}/saml/sp/acs`,
      { SAMLResponse: samlResponse, RelayState: req.relayState },
      { crossSite: true },
    );
    const cont = await browser.send(continuePort, 'GET', `${base}${acs.headers.location}`);
    return { acs, cont, flowPath: String(acs.headers.location).replace('/continue', '') };
  }
  const profileOf = async (res: HttpResponse) =>
    (await sp.validatePostResponseAsync({ SAMLResponse: formIn(res.body)!.fields.SAMLResponse })).profile!;

  await t.test('a flow started on A continues on B, and its TOTP step is then refused on A', async (t) => {
    const browser = new HttpBrowser();
    const { acs, cont, flowPath } = await upToMfa(browser, a.port, b.port, a.port);
    t.equal(acs.status, 303);
    t.equal(cont.headers.location, `${flowPath}/mfa`);
    const code = codeAt(0);
    const done = await browser.send(b.port, 'POST', `${base}${flowPath}/mfa`, { code });
    t.equal((await profileOf(done)).nameID, 'ann@customer.example');

    const other = new HttpBrowser();
    const second = await upToMfa(other, b.port, a.port, b.port);
    const reused = await other.send(a.port, 'POST', `${base}${second.flowPath}/mfa`, { code });
    t.equal(reused.status, 400);
    t.match(reused.body, /already used/, 'the step consumed on B is refused on A');
  });

  await t.test('an assertion consumed on A is refused on B', async (t) => {
    const unsolicited = await fake.response({
      acsUrl: `${base}/saml/sp/acs`,
      audience: `${base}/saml/sp/metadata`,
      inResponseTo: null,
    });
    const first = await new HttpBrowser().send(
      a.port,
      'POST',
      `${base}/saml/sp/acs`,
      { SAMLResponse: unsolicited },
      { crossSite: true },
    );
    t.equal(first.status, 303);
    const replay = await new HttpBrowser().send(
      b.port,
      'POST',
      `${base}/saml/sp/acs`,
      { SAMLResponse: unsolicited },
      { crossSite: true },
    );
    t.equal(replay.status, 400);
    t.match(replay.body, /saml_replayed/);
  });

  await t.test('wrong codes on both nodes add up to one lockout', async (t) => {
    const browser = new HttpBrowser();
    const { flowPath } = await upToMfa(browser, a.port, b.port, b.port);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await browser.send(i % 2 ? a.port : b.port, 'POST', `${base}${flowPath}/mfa`, { code: '00000' + i })).status,
      );
    // The reused code refused in the first test already counted as one failure of this user's second factor.
    // The lock ends the flow (its app hears back): the next code, on either node, finds it over.
    t.same(statuses, [400, 400, 400, 423, 410]);
    const locked = await browser.send(a.port, 'POST', `${base}${flowPath}/mfa`, { code: codeAt(1) });
    t.equal(locked.status, 410, 'over on the other node too');
  });

  await t.test('an admin session made on A works on B', async (t) => {
    const browser = new HttpBrowser();
    const form = await browser.send(a.port, 'GET', `${base}/admin/login`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1];
    const login = await browser.send(a.port, 'POST', `${base}/admin/login`, {
      _csrf: csrf,
      email: 'admin@pp.example',
      password: 'a long admin password',
    });
    t.equal(login.status, 303);
    const home = await browser.send(b.port, 'GET', `${base}/admin`);
    t.equal(home.status, 200);
    t.match(home.body, /Admin console/);
  });

  await t.test('node A is killed mid-flow; node B finishes the login', async (t) => {
    const browser = new HttpBrowser();
    const start = await browser.send(a.port, 'GET', await sp.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(start.status, 302, start.body.slice(0, 300));
    a.proc.kill('SIGKILL');
    await new Promise((r) => a.proc.once('exit', r));
    const req = upstreamRequest(String(start.headers.location));
    const samlResponse = await fake.response({
      acsUrl: `${base}/saml/sp/acs`,
      audience: `${base}/saml/sp/metadata`,
      inResponseTo: req.id,
    });
    const acs = await browser.send(
      b.port,
      'POST',
      `${base}/saml/sp/acs`,
      { SAMLResponse: samlResponse, RelayState: req.relayState },
      { crossSite: true },
    );
    t.equal(acs.status, 303);
    await browser.send(b.port, 'GET', `${base}${acs.headers.location}`);
    const flowPath = String(acs.headers.location).replace('/continue', '');
    // The lock from the previous test is still on: the admin unlocks it (as the CLI would), then the user proceeds.
    const { ctx: admin } = await bootstrap(
      configFrom({ DATABASE_URL: db.url, BASE_DOMAIN: BASE, MASTER_KEY, LOG_LEVEL: 'silent', ...extraEnv }),
      { skipMigrations: true },
    );
    await totpFor(admin, org, admin.store.forOrg(org.id)).unlock(user.id, 'test');
    await admin.store.close();
    const done = await browser.send(b.port, 'POST', `${base}${flowPath}/mfa`, { code: codeAt(1) });
    t.equal((await profileOf(done)).nameID, 'ann@customer.example');
  });

  const { ctx: check } = await bootstrap(
    configFrom({ DATABASE_URL: db.url, BASE_DOMAIN: BASE, MASTER_KEY, LOG_LEVEL: 'silent', ...extraEnv }),
    { skipMigrations: true },
  );
  const rows = { flows: await check.store.db.loginFlow.count(), oneTimeUse: await check.store.db.oneTimeUse.count() };
  await check.store.close();
  if (extraEnv.REDIS_URL) t.equal(rows.flows, 0, 'with REDIS_URL no flow reaches the database');
  else t.ok(rows.flows > 0, 'without it the flows are in the database');
  t.ok(rows.oneTimeUse > 0, 'the one-time records are in the database either way');
}
