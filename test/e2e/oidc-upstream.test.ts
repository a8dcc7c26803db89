// Upstream IdPs over OpenID Connect, end to end through HTTP: a real OP (oidc-provider, configured Google-like and
// Entra-like) on loopback, the broker as relying party, and a downstream SAML app (@node-saml/node-saml) that must
// accept the Response, with the TOTP second factor; then every refusal, each with its own code and nothing issued
// downstream, with ID tokens forged by jose where an honest OP would not send them.
import { createPublicKey } from 'node:crypto';
import t from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../src/orgs/remote/oidc-registration.ts';
import { setTwoFactor } from '../../src/policy/two-factor-toggle.ts';
import type { MappingPreset } from '../../src/store/identity-providers.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { startForgingOp, startOidcProvider, unsignedToken } from '../helpers/oidc-op.ts';
import { appReceives, createWorld, type World } from '../helpers/sso-world.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const keyOn = (html: string) => /id="manual-key"[^>]*>([A-Z2-7 ]+)</.exec(html)![1];
const ENV = { METADATA_ALLOW_PRIVATE: 'true' };

async function addOidcIdp(
  w: World,
  name: string,
  issuer: string,
  preset: MappingPreset,
  extra: { emailDomains?: string[]; clientId?: string } = {},
) {
  const input = await oidcIdpInput(
    { issuer, clientId: extra.clientId ?? 'broker', clientSecret: 'broker-secret', preset },
    {
      orgId: w.org.org.id,
      box: w.ta.ctx.box,
      now: w.ta.clock.now(),
      allowPrivate: true,
      timeoutMs: 5000,
      refreshSeconds: 86400,
    },
  );
  return saveIdentityProvider(w.org.store, {
    ...input,
    name,
    ...(extra.emailDomains && { emailDomains: extra.emailDomains }),
  });
}

/** The app's request through the broker to the IdP's authorization endpoint. */
async function toIdp(w: World, browser: Browser, sp: import('@node-saml/node-saml').SAML) {
  const start = await browser.get(await sp.getAuthorizeUrlAsync('relay-oidc', undefined, {}));
  if (start.statusCode !== 302)
    throw new Error(`no redirect to the IdP (${start.statusCode}): ${start.body.slice(0, 300)}`);
  return new URL(String(start.headers.location));
}

/** The IdP's redirect back at the broker's callback (top-level navigation: cookies are sent), then the flow's pages. */
async function back(w: World, browser: Browser, callback: string) {
  const res = await browser.get(callback);
  if (res.statusCode !== 302 && res.statusCode !== 303) return { res, page: res };
  return { res, page: await browser.get(`${w.base}${res.headers.location}`) };
}

t.test('Google-like OP: sign-in through to the SAML app with TOTP; email_verified false never links', async (t) => {
  const w = await createWorld('piedpipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const accounts: Record<string, Record<string, unknown>> = {
    ann: {
      email: 'ann@customer.example',
      email_verified: true,
      hd: 'customer.example',
      given_name: 'Ann',
      family_name: 'Lee',
    },
    mallory: { email: 'bob@customer.example', email_verified: false, hd: 'customer.example' },
    eve: { email: 'eve@other.example', email_verified: true, hd: 'other.example' },
  };
  const op = await startOidcProvider({
    clientId: 'broker',
    clientSecret: 'broker-secret',
    redirectUri: `${w.base}/oidc/callback`,
    claims: (id) => accounts[id] ?? {},
  });
  t.teardown(op.close);
  const idp = await addOidcIdp(w, 'Google', op.issuer, 'oidc-google', { emailDomains: ['customer.example'] });
  t.equal(idp.protocol, 'oidc');
  t.equal(idp.entityId, op.issuer, 'the issuer from the discovery document');
  t.not(idp.oidcClientSecret, 'broker-secret', 'the client secret is sealed at rest');
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true, 30) });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  await w.org.store.users.create({ email: 'bob@customer.example' });

  await t.test('authorization request: code flow, PKCE S256, state, nonce, our redirect URI, Google hd', async (t) => {
    const auth = await toIdp(w, new Browser(w.ta), sp);
    t.equal(`${auth.origin}${auth.pathname}`, `${op.issuer}/auth`);
    const p = auth.searchParams;
    t.equal(p.get('response_type'), 'code');
    t.equal(p.get('code_challenge_method'), 'S256');
    t.match(p.get('code_challenge'), /^[\w-]{43}$/);
    t.match(p.get('nonce'), /^[\w-]{43}$/);
    t.match(p.get('state'), /^[\w-]{16,}$/);
    t.equal(p.get('redirect_uri'), `${w.base}/oidc/callback`);
    t.equal(p.get('scope'), 'openid email profile');
    t.equal(p.get('hd'), 'customer.example');
  });

  await t.test('Ann signs in, enrols TOTP, and the app accepts the signed SAML Response', async (t) => {
    const browser = new Browser(w.ta);
    const auth = await toIdp(w, browser, sp);
    const callback = await op.login(auth.href, 'ann');
    t.ok(callback.startsWith(`${w.base}/oidc/callback?`), 'the OP sends the browser back to our callback');
    const { res, page } = await back(w, browser, callback);
    t.match(String(res.headers.location), /^\/flow\/[^/]+\/continue$/);
    t.equal(page.statusCode, 303);
    const flowPath = String(res.headers.location).replace('/continue', '');
    t.equal(page.headers.location, `${flowPath}/mfa`, 'the second factor is asked');
    const enrol = await browser.get(`${w.base}${flowPath}/mfa`);
    const key = keyOn(enrol.body);
    await browser.post(`${w.base}${flowPath}/mfa`, { code: oathtool(key, w.ta.clock.now()) });
    const { form, profile } = await appReceives(sp, await browser.post(`${w.base}${flowPath}/finish`, {}));
    t.equal(profile.nameID, 'ann@customer.example');
    t.equal(form.fields.RelayState, 'relay-oidc');
    const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
    t.equal((await w.org.store.users.findByIdentity(idp.id, 'ann'))?.id, user.id, 'identity is (IdP, sub)');

    await t.test('the callback cannot be replayed', async (t) => {
      // The flow moved on (Back after signing in): refused, and the page says so with a way to start again.
      const again = await browser.get(callback);
      t.equal(again.statusCode, 303);
      t.match(String(again.headers.location), /^\/flow\/[^/]+\/restart$/);
      const { res: said } = await browser.follow(again, w.base);
      t.equal(said.statusCode, 409);
      t.equal(codeOf(said.body), 'flow_already_used');
      t.notOk(formIn(said.body)?.fields.SAMLResponse);
    });
  });

  await t.test('an unverified email never links an existing user', async (t) => {
    const browser = new Browser(w.ta);
    const { page } = await back(w, browser, await op.login((await toIdp(w, browser, sp)).href, 'mallory'));
    t.equal(page.statusCode, 403);
    t.equal(codeOf(page.body), 'oidc_email_unverified');
    t.notOk(formIn(page.body)?.fields.SAMLResponse, 'nothing issued downstream');
    const bob = (await w.org.store.users.findByEmail('bob@customer.example'))!;
    t.same(await w.org.store.users.identities(bob.id), [], 'no link made');
  });

  await t.test('a Google account outside the hosted domain is refused', async (t) => {
    const browser = new Browser(w.ta);
    const { page } = await back(w, browser, await op.login((await toIdp(w, browser, sp)).href, 'eve'));
    t.equal(page.statusCode, 400);
    t.equal(codeOf(page.body), 'oidc_hosted_domain');
    t.notOk(formIn(page.body)?.fields.SAMLResponse);
  });

  await t.test("a replayed code (another sign-in's code on this one) is refused by the OP, and by us", async (t) => {
    const browser = new Browser(w.ta);
    const first = await op.login((await toIdp(w, browser, sp)).href, 'ann');
    const second = await toIdp(w, browser, sp);
    const forged = new URL(first);
    forged.searchParams.set('state', second.searchParams.get('state')!);
    const { page } = await back(w, browser, forged.href);
    t.equal(page.statusCode, 400);
    t.equal(codeOf(page.body), 'oidc_code_rejected');
    t.notOk(formIn(page.body)?.fields.SAMLResponse);
  });

  await t.test('a wrong state is refused', async (t) => {
    const browser = new Browser(w.ta);
    const cb = new URL(await op.login((await toIdp(w, browser, sp)).href, 'ann'));
    cb.searchParams.set('state', 'not-a-flow-of-ours-0123456789');
    const { page } = await back(w, browser, cb.href);
    t.equal(page.statusCode, 400);
    t.equal(codeOf(page.body), 'oidc_state_mismatch');
  });

  await t.test('a sign-in of organisation A cannot be finished at organisation B', async (t) => {
    const browser = new Browser(w.ta);
    const cb = new URL(await op.login((await toIdp(w, browser, sp)).href, 'ann'));
    const { createOrg } = await import('../helpers/context.ts');
    await createOrg(w.ta.ctx, 'hooli', 'Hooli');
    const atB = `http://hooli.${w.ta.config.baseDomain}/oidc/callback${cb.search}`;
    const res = await browser.get(atB);
    t.equal(res.statusCode, 400);
    t.equal(codeOf(res.body), 'oidc_state_mismatch');
    t.notOk(formIn(res.body)?.fields.SAMLResponse);
  });
});

t.test('Entra-like OP: identity is (tid, oid), preferred_username stands in for email, groups mapped', async (t) => {
  const w = await createWorld('entrapipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const op = await startOidcProvider({
    clientId: 'broker',
    clientSecret: 'broker-secret',
    redirectUri: `${w.base}/oidc/callback`,
    claims: () => ({
      tid: 'tenant-1',
      oid: 'object-7',
      preferred_username: 'Ann@Contoso.example',
      given_name: 'Ann',
      groups: ['g-admins'],
    }),
  });
  t.teardown(op.close);
  const idp = await addOidcIdp(w, 'Entra ID', op.issuer, 'oidc-entra', { emailDomains: ['contoso.example'] });
  const { sp } = await w.addApp('Jira', { attributeRelease: ['email', 'groups'] } as never);
  await w.org.store.users.create({ email: 'ann@contoso.example' });
  const browser = new Browser(w.ta);
  const { page } = await back(w, browser, await op.login((await toIdp(w, browser, sp)).href, 'pairwise-sub-1'));
  const { res: done } = await browser.follow(page, w.base);
  const { profile } = await appReceives(sp, done);
  t.equal(profile.nameID, 'ann@contoso.example');
  const user = (await w.org.store.users.findByEmail('ann@contoso.example'))!;
  t.equal(
    (await w.org.store.users.findByIdentity(idp.id, 'tenant-1/object-7'))?.id,
    user.id,
    'linked by (tid, oid), not sub',
  );
});

t.test('forged ID tokens: each refused with its own code, nothing issued downstream', async (t) => {
  const w = await createWorld('forgepipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const op = await startForgingOp();
  t.teardown(op.close);
  const forge = await addOidcIdp(w, 'Forge', op.issuer, 'oidc-okta', { emailDomains: ['customer.example'] });
  // A SAML IdP of the same organisation, whose entityID an OIDC token may name as its iss (a mix-up): the app's
  // primary IdP is the OIDC one, so the chooser is not shown.
  const { idp: samlIdp } = await w.addIdp('Okta', { emailDomains: ['partner.example'] });
  const { sp } = await w.addApp('Jira', { primaryIdpId: forge.id });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const now = () => Math.floor(w.ta.clock.now().getTime() / 1000);
  const good = (nonce: string) => ({
    iss: op.issuer,
    aud: 'broker',
    sub: 'ann',
    nonce,
    iat: now(),
    exp: now() + 300,
    email: 'ann@customer.example',
    email_verified: true,
  });
  const { generateKeyPair } = await import('jose');
  const stranger = (await generateKeyPair('RS256')).privateKey;

  /** One sign-in: the broker sends us to the OP, the OP "answers" with a code, its token endpoint with `idToken`. */
  async function attempt(make: (nonce: string) => Promise<string | { body: string }>) {
    const browser = new Browser(w.ta);
    const auth = await toIdp(w, browser, sp);
    const made = await make(auth.searchParams.get('nonce')!);
    op.answer = typeof made === 'string' ? { idToken: made } : { body: made.body };
    const { page } = await back(
      w,
      browser,
      `${w.base}/oidc/callback?code=c0de&state=${auth.searchParams.get('state')}&iss=${encodeURIComponent(op.issuer)}`,
    );
    return { page, browser, auth };
  }
  const cases: Array<[string, string, (nonce: string) => Promise<string | { body: string }>]> = [
    ['an honest token is accepted (the control)', '', (n) => op.sign(good(n))],
    ['nonce mismatch', 'oidc_nonce_mismatch', (n) => op.sign({ ...good(n), nonce: 'another-sign-ins-nonce' })],
    ['signed by an unknown key', 'oidc_unknown_key', (n) => op.sign(good(n), { kid: 'k2' }, stranger)],
    ['signed by another key under the known kid', 'oidc_bad_signature', (n) => op.sign(good(n), {}, stranger)],
    ['alg none', 'oidc_weak_algorithm', async (n) => unsignedToken(good(n))],
    // The classic key-confusion attack: the IdP's public key (PEM, as anyone can fetch it) used as an HMAC secret.
    [
      'HS256 signed with the public key',
      'oidc_weak_algorithm',
      (n) =>
        op.sign(
          good(n),
          { alg: 'HS256' },
          new TextEncoder().encode(
            String(
              createPublicKey({ key: op.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
            ),
          ),
        ),
    ],
    ['wrong issuer (mix-up)', 'oidc_wrong_issuer', (n) => op.sign({ ...good(n), iss: 'https://other-idp.example' })],
    // The issuer of another IdP this organisation trusts (a SAML one): still not the issuer this sign-in went to.
    [
      "the entityID of the organisation's SAML IdP as iss (mix-up)",
      'oidc_wrong_issuer',
      (n) => op.sign({ ...good(n), iss: samlIdp.entityId }),
    ],
    ['wrong audience', 'oidc_wrong_audience', (n) => op.sign({ ...good(n), aud: 'another-client' })],
    ['azp naming another party', 'oidc_wrong_audience', (n) => op.sign({ ...good(n), aud: ['broker', 'x'], azp: 'x' })],
    ['expired', 'oidc_expired', (n) => op.sign({ ...good(n), iat: now() - 7200, exp: now() - 3600 })],
    [
      'issued in the future',
      'oidc_not_yet_valid',
      (n) => op.sign({ ...good(n), iat: now() + 3600, exp: now() + 7200 }),
    ],
    ['malformed token', 'oidc_malformed', async () => 'not.a.jwt'],
    ['oversized token', 'oidc_too_large', async (n) => op.sign({ ...good(n), padding: 'x'.repeat(100_000) })],
    ['malformed token response', 'oidc_malformed', async () => ({ body: '{"access_token": ' })],
  ];
  for (const [name, code, make] of cases) {
    await t.test(name, async (t) => {
      const { page, browser } = await attempt(make);
      if (!code) {
        const { res } = await browser.follow(page, w.base);
        t.equal((await appReceives(sp, res)).profile.nameID, 'ann@customer.example');
        return;
      }
      t.equal(codeOf(page.body), code);
      t.equal(page.statusCode, 400);
      t.notOk(formIn(page.body)?.fields.SAMLResponse, 'nothing issued downstream');
    });
  }

  await t.test(
    "nonce replay: a token, once used, is refused on its own sign-in's second callback and elsewhere",
    async (t) => {
      const { page, browser, auth } = await attempt((n) => op.sign(good(n)));
      await browser.follow(page, w.base);
      const again = await browser.get(`${w.base}/oidc/callback?code=c0de&state=${auth.searchParams.get('state')}`);
      t.equal(codeOf((await browser.follow(again, w.base)).res.body), 'flow_already_used', 'the flow moved on');
      // The same token (its nonce) offered to a new sign-in: its nonce is not the new one's.
      const used = op.answer.idToken!;
      const second = await attempt(async () => used);
      t.equal(codeOf(second.page.body), 'oidc_nonce_mismatch');
    },
  );
});
