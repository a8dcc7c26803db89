// private_key_jwt client authentication toward a real OP (oidc-provider, client registered with
// token_endpoint_auth_method private_key_jwt and jwks_uri at the broker's /oidc/jwks.json): the OP fetches our JWKS
// (through a loopback forwarder to the broker's route: the test broker listens on no socket) and accepts our client
// assertion; keys of another organisation are refused (oidc_client_auth_failed).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey } from 'node:crypto';
import t from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../src/orgs/remote/oidc-registration.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { createOrg } from '../helpers/context.ts';
import { startOidcProvider } from '../helpers/oidc-op.ts';
import { appReceives, createWorld } from '../helpers/sso-world.ts';

const ENV = { METADATA_ALLOW_PRIVATE: 'true' };
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];

t.test("private_key_jwt with the organisation's signing key", async (t) => {
  const w = await createWorld('jwtpipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  await createOrg(w.ta.ctx, 'hooli', 'Hooli');

  await t.test("/oidc/jwks.json publishes the organisation's signing keys, public parts only", async (t) => {
    const res = await w.ta.request('jwtpipers', { method: 'GET', url: '/oidc/jwks.json' });
    t.equal(res.statusCode, 200);
    t.match(String(res.headers['content-type']), /^application\/jwk-set\+json/);
    const { keys } = res.json() as { keys: Array<Record<string, string>> };
    const active = (await w.org.store.signingKeys.active())!;
    t.equal(keys.length, (await w.org.store.signingKeys.published()).length);
    t.same({ kty: keys[0].kty, use: keys[0].use, alg: keys[0].alg }, { kty: 'RSA', use: 'sig', alg: 'RS256' });
    t.equal(
      keys[0].n,
      (createPublicKey(active.certificatePem).export({ format: 'jwk' }) as { n: string }).n,
      'the active key first',
    );
    t.match(keys[0].kid, /^[\w-]{43}$/, 'kid: the JWK thumbprint');
    t.notOk(
      keys.some((k) => 'd' in k || 'p' in k),
      'no private part',
    );
    const other = (await w.ta.request('hooli', { method: 'GET', url: '/oidc/jwks.json' })).json() as {
      keys: Array<{ kid: string }>;
    };
    t.not(other.keys[0].kid, keys[0].kid, 'each organisation its own keys');
  });

  // The OP reaches "the broker" through this forwarder: /<org>/oidc/jwks.json is that organisation's route.
  const forwarder = createServer(async (req, res) => {
    const [, org, ...rest] = (req.url ?? '/').split('/');
    const answer = await w.ta.request(org, { method: 'GET', url: `/${rest.join('/')}` });
    res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        forwarder.closeAllConnections();
        forwarder.close(() => resolve());
      }),
  );
  const jwksOf = (org: string) => `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}/${org}/oidc/jwks.json`;

  /** An OP whose client `broker` authenticates by private_key_jwt with the keys at `jwksUri`, and its IdP here. */
  async function opWithJwks(name: string, jwksUri: string, domain = 'customer.example') {
    const op = await startOidcProvider({
      clientId: 'broker',
      clientSecret: 'unused',
      redirectUri: w.org.urls.oidcCallback,
      privateKeyJwt: { jwksUri },
      claims: () => ({ email: 'ann@customer.example', email_verified: true }),
    });
    t.teardown(op.close);
    const input = await oidcIdpInput(
      { issuer: op.issuer, clientId: 'broker', clientAuth: 'private_key_jwt', preset: 'oidc-okta' },
      {
        orgId: w.org.org.id,
        box: w.ta.ctx.box,
        now: w.ta.clock.now(),
        allowPrivate: true,
        timeoutMs: 5000,
        refreshSeconds: 86400,
      },
    );
    const idp = await saveIdentityProvider(w.org.store, { ...input, name, emailDomains: [domain] });
    return { op, idp };
  }
  const { op, idp } = await opWithJwks('Keycloak', jwksOf('jwtpipers'));
  t.equal(idp.oidcClientAuth, 'private_key_jwt');
  t.equal(idp.oidcClientSecret, null, 'no secret stored');
  const { sp } = await w.addApp('Jira');
  await w.org.store.users.create({ email: 'ann@customer.example' });

  async function signIn(at: { op: typeof op; idp: typeof idp }) {
    const browser = new Browser(w.ta);
    const start = await browser.get(`${await sp.getAuthorizeUrlAsync('', undefined, {})}&idp=${at.idp.id}`);
    const callback = await at.op.login(String(start.headers.location), 'ann');
    return browser.follow(await browser.get(callback), w.base);
  }

  await t.test('the OP accepts our client assertion: Ann reaches the app', async (t) => {
    const { res } = await signIn({ op, idp });
    t.equal((await appReceives(sp, res)).profile.nameID, 'ann@customer.example');
  });

  await t.test("with another organisation's keys at the registered JWKS URL, the OP refuses the client", async (t) => {
    const { res } = await signIn(await opWithJwks('Keycloak (wrong keys)', jwksOf('hooli'), 'other.example'));
    t.equal(res.statusCode, 400);
    t.equal(codeOf(res.body), 'oidc_client_auth_failed');
    t.notOk(formIn(res.body)?.fields.SAMLResponse, 'nothing issued downstream');
  });
});
