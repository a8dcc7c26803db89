// Host resolution, the welcome page's first-organisation setup (loopback only), error pages and health.
import t from 'tap';
import { freshRedisPrefix, redisSkipped } from '../helpers/redis.ts';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';

t.test('welcome page and host resolution', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);

  t.test('a fresh server offers setup to a loopback browser only', async (t) => {
    const local = await ta.request(null, { method: 'GET', url: '/', remoteAddress: '127.0.0.1' });
    t.equal(local.statusCode, 200);
    t.match(local.body, /Create organisation/);
    const remote = await ta.request(null, { method: 'GET', url: '/', remoteAddress: '203.0.113.9' });
    t.equal(remote.statusCode, 403);
    t.match(remote.body, /setup_loopback_only/);
    const forwarded = await ta.request(null, {
      method: 'GET',
      url: '/',
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    t.equal(forwarded.statusCode, 403, 'a request relayed by a local proxy is not treated as local');
    const post = await ta.request(null, {
      method: 'POST',
      url: '/',
      remoteAddress: '203.0.113.9',
      payload: { name: 'X', slug: 'xorg', adminEmail: 'a@x.example' },
    });
    t.equal(post.statusCode, 403);
    t.equal(await ta.ctx.store.organizations.count(), 0, 'nothing created from a remote address');
  });

  t.test('invalid input is shown next to the fields and nothing is created', async (t) => {
    const res = await ta.request(null, {
      method: 'POST',
      url: '/',
      remoteAddress: '127.0.0.1',
      payload: { name: '', slug: 'Admin', adminEmail: 'nope' },
    });
    t.equal(res.statusCode, 400);
    t.match(res.body, /Name is required/);
    t.match(res.body, /Address must be lowercase/);
    t.match(res.body, /Email is not a valid email address/);
    t.match(res.body, /value="Admin"/, 'entered values are kept');
    t.equal(await ta.ctx.store.organizations.count(), 0);
  });

  t.test('creates the first organisation and shows its URLs and one-time password', async (t) => {
    const res = await ta.request(null, {
      method: 'POST',
      url: '/',
      remoteAddress: '::1',
      payload: { name: 'Pied Pipers', slug: 'piedpipers', adminEmail: 'admin@pp.example' },
    });
    t.equal(res.statusCode, 200);
    t.match(res.body, /Pied Pipers is ready/);
    t.match(res.body, /http:\/\/piedpipers\.broker\.test\/saml\/idp\/metadata/);
    t.match(res.body, /One-time password/);
  });

  t.test('once an organisation exists, setup is closed', async (t) => {
    const res = await ta.request(null, {
      method: 'POST',
      url: '/',
      remoteAddress: '127.0.0.1',
      payload: { name: 'Second', slug: 'second', adminEmail: 'a@s.example' },
    });
    t.equal(res.statusCode, 403);
    t.match(res.body, /setup_done/);
    const root = await ta.request(null, { method: 'GET', url: '/', remoteAddress: '127.0.0.1' });
    t.equal(root.statusCode, 200);
    t.notMatch(root.body, /Create organisation/);
  });

  t.test('the organisation host resolves; unknown organisations and hosts get a 404 page', async (t) => {
    const login = await ta.request('piedpipers', { method: 'GET', url: '/login' });
    t.equal(login.statusCode, 200);
    t.match(login.body, /Sign in to Pied Pipers/);
    const upper = await ta.app.inject({ method: 'GET', url: '/login', headers: { host: 'PiedPipers.Broker.Test' } });
    t.equal(upper.statusCode, 200, 'hosts are case-insensitive');
    const unknown = await ta.request('nosuchorg', { method: 'GET', url: '/login' });
    t.equal(unknown.statusCode, 404);
    t.match(unknown.headers['content-type'], /text\/html/);
    t.match(unknown.body, /There is no organisation called &quot;nosuchorg&quot;/);
    t.notMatch(unknown.body, /at .*\.ts:\d+/, 'no stack trace');
    const foreign = await ta.app.inject({ method: 'GET', url: '/login', headers: { host: 'evil.example' } });
    t.equal(foreign.statusCode, 404);
    const json = await ta.request('nosuchorg', {
      method: 'GET',
      url: '/saml/idp/metadata',
      headers: { accept: 'application/json' },
    });
    t.same(json.json().error.code, 'unknown_organization');
    const missing = await ta.request('piedpipers', { method: 'GET', url: '/no/such/page' });
    t.equal(missing.statusCode, 404);
    t.match(missing.body, /Pied Pipers/, 'the 404 page is branded for the organisation');
  });

  t.test('organisation pages are branded with its own name and colours only', async (t) => {
    const other = await createOrg(ta.ctx, 'hooli', 'Hooli');
    await ta.ctx.store.organizations.update(other.org.id, {
      primaryColor: '#ff0000',
      loginMessage: 'Use your Hooli account',
    });
    const hooli = await ta.request('hooli', { method: 'GET', url: '/login' });
    t.match(hooli.body, /--primary: #ff0000/);
    t.match(hooli.body, /Use your Hooli account/);
    t.notMatch(hooli.body, /Pied Pipers/);
    const pp = await ta.request('piedpipers', { method: 'GET', url: '/login' });
    t.notMatch(pp.body, /Hooli/);
  });

  t.test('health and readiness answer on any host; request ids are returned', async (t) => {
    const h = await ta.app.inject({ method: 'GET', url: '/healthz', headers: { host: 'lb.internal' } });
    t.same(h.json(), { status: 'ok' });
    const r = await ta.app.inject({ method: 'GET', url: '/readyz', headers: { host: '10.0.0.5:3000' } });
    t.same(r.json(), { status: 'ready' });
    t.ok(r.headers['x-request-id']);
    const given = await ta.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'trace-12345678' },
    });
    t.equal(given.headers['x-request-id'], 'trace-12345678');
    const forged = await ta.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'bad id\nwith newline' },
    });
    t.not(forged.headers['x-request-id'], 'bad id\nwith newline');
  });
});

t.test('readiness reports pending migrations', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  await ta.ctx.store.db.$executeRawUnsafe('DELETE FROM _prisma_migrations');
  const r = await ta.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(r.statusCode, 503);
  t.equal(r.json().code, 'migrations_pending');
});

t.test('readiness checks Redis when REDIS_URL is set', { skip: redisSkipped }, async (t) => {
  const redis = freshRedisPrefix();
  t.teardown(redis.clear);
  const ta = await createTestApp({ env: redis.env });
  t.teardown(ta.cleanup);
  t.same((await ta.app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready' });
  ta.ctx.store.redis!.client.disconnect();
  const r = await ta.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(r.statusCode, 503);
  t.equal(r.json().code, 'redis_unreachable');
});
