// The users list's filters and sort over the API and console (validated: unknown values are 400 validation_failed),
// bulk actions (cap, all-or-nothing id check, per-user audit, roles, confirmation and POST-redirect-GET) and
// "sign out everywhere" (broker sessions ended, remembered devices forgotten, audited).
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { adminWithRole, signedInAdmin } from '../helpers/admin.ts';
import type { User } from '../../src/store/users.ts';

t.test('users: filters, bulk actions, sign out everywhere', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const owner = await signedInAdmin(ta, 'piedpipers');
  const helpdesk = await adminWithRole(ta, owner, 'helpdesk');
  const store = ta.ctx.store.forOrg(owner.orgId);
  const hooli = await signedInAdmin(ta, 'hooli');
  const foreign = await ta.ctx.store.forOrg(hooli.orgId).users.create({ email: 'zed@hooli.example' });
  const ann = await store.users.create({ email: 'ann@pp.example', firstName: 'Ann', lastName: 'Lee', groups: ['eng'] });
  const bob = await store.users.create({
    email: 'bob@pp.example',
    firstName: 'Bob',
    lastName: 'Adams',
    groups: ['ops'],
  });
  const token = await owner.apiToken();
  const helpdeskToken = await owner.apiToken('helpdesk', { role: 'helpdesk' });
  const api = (method: 'GET' | 'POST', url: string, payload?: object, bearer = token) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(payload && { payload }),
    });

  t.test('API list: filters and sort, unknown values refused with a stable code', async (t) => {
    t.same(
      (await api('GET', '/api/users?group=eng')).json().users.map((u: { email: string }) => u.email),
      ['ann@pp.example'],
    );
    t.same(
      (await api('GET', '/api/users?sort=name')).json().users.map((u: { email: string }) => u.email),
      ['bob@pp.example', 'ann@pp.example'],
    );
    t.same(
      (await api('GET', '/api/users?sort=email&order=desc')).json().users.map((u: { email: string }) => u.email),
      ['bob@pp.example', 'ann@pp.example'],
    );
    const page = (await api('GET', '/api/users?sort=name&take=1')).json();
    t.same(
      (await api('GET', `/api/users?sort=name&take=1&after=${page.next}`))
        .json()
        .users.map((u: { email: string }) => u.email),
      ['ann@pp.example'],
      'the cursor continues the sort',
    );
    for (const bad of ['status=gone', 'sort=password', 'secondFactor=sms', 'order=up']) {
      const res = await api('GET', `/api/users?${bad}`);
      t.equal(res.statusCode, 400, bad);
      t.equal(res.json().error.code, 'validation_failed', `${bad}: validation_failed`);
    }
    const idp = await api('GET', '/api/users?idp=no-such-idp');
    t.match(idp.json(), {
      error: { code: 'validation_failed', details: { fields: { idp: /not an identity provider/ } } },
    });
    const cursor = await api('GET', `/api/users?sort=created&after=${page.next}`);
    t.match(
      cursor.json(),
      { error: { code: 'validation_failed', details: { fields: { after: /not a page position/ } } } },
      'a cursor of another sort is refused',
    );
    t.equal((await api('GET', '/api/users?sort=name&skip=1&take=1')).json().total, 2, 'offset pages count the matches');
  });

  t.test('API bulk: refusals change nothing; roles as for one user', async (t) => {
    const tooMany = await api('POST', '/api/users/bulk/disable', {
      ids: Array.from({ length: 101 }, (_, i) => `id-${i}`),
    });
    t.match(tooMany.json(), { error: { code: 'bulk_too_many', details: { max: 100 } } });
    t.equal(tooMany.statusCode, 400);
    t.equal((await api('POST', '/api/users/bulk/disable', { ids: [] })).json().error.code, 'bulk_no_users');
    const mixed = await api('POST', '/api/users/bulk/disable', { ids: [ann.id, foreign.id] });
    t.equal(mixed.statusCode, 404);
    t.match(mixed.json(), { error: { code: 'bulk_users_not_found', details: { ids: [foreign.id] } } });
    t.equal((await store.users.findById(ann.id))!.status, 'active', 'nothing changed');
    t.equal(
      (await ta.ctx.store.forOrg(hooli.orgId).users.findById(foreign.id))!.status,
      'active',
      "the other organisation's user untouched",
    );
    const forbidden = await api('POST', '/api/users/bulk/disable', { ids: [ann.id] }, helpdeskToken);
    t.equal(forbidden.statusCode, 403, 'helpdesk may not disable');
    t.equal(
      (await api('POST', '/api/users/bulk/reset-totp', { ids: [ann.id, bob.id] }, helpdeskToken)).statusCode,
      200,
      'helpdesk may reset the second factor',
    );
    const done = (await api('POST', '/api/users/bulk/disable', { ids: [ann.id, bob.id, ann.id] })).json();
    t.same(done, { action: 'disable', changed: [ann.id, bob.id], unchanged: [] });
    t.same(
      (await api('POST', '/api/users/bulk/disable', { ids: [ann.id] })).json().unchanged,
      [ann.id],
      'already disabled: unchanged',
    );
    const audited = await ta.ctx.store.db.auditEvent.findMany({ where: { orgId: owner.orgId, type: 'user.disabled' } });
    t.same(
      audited.map((e) => e.userId).sort(),
      [ann.id, bob.id].sort(),
      'each user audited once, as the single action does',
    );
    await store.users.update(ann.id, { status: 'active' });
    await store.users.update(bob.id, { status: 'active' });
  });

  t.test('console bulk: confirmation, then POST-redirect-GET with a banner', async (t) => {
    const list = await owner.get('/admin/users?group=eng');
    t.match(list.body, /id="select-all"/);
    t.match(list.body, /name="back" value="group=eng"/, 'the filters travel with the selection');
    const confirm = await owner.get(`/admin/users/bulk?action=disable&id=${ann.id}&id=${bob.id}&back=group%3Deng`);
    t.equal(confirm.statusCode, 200);
    t.match(confirm.body, /Disable 2 users\?/);
    t.equal((await store.users.findById(ann.id))!.status, 'active', 'the confirmation page changes nothing');
    const refused = await helpdesk.get(`/admin/users/bulk?action=disable&id=${ann.id}`);
    t.equal(refused.statusCode, 403, 'helpdesk cannot reach the disable confirmation');
    const bad = await owner.post('/admin/users/bulk/disable', { id: [ann.id, foreign.id], back: 'group=eng' });
    t.equal(bad.statusCode, 303);
    t.match(bad.headers.location, /^\/admin\/users\?group=eng&bulkError=bulk_users_not_found$/);
    t.match((await owner.get(bad.headers.location!)).body, /Nothing was changed/);
    t.equal((await store.users.findById(ann.id))!.status, 'active');
    const ok = await owner.post('/admin/users/bulk/disable', {
      id: [ann.id, bob.id],
      back: 'group=eng&next=https://evil.example',
    });
    t.match(
      ok.headers.location,
      /^\/admin\/users\?group=eng&bulk=disable&changed=2&unchanged=0$/,
      'back to the same list, nowhere else',
    );
    t.match((await owner.get(ok.headers.location!)).body, /Disabled 2 users/);
    t.equal((await store.users.findById(bob.id))!.status, 'disabled');
  });

  t.test('the confirmation (GET) decides by the rule of the route it posts to: the same refusal', async (t) => {
    const viewer = await adminWithRole(ta, owner, 'viewer');
    const refusalIn = (html: string) =>
      /This needs the \w+ role \(or higher\); you have the \w+ role\./.exec(html)?.[0];
    for (const [who, client] of [
      ['viewer', viewer],
      ['helpdesk', helpdesk],
    ] as const)
      for (const action of ['disable', 'reset-totp']) {
        const post = await client.post(`/admin/users/bulk/${action}`, { id: [ann.id], back: '' });
        const get = await client.get(`/admin/users/bulk?action=${action}&id=${ann.id}`);
        t.equal(get.statusCode === 403, post.statusCode === 403, `${who} ${action}: refused on the GET as on the POST`);
        if (post.statusCode === 403) t.equal(refusalIn(get.body), refusalIn(post.body), `${who} ${action}: same words`);
      }
    // The GET reads the POST route's recorded rule (roles.ts canUse), not a list of its own: were the route's rule
    // raised to owner, the confirmation would follow at once.
    const rule = ta.app.registeredRoutes.find((r) => r.method === 'POST' && r.url === '/admin/users/bulk/reset-totp')!;
    const declared = rule.role;
    rule.role = 'owner';
    try {
      const get = await helpdesk.get(`/admin/users/bulk?action=reset-totp&id=${ann.id}`);
      t.equal(get.statusCode, 403);
      t.equal(refusalIn(get.body), 'This needs the owner role (or higher); you have the helpdesk role.');
    } finally {
      rule.role = declared;
    }
    t.equal((await helpdesk.get(`/admin/users/bulk?action=reset-totp&id=${ann.id}`)).statusCode, 200);
  });

  t.test('sessions: listed, and sign out everywhere ends them (console and API)', async (t) => {
    const expiresAt = new Date(ta.clock.now().getTime() + 3600_000);
    await store.sessions.create({ id: 's1-hash', userId: ann.id, idpId: 'idp-x', nameId: 'ann', expiresAt });
    await store.sessions.create({ id: 's2-hash', userId: ann.id, idpId: 'idp-x', nameId: 'ann', expiresAt });
    await store.devices.create({ userId: ann.id, label: 'Firefox on Linux', expiresAt });
    const listed = (await api('GET', `/api/users/${ann.id}/sessions`)).json();
    t.equal(listed.sessions.length, 2);
    t.equal(listed.rememberedDevices.length, 1);
    t.match((await owner.get(`/admin/users/${ann.id}`)).body, /2 open sessions/);
    const viewer = await owner.apiToken('viewer', { role: 'viewer' });
    t.equal((await api('POST', `/api/users/${ann.id}/sessions/revoke`, {}, viewer)).statusCode, 403, 'a viewer cannot');
    t.equal(
      (await api('POST', `/api/users/${foreign.id}/sessions/revoke`, {}, helpdeskToken)).statusCode,
      404,
      "another organisation's user: not found",
    );
    t.same((await api('POST', `/api/users/${ann.id}/sessions/revoke`, {}, helpdeskToken)).json(), {
      sessionsEnded: 2,
      devicesRevoked: 1,
    });
    t.same((await api('GET', `/api/users/${ann.id}/sessions`)).json(), { sessions: [], rememberedDevices: [] });
    const audit = await ta.ctx.store.db.auditEvent.findMany({
      where: { orgId: owner.orgId, type: 'user.signed_out_everywhere' },
    });
    t.equal(audit.length, 1);
    t.equal(audit[0].userId, ann.id);
    await store.sessions.create({ id: 's3-hash', userId: ann.id, idpId: 'idp-x', nameId: 'ann', expiresAt });
    const res = await helpdesk.post(`/admin/users/${ann.id}/sessions/revoke`);
    t.equal(res.statusCode, 303);
    t.match((await helpdesk.get(res.headers.location!)).body, /Signed out everywhere/);
    t.equal((await store.sessions.listOpenForUser(ann.id, ta.clock.now())).length, 0);
  });
});

// A bulk action is one transaction: a failure on the third of four users (a trigger refuses that user's audit line,
// after their change was written) leaves all four as they were, with no audit line, on both databases; the console
// answers with the error page. Without the trigger the same request changes all four.
for (const provider of ['sqlite', 'postgresql'] as const) {
  t.test(`${provider}: a bulk action that fails on the Nth user changes nobody`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const owner = await signedInAdmin(ta, 'piedpipers');
    const store = ta.ctx.store.forOrg(owner.orgId);
    const expiresAt = new Date(ta.clock.now().getTime() + 3600_000);
    const users: User[] = [];
    for (const name of ['ann', 'bob', 'cat', 'dan']) {
      const user = await store.users.create({ email: `${name}@pp.example` });
      await store.devices.create({ userId: user.id, label: 'Firefox on Linux', expiresAt });
      await store.totp.replaceRecoveryCodes(user.id, [`hash-${name}-1`, `hash-${name}-2`]);
      users.push(user);
    }
    const ids = users.map((u) => u.id);
    const failing = ids[2];
    const db = ta.ctx.store.db;
    if (provider === 'sqlite')
      await db.$executeRawUnsafe(
        `CREATE TRIGGER inject_failure BEFORE INSERT ON "AuditEvent" WHEN NEW."userId" = '${failing}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      );
    else {
      await db.$executeRawUnsafe(
        `CREATE FUNCTION inject_failure() RETURNS trigger AS $$ BEGIN IF NEW."userId" = '${failing}' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      );
      await db.$executeRawUnsafe(
        `CREATE TRIGGER inject_failure BEFORE INSERT ON "AuditEvent" FOR EACH ROW EXECUTE FUNCTION inject_failure()`,
      );
    }
    const token = await owner.apiToken();
    const api = (action: string) =>
      ta.request('piedpipers', {
        method: 'POST',
        url: `/api/users/bulk/${action}`,
        headers: { authorization: `Bearer ${token}` },
        payload: { ids },
      });
    const unchanged = async (what: string) => {
      for (const user of users) {
        t.equal((await store.users.findById(user.id))!.status, 'active', `${what}: ${user.email} still active`);
        t.equal((await store.devices.list(user.id)).length, 1, `${what}: ${user.email} keeps the device`);
        t.equal((await store.totp.unusedRecoveryCodes(user.id)).length, 2, `${what}: ${user.email} keeps the codes`);
      }
      const audited = await db.auditEvent.findMany({
        where: { orgId: owner.orgId, type: { in: ['user.disabled', 'mfa.reset'] } },
      });
      t.same(audited, [], `${what}: no audit line`);
    };

    t.equal((await api('disable')).statusCode, 500, 'API disable: the failure is answered');
    await unchanged('API disable');
    t.equal((await api('reset-totp')).statusCode, 500, 'API reset of the second factor: the failure is answered');
    await unchanged('API reset-totp');
    const page = await owner.post('/admin/users/bulk/disable', { id: ids, back: '' });
    t.equal(page.statusCode, 500, 'console disable: the error page');
    await unchanged('console disable');

    await db.$executeRawUnsafe('DROP TRIGGER inject_failure' + (provider === 'postgresql' ? ' ON "AuditEvent"' : ''));
    const done = await api('disable');
    t.same(done.json(), { action: 'disable', changed: ids, unchanged: [] }, 'without the failure: all four');
    for (const id of ids) t.equal((await store.users.findById(id))!.status, 'disabled');
  });
}
