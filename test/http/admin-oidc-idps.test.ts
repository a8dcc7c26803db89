// The console's OpenID Connect IdPs through HTTP: the redirect URI to paste, the form (issuer, client ID and secret,
// preset, trust), its field errors (the secret never echoed), the IdP page, and "Test connection" with its diagnosis
// (clock skew, unknown kid, wrong issuer, a redirect URI the IdP refused), against an OP on loopback.
import type { LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { signedInAdmin } from '../helpers/admin.ts';
import { createTestApp } from '../helpers/app.ts';
import { startForgingOp } from '../helpers/oidc-op.ts';

const errorFor = (html: string, id: string) => new RegExp(`id="${id}-error">([^<]*)<`).exec(html)?.[1] ?? null;
const browserCookieOf = (res: LightMyRequestResponse) =>
  (res.cookies as { name: string; value: string }[]).find((c) => c.name === 'broker_browser')?.value;

t.test('console: OpenID Connect identity providers', async (t) => {
  const ta = await createTestApp({ env: { METADATA_ALLOW_PRIVATE: 'true' } });
  t.teardown(ta.cleanup);
  const op = await startForgingOp();
  t.teardown(op.close);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const redirectUri = `http://piedpipers.${ta.config.baseDomain}/oidc/callback`;

  const page = await admin.get('/admin/idps/new');
  t.equal(page.statusCode, 200);
  t.match(page.body, `<code>${redirectUri}</code>`, 'the redirect URI to paste at the IdP');
  t.match(page.body, /id="by-oidc"/);

  const form = {
    name: 'Okta OIDC',
    issuer: op.issuer,
    clientId: 'broker',
    clientSecret: 'very-secret',
    clientAuth: 'client_secret_basic',
    mappingPreset: 'oidc-okta',
    scopes: 'openid email profile',
    emailDomains: 'customer.example',
    linkingMode: 'verified-domains',
  };
  const missing = await admin.post('/admin/idps/new/oidc', { ...form, clientId: '' });
  t.equal(missing.statusCode, 400);
  t.equal(errorFor(missing.body, 'oidc-clientId'), 'Client ID is required.');
  t.notMatch(missing.body, /very-secret/, 'the secret is not echoed back');
  const wrong = await admin.post('/admin/idps/new/oidc', { ...form, issuer: `${op.issuer}/nothing-here` });
  t.equal(wrong.statusCode, 400);
  t.match(errorFor(wrong.body, 'oidc-issuer'), /discovery document: answered HTTP 404/);

  const created = await admin.post('/admin/idps/new/oidc', form);
  t.equal(created.statusCode, 303, created.body.slice(0, 300));
  const idpPath = String(created.headers.location).replace(/\?.*/, '');
  const show = await admin.get(idpPath);
  t.equal(show.statusCode, 200);
  t.match(show.body, `OpenID Connect issuer: <code>${op.issuer}</code>`);
  t.match(show.body, `<code>${redirectUri}</code>`, 'the values to paste at the IdP: redirect URI');
  t.match(
    show.body,
    `<code>http://piedpipers.${ta.config.baseDomain}/oidc/logout-callback</code>`,
    'post-logout redirect URI',
  );
  t.match(show.body, `<code>http://piedpipers.${ta.config.baseDomain}/oidc/initiate</code>`, 'initiate login URI');
  t.match(show.body, `<code>http://piedpipers.${ta.config.baseDomain}/oidc/jwks.json</code>`, 'JWKS URL');
  t.notMatch(show.body, /<h2>Settings<\/h2>/, 'no SAML settings form for an OIDC IdP');
  t.equal((await admin.post(idpPath, { name: 'x' })).statusCode, 400, 'and the SAML form cannot be posted to it');

  const now = () => Math.floor(ta.clock.now().getTime() / 1000);
  /** Test connection: the admin's browser goes to the OP; the OP's token endpoint answers `make(nonce)`. */
  async function runTest(make: (nonce: string) => Promise<string> | string, query?: (state: string) => string) {
    ta.clock.advance(1000);
    const start = await admin.post(`${idpPath}/test`);
    t.equal(start.statusCode, 302);
    const auth = new URL(String(start.headers.location));
    t.equal(`${auth.origin}${auth.pathname}`, `${op.issuer}/auth`);
    const browser = browserCookieOf(start) ?? /(?:^|; )broker_browser=([^;]+)/.exec(admin.cookie())?.[1];
    op.answer = { idToken: await make(auth.searchParams.get('nonce')!) };
    const state = auth.searchParams.get('state')!;
    const cb = await ta.request('piedpipers', {
      method: 'GET',
      url: `/oidc/callback?${query ? query(state) : `code=c&state=${state}`}`,
    });
    t.equal(cb.statusCode, 303);
    return ta.request('piedpipers', {
      method: 'GET',
      url: String(cb.headers.location),
      headers: { cookie: `broker_browser=${browser}` },
    });
  }
  const good = (nonce: string) => ({
    iss: op.issuer,
    aud: 'broker',
    sub: 'ann',
    nonce,
    iat: now(),
    exp: now() + 300,
    email: 'ann@customer.example',
    email_verified: true,
    given_name: 'Ann',
  });

  await t.test('success: the claims and the mapped profile', async (t) => {
    const res = await runTest((n) => op.sign(good(n)));
    t.match(res.body, /Test connection: success/);
    t.match(res.body, /ann@customer\.example/);
  });
  await t.test('clock skew', async (t) => {
    const res = await runTest((n) => op.sign({ ...good(n), iat: now() + 3600, exp: now() + 7200 }));
    t.match(res.body, /Clock skew/);
    t.match(res.body, /Measured clock offset/);
  });
  await t.test('unknown kid', async (t) => {
    const { generateKeyPair } = await import('jose');
    const stranger = (await generateKeyPair('RS256')).privateKey;
    const res = await runTest((n) => op.sign(good(n), { kid: 'rotated-away' }, stranger));
    t.match(res.body, /Signed by an unknown key/);
    t.match(res.body, /rotated-away/);
  });
  await t.test('wrong issuer', async (t) => {
    const res = await runTest((n) => op.sign({ ...good(n), iss: 'https://login.microsoftonline.com/common/v2.0' }));
    t.match(res.body, /Token from another issuer/);
  });
  await t.test('the IdP refused our redirect URI', async (t) => {
    const res = await runTest(
      () => '',
      (state) =>
        `error=invalid_request&error_description=${encodeURIComponent('redirect_uri did not match')}&state=${state}`,
    );
    t.match(res.body, /The identity provider did not sign in/);
    t.match(res.body, redirectUri, 'our redirect URI shown to compare');
  });
});
