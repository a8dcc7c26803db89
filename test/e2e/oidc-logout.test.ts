// RP-initiated logout toward an OpenID Connect IdP, end to end: an app (node-saml) signs in through a real OP
// (oidc-provider) and later sends its LogoutRequest; the broker ends its session, sends the browser to the OP's
// end_session_endpoint with id_token_hint, post_logout_redirect_uri and state, the OP (its own confirmation form)
// sends it back, and the app gets its LogoutResponse. Then the refusals: a wrong state, another browser, and an IdP
// without end_session_endpoint (the logout stays local).
import t from 'tap';
import { SAML } from '@node-saml/node-saml';
import { inflateRawSync } from 'node:zlib';
import { decodeJwt } from 'jose';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../src/orgs/remote/oidc-registration.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idTokenSealContext } from '../../src/broker/upstream/oidc.ts';
import type { Application } from '../../src/store/applications.ts';
import { Browser } from '../helpers/browser.ts';
import { startForgingOp, startOidcProvider } from '../helpers/oidc-op.ts';
import { appReceives, createWorld, type World } from '../helpers/sso-world.ts';

const ENV = { METADATA_ALLOW_PRIVATE: 'true' };
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const paramsOf = (url: string) => Object.fromEntries(new URL(url).searchParams);
const queryOf = (url: string) => url.slice(url.indexOf('?') + 1);
const inflate = (b64: string) => inflateRawSync(Buffer.from(b64, 'base64')).toString();

async function addOidcIdp(w: World, issuer: string) {
  const input = await oidcIdpInput(
    { issuer, clientId: 'broker', clientSecret: 'broker-secret', preset: 'oidc-okta' },
    {
      orgId: w.org.org.id,
      box: w.ta.ctx.box,
      now: w.ta.clock.now(),
      allowPrivate: true,
      timeoutMs: 5000,
      refreshSeconds: 86400,
    },
  );
  return saveIdentityProvider(w.org.store, { ...input, name: 'Okta OIDC', emailDomains: ['customer.example'] });
}

/** A node-saml app that signs its logout messages (its certificate is registered). */
async function sloApp(w: World) {
  const key = generateSigningCredential('jira');
  const { app } = await w.addApp('Jira', { sloUrl: 'https://jira.example/slo', certificate: key.certificatePem });
  const base = w.nodeSaml(app as Application);
  const sp = new SAML({
    ...(base as unknown as { options: object }).options,
    logoutUrl: w.org.urls.idpSlo,
    signatureAlgorithm: 'sha256',
    privateKey: key.privateKeyPem,
  } as never);
  return { app, sp };
}

/** Signs Ann in to the app through the OP; the profile the app received. */
async function signIn(w: World, browser: Browser, sp: SAML, login: (authUrl: string) => Promise<string>) {
  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const callback = await login(String(start.headers.location));
  const { res } = await browser.follow(await browser.get(callback), w.base);
  return (await appReceives(sp, res)).profile;
}

const activeSessions = (w: World) =>
  w.ta.ctx.store.db.brokerSession.count({ where: { orgId: w.org.org.id, endedAt: null } });

t.test("RP-initiated logout at a real OP, then the app's LogoutResponse", async (t) => {
  const w = await createWorld('logoutpipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const op = await startOidcProvider({
    clientId: 'broker',
    clientSecret: 'broker-secret',
    redirectUri: w.org.urls.oidcCallback,
    postLogoutRedirectUris: [w.org.urls.oidcLogoutCallback],
    claims: () => ({ email: 'ann@customer.example', email_verified: true }),
  });
  t.teardown(op.close);
  const idp = await addOidcIdp(w, op.issuer);
  const { sp } = await sloApp(w);
  await w.org.store.users.create({ email: 'ann@customer.example' });

  /** Ann signs in, then the app asks to log her out: the chain's first page. */
  async function signInAndOut(browser: Browser) {
    const profile = await signIn(w, browser, sp, (u) => op.login(u, 'ann'));
    const start = await browser.get(await sp.getLogoutUrlAsync(profile, 'back-to-jira', {}));
    t.equal(start.statusCode, 303);
    return String(start.headers.location);
  }

  await t.test('the ID token is kept sealed with the session, and the OP is visited with it', async (t) => {
    const browser = new Browser(w.ta);
    const profile = await signIn(w, browser, sp, (u) => op.login(u, 'ann'));
    const session = (await w.ta.ctx.store.db.brokerSession.findFirst({
      where: { orgId: w.org.org.id, endedAt: null },
    }))!;
    t.ok(session.upstreamIdToken, 'an ID token is kept');
    t.notOk(session.upstreamIdToken!.startsWith('eyJ'), 'not in clear');
    const idToken = w.ta.ctx.box.open(session.upstreamIdToken!, idTokenSealContext(w.org.org.id, idp.id)).toString();
    t.equal(decodeJwt(idToken).iss, op.issuer, "it opens to the OP's ID token");
    t.throws(
      () => w.ta.ctx.box.open(session.upstreamIdToken!, idTokenSealContext('another-org', idp.id)),
      'bound to the organisation',
    );

    const chain = String((await browser.get(await sp.getLogoutUrlAsync(profile, 'back-to-jira', {}))).headers.location);
    t.match(chain, /^\/logout\/[\w-]+$/);
    t.equal(await activeSessions(w), 0, 'the broker session ended at once');
    const toOp = await browser.get(w.base + chain);
    t.equal(toOp.statusCode, 303, 'the whole page goes to the OP (not a frame)');
    const endSession = String(toOp.headers.location);
    t.ok(endSession.startsWith(`${op.issuer}/session/end?`), 'its end_session_endpoint, from discovery');
    const p = paramsOf(endSession);
    t.equal(p.id_token_hint, idToken);
    t.equal(p.post_logout_redirect_uri, `${w.base}/oidc/logout-callback`);
    t.equal(p.client_id, 'broker');
    t.match(
      p.state,
      new RegExp(`^${chain.slice('/logout/'.length)}\\.[\\w-]{20,}$`),
      'state names the chain and a secret',
    );

    const back = await op.logout(endSession);
    t.ok(back.startsWith(`${w.base}/oidc/logout-callback?`), 'the OP sends the browser back to our callback');
    t.equal(paramsOf(back).state, p.state, 'with our state');
    const cb = await browser.get(back);
    t.equal(cb.statusCode, 303);
    t.equal(cb.headers.location, chain, 'on to the rest of the chain');
    const final = await browser.get(w.base + chain);
    t.equal(final.statusCode, 302);
    const toJira = String(final.headers.location);
    t.match(toJira, /^https:\/\/jira\.example\/slo\?SAMLResponse=/);
    t.equal(paramsOf(toJira).RelayState, 'back-to-jira');
    t.equal(
      (await sp.validateRedirectAsync(paramsOf(toJira), queryOf(toJira))).loggedOut,
      true,
      'node-saml accepts the LogoutResponse',
    );
    t.match(
      inflate(paramsOf(toJira).SAMLResponse),
      /<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"\/>/,
    );
    const completed = (await w.org.store.audit.list({ type: 'logout.completed' }))[0];
    t.same((completed.details as { participants: unknown[] }).participants, [
      { name: 'Okta OIDC', outcome: 'success' },
    ]);

    await t.test('the callback cannot be replayed', async (t) => {
      const again = await browser.get(back);
      t.equal(again.statusCode, 400);
      t.equal(codeOf(again.body), 'oidc_logout_state_mismatch');
    });
  });

  await t.test('a state with another secret is refused, audited, and the chain still waits', async (t) => {
    const browser = new Browser(w.ta);
    const chain = await signInAndOut(browser);
    const endSession = String((await browser.get(w.base + chain)).headers.location);
    const state = paramsOf(endSession).state;
    const forged = `${state.slice(0, state.indexOf('.'))}.${'A'.repeat(41)}`;
    const res = await browser.get(`${w.base}/oidc/logout-callback?state=${encodeURIComponent(forged)}`);
    t.equal(res.statusCode, 400);
    t.equal(codeOf(res.body), 'oidc_logout_state_mismatch');
    t.match(res.body, /This sign-out answer does not belong to a sign-out that is waiting/, 'the branded error page');
    const rejected = (await w.org.store.audit.list({ type: 'logout.rejected' }))[0];
    t.equal(rejected.code, 'oidc_logout_state_mismatch');
    for (const bad of ['', 'no-dot', '.secret', 'x'.repeat(300)]) {
      const r = await browser.get(`${w.base}/oidc/logout-callback?state=${encodeURIComponent(bad)}`);
      t.equal(codeOf(r.body), 'oidc_logout_state_mismatch', `state "${bad.slice(0, 10)}"`);
    }
    t.equal(
      String((await browser.get(w.base + chain)).headers.location),
      endSession,
      'the chain still waits for the OP',
    );

    await t.test('the right state from another browser is refused', async (t) => {
      const other = new Browser(w.ta);
      const r = await other.get(`${w.base}/oidc/logout-callback?state=${encodeURIComponent(state)}`);
      t.equal(r.statusCode, 403);
      t.equal(codeOf(r.body), 'logout_browser_mismatch');
    });

    await t.test('the right state at another organisation names no sign-out there', async (t) => {
      const { createOrg } = await import('../helpers/context.ts');
      await createOrg(w.ta.ctx, 'hooli', 'Hooli');
      const r = await browser.get(
        `http://hooli.${w.ta.config.baseDomain}/oidc/logout-callback?state=${encodeURIComponent(state)}`,
      );
      t.equal(r.statusCode, 400);
      t.equal(codeOf(r.body), 'oidc_logout_state_mismatch');
    });
  });
});

t.test('an OIDC IdP without end_session_endpoint: the logout stays local', async (t) => {
  const w = await createWorld('localpipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const op = await startForgingOp(); // its discovery names no end_session_endpoint
  t.teardown(op.close);
  await addOidcIdp(w, op.issuer);
  const { sp } = await sloApp(w);
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  const profile = await signIn(w, browser, sp, async (authUrl) => {
    const auth = new URL(authUrl);
    const now = Math.floor(w.ta.clock.now().getTime() / 1000);
    op.answer = {
      idToken: await op.sign({
        iss: op.issuer,
        aud: 'broker',
        sub: 'ann',
        nonce: auth.searchParams.get('nonce'),
        iat: now,
        exp: now + 300,
        email: 'ann@customer.example',
        email_verified: true,
      }),
    };
    return `${w.base}/oidc/callback?code=c0de&state=${auth.searchParams.get('state')}`;
  });
  const chain = String((await browser.get(await sp.getLogoutUrlAsync(profile, '', {}))).headers.location);
  t.equal(await activeSessions(w), 0);
  const final = await browser.get(w.base + chain);
  t.equal(final.statusCode, 302);
  t.match(
    String(final.headers.location),
    /^https:\/\/jira\.example\/slo\?SAMLResponse=/,
    "straight to the app's LogoutResponse",
  );
  t.match(inflate(paramsOf(String(final.headers.location)).SAMLResponse), /status:Success"\/>/);
});
