// Security headers through @fastify/helmet and the per-page Content-Security-Policy: scripts and styles only with
// the response's nonce, nothing loadable from non-page responses, and the few cross-origin needs of the login and
// logout pages (the app's ACS as a form target, an app's SLO URL in the logout frame) allowed on those pages only.
import t, { type Test } from 'tap';
import { SAML } from '@node-saml/node-saml';
import type { LightMyRequestResponse } from 'fastify';
import { cspOrigin } from '../../src/plugins/content-security-policy.ts';
import { saveAppPolicy } from '../../src/policy/app-policy.ts';
import { createTestApp } from '../helpers/app.ts';
import { pressReturn } from '../helpers/return-to-app.ts';
import { Browser } from '../helpers/browser.ts';
import { createOrg } from '../helpers/context.ts';
import { appReceives, createWorld, idpAnswers } from '../helpers/sso-world.ts';

/** The page's CSP as directive → sources. */
function policyOf(res: LightMyRequestResponse): Map<string, string[]> {
  const header = String(res.headers['content-security-policy'] ?? '');
  return new Map(
    header
      .split(';')
      .filter(Boolean)
      .map((d) => {
        const [name, ...sources] = d.trim().split(/\s+/);
        return [name, sources];
      }),
  );
}

/** Every <script> and <style> tag's nonce attribute (null when a tag has none). */
const tagNonces = (html: string) =>
  [...html.matchAll(/<(script|style)\b([^>]*)>/g)].map((m) => /\snonce="([^"]+)"/.exec(m[2])?.[1] ?? null);

function assertNoncedPage(t: Test, res: LightMyRequestResponse, what: string) {
  const csp = policyOf(res);
  const scriptSrc = csp.get('script-src') ?? [];
  t.equal(scriptSrc.length, 1, `${what}: script-src is the nonce alone`);
  const nonce = /^'nonce-([A-Za-z0-9+/=]+)'$/.exec(scriptSrc[0] ?? '')?.[1];
  t.ok(nonce, `${what}: a nonce in script-src`);
  t.notMatch(
    String(res.headers['content-security-policy']).replace("style-src-attr 'unsafe-inline'", ''),
    /unsafe-inline|unsafe-eval/,
    `${what}: no unsafe-inline beyond style attributes`,
  );
  t.same(csp.get('style-src'), ["'self'", `'nonce-${nonce}'`], `${what}: styles from us or with the nonce`);
  const nonces = tagNonces(res.body);
  t.ok(nonces.length > 0, `${what}: the page has inline script or style`);
  t.ok(
    nonces.every((n) => n === nonce),
    `${what}: every script and style tag carries the header's nonce`,
  );
  t.notMatch(res.body, /\son[a-z]+="/, `${what}: no inline event handler attributes`);
  return { csp, nonce: nonce! };
}

t.test('pages carry a CSP with a fresh nonce per response; other responses allow nothing', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  await createOrg(ta.ctx, 'acme', 'Acme');

  const login1 = await ta.request('acme', { method: 'GET', url: '/admin/login' });
  const login2 = await ta.request('acme', { method: 'GET', url: '/admin/login' });
  const first = assertNoncedPage(t, login1, 'admin sign-in');
  const second = assertNoncedPage(t, login2, 'admin sign-in again');
  t.not(first.nonce, second.nonce, 'each response has its own nonce');
  t.same(first.csp.get('default-src'), ["'self'"]);
  t.same(first.csp.get('frame-ancestors'), ["'none'"], 'pages are not framed');
  t.same(first.csp.get('form-action'), ["'self'"], 'forms post to us only');
  t.same(first.csp.get('img-src'), ["'self'", 'data:'], 'images from us and data: URLs (QR codes)');
  t.same(first.csp.get('base-uri'), ["'none'"]);
  t.same(first.csp.get('object-src'), ["'none'"]);

  const missing = await ta.request('acme', { method: 'GET', url: '/no-such-page' });
  t.equal(missing.statusCode, 404);
  assertNoncedPage(t, missing, 'branded error page');
  const welcome = await ta.request(null, { method: 'GET', url: '/' });
  assertNoncedPage(t, welcome, 'root page');

  for (const [slug, url] of [
    ['acme', '/saml/idp/metadata'],
    [null, '/healthz'],
    ['acme', '/api/users'],
  ] as const) {
    const res = await ta.request(slug, { method: 'GET', url });
    t.equal(
      res.headers['content-security-policy'],
      "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
      `${url}: the strict policy`,
    );
  }

  for (const res of [login1, missing, await ta.request('acme', { method: 'GET', url: '/saml/idp/metadata' })]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff');
    t.equal(res.headers['referrer-policy'], 'no-referrer');
    t.equal(res.headers['x-frame-options'], 'DENY');
    t.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
    t.notOk(res.headers['strict-transport-security'], 'no HSTS on an http deployment');
    t.notOk(res.headers['x-powered-by']);
    t.ok(res.headers['x-request-id'], 'the request id is still sent');
  }
});

t.test('HSTS behind https, for this host only', async (t) => {
  const ta = await createTestApp({ env: { PUBLIC_SCHEME: 'https' } });
  t.teardown(ta.cleanup);
  const res = await ta.request(null, { method: 'GET', url: '/healthz' });
  t.equal(res.headers['strict-transport-security'], 'max-age=31536000');
});

t.test("the logo URL's origin may serve images; a URL that could widen the policy is left out", async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const { org } = await createOrg(ta.ctx, 'acme', 'Acme');
  await ta.ctx.store.organizations.update(org.id, { logoUrl: 'https://cdn.acme.example/brand/logo.png' });
  let res = await ta.request('acme', { method: 'GET', url: '/admin/login' });
  t.same(policyOf(res).get('img-src'), ["'self'", 'data:', 'https://cdn.acme.example']);

  t.equal(cspOrigin('https://cdn.acme.example:8443/x?y#z'), 'https://cdn.acme.example:8443');
  t.equal(cspOrigin('https://a;script-src *.example/'), null, 'a semicolon cannot end the directive');
  t.equal(cspOrigin('https://a,b.example/'), null, 'nor a comma start another policy');
  t.equal(cspOrigin('javascript:alert(1)'), null);
  t.equal(cspOrigin('data:image/png;base64,AAAA'), null);
  t.equal(cspOrigin('/branding/logo?v=1'), null, 'a path is ours already');
  t.equal(cspOrigin('not a url'), null);
  t.equal(cspOrigin(null), null);
  t.equal(cspOrigin('http://[::1]:3000/acs'), 'http://[::1]:3000');

  await ta.ctx.store.organizations.update(org.id, { logoUrl: 'https://a;script-src *.example/' }).catch(() => null);
  res = await ta.request('acme', { method: 'GET', url: '/admin/login' });
  t.notMatch(
    String(res.headers['content-security-policy']),
    /script-src \*/,
    'a hostile logo URL does not reach the policy',
  );
});

const ANN = 'ann@customer.example';

t.test(
  "the login's auto-POST page may post to the app's ACS; the logout chain may frame the app's SLO URL",
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
    const { app: jira } = await w.addApp('Jira', { primaryIdpId: idp.id, sloUrl: 'https://jira.example/slo' });
    const { app: confluence, sp: confluenceSp } = await w.addApp('Confluence', {
      sloUrl: 'https://wiki.confluence.example:8443/saml/slo',
    });
    await w.org.store.users.create({ email: ANN, source: 'imported' });
    const jiraSp = new SAML({
      ...(w.nodeSaml(jira) as unknown as { options: object }).options,
      logoutUrl: w.org.urls.idpSlo,
    } as never);
    const browser = new Browser(w.ta);

    const start = await browser.get(await jiraSp.getAuthorizeUrlAsync('', undefined, {}));
    const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
    const post = (await browser.follow(acs.res, w.base)).res;
    const { csp } = assertNoncedPage(t, post, 'auto-POST to the app');
    t.same(
      csp.get('form-action'),
      ["'self'", 'https://jira.example', 'https:'],
      "the form may go to the app's ACS origin, and on through https redirects",
    );
    t.match(
      post.body,
      /<script nonce="[^"]+">document.getElementById\('saml-post'\).submit\(\);<\/script>/,
      'the auto-submit script runs with the nonce',
    );
    const { profile } = await appReceives(jiraSp, post);
    const second = (
      await browser.follow(await browser.get(await confluenceSp.getAuthorizeUrlAsync('', undefined, {})), w.base)
    ).res;
    t.same(
      policyOf(second).get('form-action'),
      ["'self'", 'https://confluence.example', 'https:'],
      'each response names its own target',
    );
    await appReceives(confluenceSp, second);

    const logout = await browser.get(await jiraSp.getLogoutUrlAsync(profile, '', {}));
    const chainUrl = String(logout.headers.location);
    const chain = await browser.get(w.base + chainUrl);
    t.match(chain.body, /<iframe src="[^"]+\/hop"/);
    const chainCsp = assertNoncedPage(t, chain, 'logout chain page').csp;
    t.same(
      chainCsp.get('frame-src'),
      ["'self'", 'https://wiki.confluence.example:8443'],
      "the frame may follow the hop to Confluence's SLO origin",
    );
    t.same(chainCsp.get('frame-ancestors'), ["'none'"], 'the chain page itself is not framed');
    t.equal(chain.headers['x-frame-options'], 'DENY');

    const hop = await browser.get(`${w.base}${chainUrl}/hop`);
    t.equal(hop.headers['x-frame-options'], 'SAMEORIGIN');
    const toConfluence = String(hop.headers.location);
    const confluenceSlo = new SAML({
      ...(w.nodeSaml(confluence) as unknown as { options: object }).options,
      logoutUrl: w.org.urls.idpSlo,
    } as never);
    const params = Object.fromEntries(new URL(toConfluence).searchParams);
    const { profile: seen } = await confluenceSlo.validateRedirectAsync(
      params,
      toConfluence.slice(toConfluence.indexOf('?') + 1),
    );
    const done = await browser.get(await confluenceSlo.getLogoutResponseUrlAsync(seen!, params.RelayState, {}, true));
    t.equal(done.statusCode, 200);
    t.equal(done.headers['x-frame-options'], 'SAMEORIGIN', "the hop's end page loads in our frame");
    const doneCsp = assertNoncedPage(t, done, 'hop end page').csp;
    t.same(doneCsp.get('frame-ancestors'), ["'self'"], 'framed by our own pages only');
    t.same(doneCsp.get('frame-src'), ["'self'"]);
  },
);

t.test(
  'the access-denied page posts only to us ("Return to <app>"), whose page may then post to the app',
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
    const { app, sp } = await w.addApp('Jira', { primaryIdpId: idp.id });
    await saveAppPolicy(w.org.store, app, [{ id: 'nobody', action: 'deny', conditions: {}, message: 'Not today.' }], {
      actor: 'test',
      at: new Date(),
    });
    await w.org.store.users.create({ email: ANN, source: 'imported' });
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
    const denied = (await browser.follow(acs.res, w.base)).res;
    t.equal(denied.statusCode, 403);
    t.match(denied.body, /Not today\./);
    t.same(policyOf(denied).get('form-action'), ["'self'"]);
    assertNoncedPage(t, denied, 'access denied');
    const back = await pressReturn(browser, w.base, denied);
    t.same(policyOf(back).get('form-action'), ["'self'", 'https://jira.example', 'https:'], 'the auto-POST to the app');
  },
);
