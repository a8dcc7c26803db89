// API tokens over the API and their limits: list without secrets, create (the secret answered once; role up to the
// calling token's; optional expiry), revoke; a token's role is enforced (403 forbidden_role) and an expired token
// is refused (401 api_token_expired). Also the console form's role and expiry.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { adminWithRole, signedInAdmin } from '../helpers/admin.ts';

t.test('API tokens: roles, expiry and /api/tokens', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const api = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload && { payload }),
    });
  const adminToken = await pp.apiToken('automation');

  t.test('create: the secret once, role and expiry kept, audited; list never shows secrets', async (t) => {
    const expiresAt = new Date(ta.clock.now().getTime() + 3600_000).toISOString();
    const res = await api(adminToken, 'POST', '/api/tokens', { name: 'reporting', role: 'viewer', expiresAt });
    t.equal(res.statusCode, 201);
    t.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    t.match(body, {
      name: 'reporting',
      role: 'viewer',
      status: 'active',
      expiresAt,
      createdBy: 'api-token:automation',
      token: /^brk_[A-Za-z0-9_-]{43}$/,
    });
    t.equal((await api(body.token, 'GET', '/api/users')).statusCode, 200, 'the new token works');
    const list = await api(adminToken, 'GET', '/api/tokens');
    t.equal(list.statusCode, 200);
    t.notOk(list.body.includes(body.token), 'no secret in the list');
    t.same(
      list.json().tokens.map((x: { name: string; role: string }) => `${x.name}:${x.role}`),
      ['reporting:viewer', 'automation:admin'],
    );
    t.notOk('tokenHash' in list.json().tokens[0], 'nor its hash');
    const [event] = await ta.ctx.store
      .forOrg(pp.orgId)
      .audit.list({ type: 'api_token.created', actor: 'api-token:automation' });
    t.match(event, { details: { name: 'reporting', role: 'viewer', expiresAt } });

    t.test('a viewer token reads but cannot write, nor manage tokens', async (t) => {
      const write = await api(body.token, 'POST', '/api/users', { email: 'x@piedpipers.example' });
      t.equal(write.statusCode, 403);
      t.match(write.json(), { error: { code: 'forbidden_role', details: { required: 'admin', role: 'viewer' } } });
      t.match(write.json().error.message, /needs the admin role/);
      t.equal((await api(body.token, 'GET', '/api/tokens')).statusCode, 403);
    });

    t.test('expired: refused with its own code, the list says so', async (t) => {
      ta.clock.advance(3600_000);
      const res = await api(body.token, 'GET', '/api/users');
      t.equal(res.statusCode, 401);
      t.equal(res.json().error.code, 'api_token_expired');
      t.equal((await api(adminToken, 'GET', '/api/tokens')).json().tokens[0].status, 'expired');
    });
  });

  t.test('a token cannot create one above its own role; bad input is 400 with fields', async (t) => {
    const helpdesk = await pp.apiToken('desk', { role: 'helpdesk' });
    t.equal(
      (await api(helpdesk, 'POST', '/api/tokens', { name: 'x', role: 'viewer' })).statusCode,
      403,
      'a helpdesk token manages no tokens',
    );
    const res = await api(adminToken, 'POST', '/api/tokens', { name: 'escalate', role: 'owner' });
    t.equal(res.statusCode, 400);
    t.match(res.json(), {
      error: { code: 'validation_failed', details: { fields: { role: 'cannot be above your own role (admin)' } } },
    });
    const past = await api(adminToken, 'POST', '/api/tokens', { name: 'old', expiresAt: '2020-01-01T00:00:00Z' });
    t.match(past.json(), { error: { details: { fields: { expiresAt: 'must be in the future' } } } });
    t.match((await api(adminToken, 'POST', '/api/tokens', { name: 'x', role: 'boss' })).json(), {
      error: { code: 'validation_failed', details: { fields: { role: String } } },
    });
    t.match((await api(adminToken, 'POST', '/api/tokens', { role: 'viewer' })).json(), {
      error: { details: { fields: { name: 'is required' } } },
    });
  });

  t.test("revoke: 204, stops working, audited; twice or another organisation's is 404", async (t) => {
    const created = (await api(adminToken, 'POST', '/api/tokens', { name: 'short-lived' })).json();
    t.equal(created.role, 'admin', 'admin by default');
    t.equal((await api(adminToken, 'DELETE', `/api/tokens/${created.id}`)).statusCode, 204);
    t.equal((await api(created.token, 'GET', '/api/users')).json().error.code, 'api_unauthorized');
    t.equal((await api(adminToken, 'DELETE', `/api/tokens/${created.id}`)).statusCode, 404);
    const hooli = await signedInAdmin(ta, 'hooli');
    const theirs = await hooli.apiToken('theirs');
    const theirId = (await ta.ctx.store.forOrg(hooli.orgId).apiTokens.list())[0].id;
    t.equal((await api(adminToken, 'DELETE', `/api/tokens/${theirId}`)).statusCode, 404);
    t.equal(
      (await ta.request('hooli', { method: 'GET', url: '/api/users', headers: { authorization: `Bearer ${theirs}` } }))
        .statusCode,
      200,
    );
    t.match(await ta.ctx.store.forOrg(pp.orgId).audit.list({ type: 'api_token.revoked' }), [
      { actor: 'api-token:automation', details: { tokenId: created.id } },
    ]);
  });

  t.test("console: role up to the admin's own, expiry in days", async (t) => {
    const admin = await adminWithRole(ta, pp, 'admin');
    const form = await admin.get('/admin/tokens');
    t.notMatch(form.body, /<option value="owner"/, 'an admin is not offered owner tokens');
    const high = await admin.post('/admin/tokens', { name: 'x', role: 'owner' });
    t.equal(high.statusCode, 400);
    t.match(high.body, /Role cannot be above your own role \(admin\)/);
    const posted = await admin.post('/admin/tokens', { name: 'weekly', role: 'helpdesk', expiresInDays: '7' });
    t.equal(posted.statusCode, 303);
    const ok = await admin.get(posted.headers.location!);
    t.match(ok.body, /Role: <strong>helpdesk<\/strong>/);
    const row = (await ta.ctx.store.forOrg(pp.orgId).apiTokens.list()).find((x) => x.name === 'weekly');
    t.equal(row?.role, 'helpdesk');
    t.equal(row?.createdBy, admin.email);
    t.equal(row!.expiresAt!.getTime() - ta.clock.now().getTime(), 7 * 86_400_000);
    t.equal(
      (await admin.post('/admin/tokens', { name: 'y', expiresInDays: '3' })).statusCode,
      400,
      'only the lifetimes offered',
    );
    t.match((await pp.get('/admin/tokens')).body, /<option value="owner"/, 'an owner is');
    const helpdesk = await adminWithRole(ta, pp, 'helpdesk');
    t.equal((await helpdesk.get('/admin/tokens')).statusCode, 403, 'tokens are for admins and owners');
  });
});
