// Rate limits on the login, second-factor, admin sign-in and API routes: per client address and per organisation,
// in memory or shared through Redis; 429 with Retry-After as the branded page or the JSON error `rate_limited`.
import t from 'tap';
import { addressKey, groupOf } from '../../src/plugins/rate-limit.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { freshRedisPrefix } from '../helpers/redis.ts';

const OFF = {
  RATE_LIMIT_LOGIN_PER_MINUTE: '0',
  RATE_LIMIT_MFA_PER_MINUTE: '0',
  RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '0',
  RATE_LIMIT_API_PER_MINUTE: '0',
  RATE_LIMIT_ORG_PER_MINUTE: '0',
};

async function appWith(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string>,
  slugs = ['acme'],
): Promise<TestApp> {
  const ta = await createTestApp({ env: { ...OFF, ...env } });
  t.teardown(ta.cleanup);
  for (const slug of slugs) await createOrg(ta.ctx, slug, slug.toUpperCase());
  return ta;
}

const adminLogin = (ta: TestApp, slug: string, ip = '198.51.100.7', headers: Record<string, string> = {}) =>
  ta.request(slug, {
    method: 'POST',
    url: '/admin/login',
    remoteAddress: ip,
    headers,
    payload: { email: 'nobody@acme.example', password: 'wrong' },
  });

t.test('route groups come from the route pattern; health, readiness and metrics are in none', async (t) => {
  t.equal(groupOf('POST', '/flow/:id/mfa'), 'mfa');
  t.equal(groupOf('GET', '/flow/:id/mfa'), 'login', 'showing the form is part of the login');
  t.equal(groupOf('POST', '/admin/login'), 'adminLogin');
  t.equal(groupOf('POST', '/admin/login/totp'), 'adminLogin');
  t.equal(groupOf('POST', '/operator/login'), 'adminLogin', 'the operator sign-in: the same limit');
  t.equal(groupOf('POST', '/operator/login/totp'), 'adminLogin');
  t.equal(groupOf('GET', '/admin/login'), null, 'the form itself is not limited');
  t.equal(groupOf('GET', '/api/users/:id'), 'api');
  t.equal(groupOf('PATCH', '/scim/v2/:idpId/Users/:id'), 'api', 'SCIM clients count as API clients');
  for (const route of ['/saml/idp/sso', '/saml/sp/acs', '/flow/:id/continue', '/apps/:appId/launch'])
    t.equal(groupOf('GET', route), 'login', route);
  for (const route of ['/healthz', '/readyz', '/metrics', '/admin', '/saml/idp/metadata', '/login', undefined])
    t.equal(groupOf('GET', route), null, String(route));
});

t.test('addresses are counted as IPv4 addresses or IPv6 /64 networks', async (t) => {
  t.equal(addressKey('198.51.100.7'), '198.51.100.7');
  t.equal(addressKey('::ffff:198.51.100.7'), '198.51.100.7', 'IPv4-mapped IPv6 is the IPv4 address');
  t.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'another host of the same /64');
  t.equal(addressKey('2001:0db8:0001:0002::9'), '2001:db8:1:2::/64', 'leading zeros do not make another key');
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(addressKey('::1'), '0:0:0:0::/64');
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
});

t.test(
  'per address: 429 with Retry-After after the limit, as the branded page or JSON; other addresses go on',
  async (t) => {
    const ta = await appWith(t, { RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '3' });
    for (let i = 0; i < 3; i++)
      t.equal((await adminLogin(ta, 'acme')).statusCode, 403, `attempt ${i + 1} reaches the sign-in`);
    const page = await adminLogin(ta, 'acme');
    t.equal(page.statusCode, 429);
    const retry = Number(page.headers['retry-after']);
    t.ok(retry >= 1 && retry <= 60, `Retry-After in seconds (${page.headers['retry-after']})`);
    t.match(page.headers['content-type'], /text\/html/);
    t.match(page.body, /rate_limited/, 'the error code on the page');
    t.match(page.body, /Too many requests/);
    t.match(page.body, /<span class="name">ACME<\/span>/, 'branded with the organisation');
    t.ok(page.headers['content-security-policy'], 'the error page has its CSP');

    const json = await adminLogin(ta, 'acme', '198.51.100.7', { accept: 'application/json' });
    t.equal(json.statusCode, 429);
    t.ok(json.headers['retry-after']);
    t.equal(json.json().error.code, 'rate_limited');

    t.equal((await adminLogin(ta, 'acme', '203.0.113.9')).statusCode, 403, 'another address is not affected');
    t.equal((await adminLogin(ta, 'acme', '2001:db8:1:2::1')).statusCode, 403);
    t.equal((await adminLogin(ta, 'acme', '2001:db8:1:2::2')).statusCode, 403);
    t.equal((await adminLogin(ta, 'acme', '2001:db8:1:2::3')).statusCode, 403);
    t.equal(
      (await adminLogin(ta, 'acme', '2001:db8:1:2:ffff::4')).statusCode,
      429,
      'IPv6 hosts of one /64 share a count',
    );
    t.equal((await adminLogin(ta, 'acme', '2001:db8:1:3::1')).statusCode, 403, 'the next /64 has its own');
  },
);

t.test('the address comes from X-Forwarded-For only when TRUST_PROXY trusts the proxy', async (t) => {
  const trusted = await appWith(t, { RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '1', TRUST_PROXY: 'true' });
  t.equal((await adminLogin(trusted, 'acme', '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).statusCode, 403);
  t.equal(
    (await adminLogin(trusted, 'acme', '10.0.0.1', { 'x-forwarded-for': '198.51.100.2' })).statusCode,
    403,
    'two users behind one proxy',
  );
  t.equal((await adminLogin(trusted, 'acme', '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).statusCode, 429);

  const untrusted = await appWith(t, { RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '1' });
  t.equal((await adminLogin(untrusted, 'acme', '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).statusCode, 403);
  t.equal(
    (await adminLogin(untrusted, 'acme', '10.0.0.1', { 'x-forwarded-for': '198.51.100.2' })).statusCode,
    429,
    'a forged header does not buy a new address',
  );
});

t.test('the second-factor form is limited tighter than the login routes', async (t) => {
  const ta = await appWith(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '5', RATE_LIMIT_MFA_PER_MINUTE: '2' });
  const mfa = () =>
    ta.request('acme', {
      method: 'POST',
      url: '/flow/f-unknown/mfa',
      remoteAddress: '198.51.100.7',
      payload: { code: '123456' },
    });
  const sso = () => ta.request('acme', { method: 'GET', url: '/saml/idp/sso', remoteAddress: '198.51.100.7' });
  t.not((await mfa()).statusCode, 429);
  t.not((await mfa()).statusCode, 429);
  t.equal((await mfa()).statusCode, 429, 'third code submission in the minute');
  for (let i = 0; i < 5; i++) t.not((await sso()).statusCode, 429, `login request ${i + 1} still allowed`);
  t.equal((await sso()).statusCode, 429, 'the login routes have their own, higher limit');
});

t.test('per organisation: a higher limit over every address; other organisations are not affected', async (t) => {
  const ta = await appWith(t, { RATE_LIMIT_LOGIN_PER_MINUTE: '100', RATE_LIMIT_ORG_PER_MINUTE: '4' }, [
    'acme',
    'globex',
  ]);
  const sso = (slug: string, n: number) =>
    ta.request(slug, { method: 'GET', url: '/saml/idp/sso', remoteAddress: `198.51.100.${n}` });
  for (let i = 1; i <= 4; i++) t.not((await sso('acme', i)).statusCode, 429, `address ${i}`);
  const over = await sso('acme', 99);
  t.equal(over.statusCode, 429, 'a fresh address is refused once the organisation is over its limit');
  t.ok(over.headers['retry-after']);
  t.not((await sso('globex', 99)).statusCode, 429, 'another organisation counts on its own');
  // The API counts towards the same organisation limit.
  t.equal(
    (await ta.request('acme', { method: 'GET', url: '/api/users', remoteAddress: '198.51.100.50' })).statusCode,
    429,
  );
});

t.test('health, readiness and metrics are never limited; 0 switches a limit off', async (t) => {
  const ta = await appWith(t, {
    RATE_LIMIT_LOGIN_PER_MINUTE: '1',
    RATE_LIMIT_MFA_PER_MINUTE: '1',
    RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '1',
    RATE_LIMIT_API_PER_MINUTE: '1',
    RATE_LIMIT_ORG_PER_MINUTE: '1',
  });
  for (let i = 0; i < 5; i++) {
    for (const url of ['/healthz', '/readyz', '/metrics'])
      t.not((await ta.request(null, { method: 'GET', url })).statusCode, 429, `${url} #${i + 1}`);
    t.not((await ta.request('acme', { method: 'GET', url: '/admin/login' })).statusCode, 429, 'the sign-in form');
  }
  const off = await appWith(t, {});
  for (let i = 0; i < 40; i++) t.not((await adminLogin(off, 'acme')).statusCode, 429);
});

t.test('Redis: two nodes share the count', async (t) => {
  const redis = freshRedisPrefix();
  t.teardown(redis.clear);
  const env = { ...redis.env, RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '3', RATE_LIMIT_ORG_PER_MINUTE: '100' };
  const a = await appWith(t, env);
  const b = await appWith(t, env);
  t.equal((await adminLogin(a, 'acme')).statusCode, 403);
  t.equal((await adminLogin(b, 'acme')).statusCode, 403);
  t.equal((await adminLogin(a, 'acme')).statusCode, 403);
  const over = await adminLogin(b, 'acme');
  t.equal(over.statusCode, 429, 'the fourth attempt, on the other node, is over the shared limit');
  t.ok(Number(over.headers['retry-after']) >= 1);
  const keys = await redis.keys();
  t.ok(
    keys.some((k) => k.startsWith(`${redis.prefix}rate:adminLogin:`)),
    "counted under the broker's key prefix",
  );
  t.ok(
    keys.some((k) => k === `${redis.prefix}rate:org:acme`),
    "and the organisation's count",
  );
});
