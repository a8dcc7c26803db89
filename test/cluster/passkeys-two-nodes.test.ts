// Passkeys on two broker processes sharing one PostgreSQL database (issue 23): the challenge of a page shown by one
// node is answered on the other, and the same answer replayed on the second node (to the same flow, or to another
// flow's page) is refused. Run with the login flows in PostgreSQL and in Redis (the challenge's one-time-use record
// stays in PostgreSQL either way).
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { SAML } from '@node-saml/node-saml';
import { bootstrap } from '../../src/bootstrap.ts';
import { configFrom } from '../../src/config/config.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { webauthnFor } from '../../src/mfa/for-tenant.ts';
import { freshPostgres } from '../helpers/context.ts';
import { freshRedisPrefix } from '../helpers/redis.ts';
import { FakeIdp } from '../helpers/fake-idp.ts';
import { HttpBrowser } from '../helpers/http-browser.ts';
import { formIn } from '../helpers/browser.ts';
import { freePort } from '../helpers/own-services.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { upstreamRequest } from '../helpers/sso-world.ts';

const root = new URL('../..', import.meta.url).pathname;
const MASTER_KEY = Buffer.alloc(32, 12).toString('base64');
const BASE = 'broker.test';
const base = `http://piedpipers.${BASE}`;
const optionsOn = (html: string) =>
  JSON.parse(/<script type="application\/json" id="passkey-options">([^<]*)<\/script>/.exec(html)![1]);

async function startNode(
  databaseUrl: string,
  extraEnv: Record<string, string>,
): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH!,
      DATABASE_URL: databaseUrl,
      MASTER_KEY,
      BASE_DOMAIN: BASE,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 300; i++) {
    if (
      await new HttpBrowser().send(port, 'GET', 'http://lb/healthz').then(
        (r) => r.status === 200,
        () => false,
      )
    )
      return { port, proc };
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
});

async function twoNodes(t: Test, extraEnv: Record<string, string>) {
  const db = await freshPostgres();
  t.teardown(db.drop);
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
    emailDomains: ['customer.example'],
  });
  const app = await saveApplication(store, {
    name: 'Jira',
    entityId: 'https://jira.example/sp',
    acsUrls: ['https://jira.example/acs'],
    primaryIdpId: idp.id,
    policy: [{ id: 'passkeys', conditions: {}, action: 'require_totp', secondFactor: 'webauthn' }],
  });
  const user = await store.users.create({ email: 'ann@customer.example' });
  const org = (await ctx.store.organizations.findById(created.org.id))!;
  const key = new SoftAuthenticator();
  const passkeys = webauthnFor(ctx, org, store, base);
  const reg = await passkeys.registrationOptions(user);
  await passkeys.register(user, reg.challenge, key.create(reg.options, base), 'Blue key');
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

  /** A login on node `port` up to its passkey page. */
  async function passkeyPage(browser: HttpBrowser, port: number) {
    const start = await browser.send(port, 'GET', await sp.getAuthorizeUrlAsync('', undefined, {}));
    const req = upstreamRequest(String(start.headers.location));
    const samlResponse = await fake.response({
      acsUrl: `${base}/saml/sp/acs`,
      audience: `${base}/saml/sp/metadata`,
      inResponseTo: req.id,
    });
    const acs = await browser.send(
      port,
      'POST',
      `${base}/saml/sp/acs`,
      { SAMLResponse: samlResponse, RelayState: req.relayState },
      { crossSite: true },
    );
    const cont = await browser.send(port, 'GET', `${base}${acs.headers.location}`);
    const path = String(cont.headers.location);
    return { path, page: await browser.send(port, 'GET', `${base}${path}`) };
  }

  await t.test('a challenge issued on A is answered on B; the replay on B is refused', async (t) => {
    const browser = new HttpBrowser();
    const { path, page } = await passkeyPage(browser, a.port);
    t.equal(page.status, 200);
    const answer = { passkey: JSON.stringify(key.get(optionsOn(page.body), base)) };
    const done = await browser.send(b.port, 'POST', `${base}${path}`, answer);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: formIn(done.body)!.fields.SAMLResponse });
    t.equal(profile!.nameID, 'ann@customer.example', 'node-saml accepts the Response');
    const replay = await browser.send(b.port, 'POST', `${base}${path}`, answer);
    t.equal(replay.status, 410, 'the same answer on B: the flow is over');

    // The answer replayed to another login's page, on B: its challenge is spent (and not that page's anyway).
    const other = new HttpBrowser();
    const second = await passkeyPage(other, b.port);
    const refused = await other.send(b.port, 'POST', `${base}${second.path}`, answer);
    t.equal(refused.status, 400);
    t.match(refused.body, /answered another request|already answered/);
  });
}
