// Signing-key rollover over /api/keys and on the console's keys page: create next, promote (now or scheduled and
// carried out by promoteDueKeys), retire; audit rows with the right actor; other organisations untouched.
// promoteDueKeys is also run against both databases (it reads across organisations).
import t from 'tap';
import { promoteDueKeys } from '../../src/orgs/hosted/key-rollover.ts';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';
import { createNextKey, schedulePromotion } from '../../src/orgs/hosted/key-rollover.ts';
import { orgUrls } from '../../src/orgs/urls.ts';

const HOUR = 3600_000;

t.test('/api/keys', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const token = await pp.apiToken('rollover');
  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object, auth = `Bearer ${token}`) =>
    ta.request('piedpipers', { method, url, headers: { authorization: auth }, ...(payload && { payload }) });
  const keysOf = async (orgId: string) => ta.ctx.store.forOrg(orgId).signingKeys.list();
  const audit = (type: string) => ta.ctx.store.forOrg(pp.orgId).audit.list({ type });
  const hooliKeysBefore = await keysOf(hooli.orgId);

  t.test('a token of this organisation is required', async (t) => {
    t.equal((await api('GET', '/api/keys', undefined, '')).statusCode, 401);
    t.equal((await api('POST', '/api/keys/next', undefined, `Bearer ${await hooli.apiToken()}`)).statusCode, 401);
    t.equal((await keysOf(pp.orgId)).length, 1);
  });

  t.test('list: the active key with its fingerprint and certificate expiry', async (t) => {
    const res = await api('GET', '/api/keys');
    t.equal(res.statusCode, 200);
    const [active] = res.json().keys;
    t.match(active, {
      status: 'active',
      fingerprint: /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/,
      notAfter: /^\d{4}-/,
      certificatePem: /BEGIN CERTIFICATE/,
      promoteAt: null,
    });
  });

  let nextId = '';
  t.test('create next: published, audited; a second one is refused', async (t) => {
    const res = await api('POST', '/api/keys/next');
    t.equal(res.statusCode, 201);
    nextId = res.json().id;
    t.match(res.json(), { status: 'next', activatedAt: null });
    const metadata = await ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' });
    const published = (await keysOf(pp.orgId)).map((k) => k.certificatePem.replace(/-----[A-Z ]+-----|\s/g, ''));
    for (const cert of published) t.ok(metadata.body.includes(cert), 'both certificates are in the metadata');
    const again = await api('POST', '/api/keys/next');
    t.equal(again.statusCode, 409);
    t.equal(again.json().error.code, 'next_key_exists');
    t.match(await audit('key.next_created'), [{ actor: 'api-token:rollover', details: { keyId: nextId } }]);
  });

  t.test('schedule: a past date is refused with the field named; a future one is stored and audited', async (t) => {
    const past = await api('PUT', '/api/keys/next/promote-at', {
      at: new Date(ta.clock.now().getTime() - HOUR).toISOString(),
    });
    t.equal(past.statusCode, 400);
    t.match(past.json(), {
      error: { code: 'validation_failed', details: { fields: { at: 'must be in the future' } } },
    });
    const notADate = await api('PUT', '/api/keys/next/promote-at', { at: 'tomorrow' });
    t.equal(notADate.statusCode, 400);
    const at = new Date(ta.clock.now().getTime() + 2 * HOUR);
    const res = await api('PUT', '/api/keys/next/promote-at', { at: at.toISOString() });
    t.equal(res.statusCode, 200);
    t.match(res.json(), { id: nextId, promoteAt: at.toISOString() });
    t.match(await audit('key.promotion_scheduled'), [
      { actor: 'api-token:rollover', details: { keyId: nextId, promoteAt: at.toISOString() } },
    ]);
  });

  t.test(
    'promoteDueKeys: nothing before the date; after it the key signs, audited as the scheduler, once',
    async (t) => {
      t.same(await promoteDueKeys(ta.ctx, ta.clock.now()), []);
      ta.clock.advance(2 * HOUR);
      const done = await promoteDueKeys(ta.ctx, ta.clock.now());
      t.match(done, [{ orgId: pp.orgId, keyId: nextId, outcome: 'promoted' }]);
      t.same(await promoteDueKeys(ta.ctx, ta.clock.now()), [], 'a second run finds nothing');
      const keys = await keysOf(pp.orgId);
      t.equal(keys.find((k) => k.id === nextId)?.status, 'active');
      t.equal(keys.filter((k) => k.status === 'previous').length, 1);
      t.match(await audit('key.promoted'), [{ actor: 'scheduler', details: { keyId: nextId } }]);
    },
  );

  t.test('promote now and retire', async (t) => {
    const none = await api('POST', '/api/keys/promote');
    t.equal(none.statusCode, 409);
    t.equal(none.json().error.code, 'no_next_key');
    t.equal(
      (await api('PUT', '/api/keys/next/promote-at', { at: null })).statusCode,
      409,
      'nothing to schedule without a next key',
    );
    const created = (await api('POST', '/api/keys/next')).json();
    const promoted = await api('POST', '/api/keys/promote');
    t.equal(promoted.statusCode, 200);
    t.match(promoted.json(), { id: created.id, status: 'active', activatedAt: ta.clock.now().toISOString() });
    const retired = await api('POST', '/api/keys/retire');
    t.same(retired.json(), { retired: 2 });
    const keys = (await api('GET', '/api/keys')).json().keys;
    t.same(
      keys.map((k: { status: string }) => k.status),
      ['active', 'retired', 'retired'],
      'in use first',
    );
    t.match(await audit('key.retired'), [{ actor: 'api-token:rollover' }]);
    t.same((await api('POST', '/api/keys/retire')).json(), { retired: 0 });
  });

  t.test("the other organisation's keys did not move", async (t) => {
    t.same(
      (await keysOf(hooli.orgId)).map((k) => [k.id, k.status]),
      hooliKeysBefore.map((k) => [k.id, k.status]),
    );
    const openapi = (await ta.request('piedpipers', { method: 'GET', url: '/api/openapi.json' })).json();
    for (const path of [
      '/api/keys',
      '/api/keys/next',
      '/api/keys/promote',
      '/api/keys/retire',
      '/api/keys/next/promote-at',
    ])
      t.ok(openapi.paths[path], `${path} is documented`);
  });
});

t.test('keys page in the console', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const keysOf = async (orgId: string) => ta.ctx.store.forOrg(orgId).signingKeys.list();
  const audit = (type: string) => ta.ctx.store.forOrg(pp.orgId).audit.list({ type });

  const page = await pp.get('/admin/organization/keys');
  t.equal(page.statusCode, 200);
  const [active] = await keysOf(pp.orgId);
  t.ok(
    page.body.includes(`<code style="font-size:.8rem;word-break:break-all">${active.fingerprint}</code>`),
    'the SHA-256 fingerprint is shown',
  );
  t.match(page.body, /badge ok">active/);
  t.match(page.body, /Create next key/);
  t.notMatch(page.body, /Promote next key now/, 'no promotion without a next key');

  t.equal((await pp.post('/admin/organization/keys/next', { _csrf: '' })).statusCode, 403, 'CSRF checked');
  const created = await pp.post('/admin/organization/keys/next');
  t.equal(created.statusCode, 303);
  t.equal(created.headers.location, '/admin/organization/keys?done=key-created');
  const withNext = await pp.get('/admin/organization/keys?done=key-created');
  t.match(withNext.body, /next key is published/);
  t.match(withNext.body, /badge">next/);
  t.match(withNext.body, /Promote next key now/);
  t.match(await audit('key.next_created'), [{ actor: pp.email }]);

  t.test('scheduling: errors next to the date field, then stored; cancel', async (t) => {
    const missing = await pp.post('/admin/organization/keys/promote-at', { at: '' });
    t.equal(missing.statusCode, 400);
    t.match(
      missing.body,
      /id="at" name="at" type="datetime-local"[^>]*aria-describedby="at-error" aria-invalid="true"/,
    );
    t.match(missing.body, /id="at-error">Date choose a date and time/);
    const past = await pp.post('/admin/organization/keys/promote-at', { at: '2026-01-14T09:00' });
    t.equal(past.statusCode, 400);
    t.match(past.body, /id="at-error">Date must be in the future/);
    t.match(past.body, /value="2026-01-14T09:00"/, 'the submitted date is kept');
    const ok = await pp.post('/admin/organization/keys/promote-at', { at: '2026-01-16T08:30' });
    t.equal(ok.statusCode, 303);
    const next = (await keysOf(pp.orgId)).find((k) => k.status === 'next')!;
    t.same(next.promoteAt, new Date('2026-01-16T08:30:00Z'), 'the form time is UTC');
    t.match((await pp.get('/admin/organization/keys')).body, /promotion scheduled for 2026-01-16 08:30 UTC/);
    const cancelled = await pp.post('/admin/organization/keys/promote-at', { cancel: '1' });
    t.equal(cancelled.headers.location, '/admin/organization/keys?done=promotion-cancelled');
    t.equal((await keysOf(pp.orgId)).find((k) => k.status === 'next')!.promoteAt, null);
    t.match(await audit('key.promotion_unscheduled'), [{ actor: pp.email }]);
  });

  t.test('a second next key is refused on the page, not as an error page', async (t) => {
    const res = await pp.post('/admin/organization/keys/next');
    t.equal(res.statusCode, 409);
    t.match(res.body, /role="alert">A next key already exists/);
    t.match(res.body, /<table class="data">/);
  });

  t.test('promote, then retire', async (t) => {
    const promoted = await pp.post('/admin/organization/keys/promote');
    t.equal(promoted.headers.location, '/admin/organization/keys?done=key-promoted');
    t.match(await audit('key.promoted'), [{ actor: pp.email }]);
    const page = await pp.get('/admin/organization/keys');
    t.match(page.body, /badge">previous/);
    t.match(page.body, /Retire previous keys/);
    const retired = await pp.post('/admin/organization/keys/retire');
    t.equal(retired.headers.location, '/admin/organization/keys?done=keys-retired');
    t.same((await keysOf(pp.orgId)).map((k) => k.status).sort(), ['active', 'retired']);
    t.match(await audit('key.retired'), [{ actor: pp.email }]);
  });

  t.test("another organisation's session does not reach these keys", async (t) => {
    const res = await ta.request('piedpipers', {
      method: 'POST',
      url: '/admin/organization/keys/next',
      headers: { cookie: hooli.cookie(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${hooli.csrf}`,
    });
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/login?expired');
    t.equal((await keysOf(pp.orgId)).filter((k) => k.status === 'next').length, 0);
    t.equal((await keysOf(hooli.orgId)).length, 1, 'and hooli still has its single key');
  });
});

for (const provider of testProviders()) {
  t.test(`promoteDueKeys across organisations (${provider})`, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const tenantOf = async (slug: string) => {
      const created = await createOrg(tc.ctx, slug, slug);
      return {
        org: (await tc.ctx.store.organizations.findById(created.org.id))!,
        store: created.store,
        urls: orgUrls(tc.config, slug),
      };
    };
    const a = await tenantOf('alpha');
    const b = await tenantOf('beta');
    const c = await tenantOf('gamma');
    const keyA = await createNextKey(tc.ctx, a, 'test');
    const keyB = await createNextKey(tc.ctx, b, 'test');
    await createNextKey(tc.ctx, c, 'test');
    await schedulePromotion(tc.ctx, a, new Date(tc.clock.now().getTime() + HOUR), 'test');
    await schedulePromotion(tc.ctx, b, new Date(tc.clock.now().getTime() + 3 * HOUR), 'test');
    // gamma has a next key but no schedule: it is never promoted by the scheduler.

    tc.clock.advance(2 * HOUR);
    // Two nodes running the scheduler at the same moment promote each key once.
    const [first, second] = await Promise.all([
      promoteDueKeys(tc.ctx, tc.clock.now()),
      promoteDueKeys(tc.ctx, tc.clock.now()),
    ]);
    t.match([...first, ...second], [{ orgId: a.org.id, keyId: keyA.id, outcome: 'promoted' }]);
    t.equal([...first, ...second].length, 1);
    t.equal((await a.store.audit.list({ type: 'key.promoted' })).length, 1);
    t.equal((await a.store.signingKeys.active())!.id, keyA.id);
    t.equal(
      (await b.store.signingKeys.list()).find((k) => k.id === keyB.id)!.status,
      'next',
      'beta waits for its own date',
    );

    tc.clock.advance(2 * HOUR);
    t.match(await promoteDueKeys(tc.ctx, tc.clock.now()), [{ orgId: b.org.id, keyId: keyB.id, outcome: 'promoted' }]);
    t.match(await b.store.audit.list({ type: 'key.promoted' }), [{ actor: 'scheduler' }]);
    t.equal((await c.store.signingKeys.list()).filter((k) => k.status === 'next').length, 1);
    t.equal((await c.store.audit.list({ type: 'key.promoted' })).length, 0);
  });
}
