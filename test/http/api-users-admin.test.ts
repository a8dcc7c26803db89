// The admin JSON API for single users: read, add, change, delete, disable/enable, second-factor actions, link and unlink;
// validation answered as 400 with details.fields; another organisation's ids are 404; tokens required and of this
// organisation; every route described in the OpenAPI document.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';

t.test('admin API: single users', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const token = await pp.apiToken('automation');
  const hooliToken = await hooli.apiToken('other');
  const store = ta.ctx.store.forOrg(pp.orgId);
  const hooliStore = ta.ctx.store.forOrg(hooli.orgId);
  const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, bearer = token) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
  const foreignUser = await hooliStore.users.create({ email: 'gavin@hooli.example' });

  t.test('tokens: missing, foreign or wrong → 401 on the new routes', async (t) => {
    for (const [method, url] of [
      ['GET', `/api/users/${foreignUser.id}`],
      ['POST', '/api/users'],
      ['PATCH', `/api/users/${foreignUser.id}`],
      ['DELETE', `/api/users/${foreignUser.id}`],
      ['POST', `/api/users/${foreignUser.id}/reset-totp`],
      ['GET', '/api/audit'],
    ] as const) {
      const none = await ta.request('piedpipers', { method, url });
      t.equal(none.statusCode, 401, `${method} ${url} without a token`);
      t.equal(none.json().error.code, 'api_unauthorized');
      t.equal((await api(method, url, undefined, hooliToken)).statusCode, 401, `${method} ${url} with hooli's token`);
      t.equal((await api(method, url, undefined, 'brk_not-a-token')).statusCode, 401);
    }
    t.ok(await hooliStore.users.findById(foreignUser.id), "nothing happened to hooli's user");
  });

  let id = '';
  t.test('create: validation with details.fields, duplicates, then 201 and audited', async (t) => {
    const bad = await api('POST', '/api/users', { email: 'nope', phone: '1'.repeat(41), groups: ['a|b'] });
    t.equal(bad.statusCode, 400);
    t.equal(bad.json().error.code, 'validation_failed');
    t.match(bad.json().error.details.fields, {
      email: 'not a valid email address',
      phone: 'longer than 40 characters',
      groups: /cannot contain/,
    });
    const missing = await api('POST', '/api/users', { firstName: 'No email' });
    t.equal(missing.statusCode, 400, 'email is required by the schema');
    const wrongType = await api('POST', '/api/users', { email: 'x@y.example', groups: { not: 'a list' } });
    t.equal(wrongType.statusCode, 400);
    t.equal(await store.users.findByEmail('x@y.example'), null, 'nothing saved');

    const ok = await api('POST', '/api/users', {
      email: 'Richard@PiedPiper.example',
      firstName: 'Richard',
      lastName: 'Hendricks',
      groups: ['eng', 'founders'],
    });
    t.equal(ok.statusCode, 201);
    const body = ok.json();
    id = body.id;
    t.match(body, {
      email: 'Richard@PiedPiper.example',
      firstName: 'Richard',
      groups: ['eng', 'founders'],
      status: 'active',
      source: 'admin',
      username: null,
      lastLoginAt: null,
    });
    t.notOk('emailLower' in body || 'orgId' in body, 'internal keys are not exposed');
    t.match((await store.audit.list({ type: 'user.created', userId: id }))[0], { actor: 'api-token:automation' });

    const dup = await api('POST', '/api/users', { email: 'richard@piedpiper.EXAMPLE' });
    t.equal(dup.statusCode, 400);
    t.match(dup.json().error.details.fields.email, /already has this email/);
  });

  t.test("read one user: details; other organisation's id → 404 user_not_found", async (t) => {
    const idp = await store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/exk1',
      ssoUrl: 'https://okta.example/sso',
    });
    await store.users.link(id, idp.id, 'richard-okta');
    const res = await api('GET', `/api/users/${id}`);
    t.equal(res.statusCode, 200);
    t.match(res.json(), {
      id,
      email: 'Richard@PiedPiper.example',
      twoFactor: { state: 'none', lockedUntil: null, failedAttempts: 0 },
      rememberedDevices: [],
      identities: [{ idpId: idp.id, idpName: 'Okta', nameId: 'richard-okta' }],
    });
    const foreign = await api('GET', `/api/users/${foreignUser.id}`);
    t.equal(foreign.statusCode, 404);
    t.equal(foreign.json().error.code, 'user_not_found');
  });

  t.test('patch: partial change, validation, audit', async (t) => {
    const bad = await api('PATCH', `/api/users/${id}`, { lastName: 'x'.repeat(129) });
    t.equal(bad.statusCode, 400);
    t.match(bad.json().error.details.fields, { lastName: 'longer than 128 characters' });
    const ok = await api('PATCH', `/api/users/${id}`, { username: 'richard', groups: ['eng'] });
    t.equal(ok.statusCode, 200);
    t.match(ok.json(), {
      username: 'richard',
      groups: ['eng'],
      firstName: 'Richard',
      lastName: 'Hendricks',
      email: 'Richard@PiedPiper.example',
    });
    t.same((await store.audit.list({ type: 'user.updated', userId: id }))[0].details.changed, ['username', 'groups']);
    const foreign = await api('PATCH', `/api/users/${foreignUser.id}`, { firstName: 'Stolen' });
    t.equal(foreign.statusCode, 404);
    t.equal((await hooliStore.users.findById(foreignUser.id))!.firstName, null);
  });

  t.test('disable, enable, reset-totp, unlock, revoke-devices', async (t) => {
    const off = await api('POST', `/api/users/${id}/disable`);
    t.equal(off.statusCode, 200);
    t.equal(off.json().status, 'disabled');
    t.equal((await store.users.findById(id))!.status, 'disabled');
    t.equal((await api('POST', `/api/users/${id}/enable`)).json().status, 'active');

    await store.totp.savePending(id, { secretEnc: 'sealed', algorithm: 'SHA1', digits: 6, period: 30 });
    await store.totp.activate(id, ta.clock.now());
    await store.totp.lock(id, new Date(ta.clock.now().getTime() + 60_000));
    await store.devices.create({
      userId: id,
      label: 'Safari',
      expiresAt: new Date(ta.clock.now().getTime() + 86400_000),
    });
    t.match((await api('GET', `/api/users/${id}`)).json(), {
      twoFactor: { state: 'locked' },
      rememberedDevices: [{ label: 'Safari' }],
    });

    const unlocked = await api('POST', `/api/users/${id}/unlock`);
    t.equal(unlocked.statusCode, 200);
    t.match(unlocked.json().twoFactor, { state: 'active', lockedUntil: null });
    const revoked = await api('POST', `/api/users/${id}/revoke-devices`);
    t.same(revoked.json().rememberedDevices, []);
    const reset = await api('POST', `/api/users/${id}/reset-totp`);
    t.equal(reset.json().twoFactor.state, 'none');
    t.equal(await store.totp.find(id), null);
    for (const type of ['user.disabled', 'user.enabled', 'mfa.unlocked', 'mfa.device_revoked', 'mfa.reset']) {
      t.equal((await store.audit.list({ type, userId: id }))[0]?.actor, 'api-token:automation', type);
    }
    for (const action of ['disable', 'enable', 'reset-totp', 'unlock', 'revoke-devices']) {
      const res = await api('POST', `/api/users/${foreignUser.id}/${action}`);
      t.equal(res.statusCode, 404, `${action} of another organisation's user`);
    }
    t.equal((await hooliStore.users.findById(foreignUser.id))!.status, 'active');
  });

  t.test('unlink an identity', async (t) => {
    const [link] = await store.users.identities(id);
    t.equal((await api('DELETE', `/api/users/${foreignUser.id}/identities/${link.id}`)).statusCode, 404);
    const res = await api('DELETE', `/api/users/${id}/identities/${link.id}`);
    t.equal(res.statusCode, 204);
    t.same(await store.users.identities(id), []);
    t.equal((await api('DELETE', `/api/users/${id}/identities/${link.id}`)).json().error.code, 'identity_not_found');
    t.match((await store.audit.list({ type: 'user.identity_removed', userId: id }))[0], {
      actor: 'api-token:automation',
      details: { nameId: 'richard-okta', source: 'login' },
    });
  });

  t.test(
    "link an identity: validation, another organisation's IdP, taken by another user (409), then 201 and audited",
    async (t) => {
      const okta = (await store.identityProviders.list())[0];
      const foreignIdp = await hooliStore.identityProviders.create({
        name: 'Hooli IdP',
        entityId: 'https://idp.hooli.example',
        ssoUrl: 'https://idp.hooli.example/sso',
      });
      const gilfoyle = await store.users.create({ email: 'gilfoyle@piedpiper.example' });
      await store.users.link(gilfoyle.id, okta.id, '00u-gilfoyle', 'imported');

      const bad = await api('POST', `/api/users/${id}/identities`, { idp: 'nope', nameId: ' ' });
      t.equal(bad.statusCode, 400);
      t.match(bad.json().error.details.fields, { idp: /unknown identity provider "nope"/, nameId: /Enter the NameID/ });
      const control = await api('POST', `/api/users/${id}/identities`, { idp: okta.id, nameId: 'a\u0000b' });
      t.match(control.json().error.details.fields, { nameId: /control character/ });
      for (const ref of [foreignIdp.id, foreignIdp.entityId, 'Hooli IdP']) {
        const foreign = await api('POST', `/api/users/${id}/identities`, { idp: ref, nameId: 'x' });
        t.equal(foreign.statusCode, 400, `another organisation's IdP (${ref}) is unknown here`);
      }
      t.equal(
        (await api('POST', `/api/users/${id}/identities`, { idp: okta.id })).statusCode,
        400,
        'nameId is required by the schema',
      );
      t.equal(
        (await api('POST', `/api/users/${foreignUser.id}/identities`, { idp: okta.id, nameId: 'x' })).statusCode,
        404,
        "another organisation's user",
      );

      const taken = await api('POST', `/api/users/${id}/identities`, { idp: okta.entityId, nameId: '00u-gilfoyle' });
      t.equal(taken.statusCode, 409);
      t.equal(taken.json().error.code, 'identity_taken');
      t.equal((await store.users.findByIdentity(okta.id, '00u-gilfoyle'))!.id, gilfoyle.id, 'never moved');
      t.same(await store.users.identities(id), [], 'nothing linked');

      const ok = await api('POST', `/api/users/${id}/identities`, { idp: 'Okta', nameId: ' 00u-richard ' });
      t.equal(ok.statusCode, 201);
      t.match(ok.json(), { idpId: okta.id, idpName: 'Okta', nameId: '00u-richard', source: 'admin' });
      t.match((await store.audit.list({ type: 'user.identity_added', userId: id }))[0], {
        actor: 'api-token:automation',
        details: { idpId: okta.id, nameId: '00u-richard' },
      });
      const again = await api('POST', `/api/users/${id}/identities`, { idp: okta.id, nameId: '00u-richard' });
      t.equal(again.statusCode, 200, 'the user already has it: nothing changes');
      t.equal((await store.audit.list({ type: 'user.identity_added', userId: id })).length, 1);

      const list = await api('GET', `/api/users/${id}/identities`);
      t.equal(list.statusCode, 200);
      t.match(list.json(), { identities: [{ idpName: 'Okta', nameId: '00u-richard', source: 'admin' }] });
      t.equal((await api('GET', `/api/users/${foreignUser.id}/identities`)).statusCode, 404);
      const [link] = await store.users.identities(id);
      t.equal((await api('DELETE', `/api/users/${id}/identities/${link.id}`)).statusCode, 204);
      t.match((await store.audit.list({ type: 'user.identity_removed', userId: id }))[0].details, {
        nameId: '00u-richard',
        source: 'admin',
      });
      await store.users.delete(gilfoyle.id); // the list test below counts the directory
    },
  );

  t.test('list: keyset pages with the second-factor state; search count', async (t) => {
    for (let i = 0; i < 7; i++) await store.users.create({ email: `list${i}@piedpiper.example` });
    const first = (await api('GET', '/api/users?search=list&take=3')).json();
    t.same(
      first.users.map((u: { email: string }) => u.email),
      ['list0@piedpiper.example', 'list1@piedpiper.example', 'list2@piedpiper.example'],
    );
    t.equal(first.total, null, 'a search does not count');
    t.equal(
      (await api('GET', '/api/users')).json().total,
      8,
      "the first unfiltered page counts the organisation's users",
    );
    t.equal(first.users[0].twoFactor, 'none');
    const second = (await api('GET', `/api/users?search=list&take=3&after=${encodeURIComponent(first.next)}`)).json();
    t.same(
      second.users.map((u: { email: string }) => u.email),
      ['list3@piedpiper.example', 'list4@piedpiper.example', 'list5@piedpiper.example'],
    );
    const back = (
      await api('GET', `/api/users?search=list&take=3&before=${encodeURIComponent(second.previous)}`)
    ).json();
    t.same(
      back.users.map((u: { email: string }) => u.email),
      first.users.map((u: { email: string }) => u.email),
    );
    t.equal(back.previous, null);
    const offset = (await api('GET', '/api/users?search=list&skip=6&take=3')).json();
    t.same(
      offset.users.map((u: { email: string }) => u.email),
      ['list6@piedpiper.example'],
      'skip still works',
    );
    t.equal((await api('GET', '/api/users?take=0')).statusCode, 400);
  });

  t.test('delete: 204, gone, audited; other organisation → 404', async (t) => {
    t.equal((await api('DELETE', `/api/users/${foreignUser.id}`)).statusCode, 404);
    t.ok(await hooliStore.users.findById(foreignUser.id));
    const res = await api('DELETE', `/api/users/${id}`);
    t.equal(res.statusCode, 204);
    t.equal(await store.users.findById(id), null);
    t.match((await store.audit.list({ type: 'user.deleted', userId: id }))[0], {
      actor: 'api-token:automation',
      details: { email: 'Richard@PiedPiper.example' },
    });
    t.equal((await api('GET', `/api/users/${id}`)).statusCode, 404);
  });

  t.test('every users and audit route is in the OpenAPI document with a summary', async (t) => {
    const doc = (await ta.request('piedpipers', { method: 'GET', url: '/api/openapi.json' })).json();
    const expected: [string, string][] = [
      ['/api/users', 'get'],
      ['/api/users', 'post'],
      ['/api/users/{id}', 'get'],
      ['/api/users/{id}', 'patch'],
      ['/api/users/{id}', 'delete'],
      ['/api/users/{id}/disable', 'post'],
      ['/api/users/{id}/enable', 'post'],
      ['/api/users/{id}/reset-totp', 'post'],
      ['/api/users/{id}/unlock', 'post'],
      ['/api/users/{id}/revoke-devices', 'post'],
      ['/api/users/{id}/identities', 'get'],
      ['/api/users/{id}/identities', 'post'],
      ['/api/users/{id}/identities/{linkId}', 'delete'],
      ['/api/users/import', 'post'],
      ['/api/users/import/{jobId}', 'get'],
      ['/api/users/export', 'get'],
      ['/api/audit', 'get'],
      ['/api/audit/export', 'get'],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths?.[path]?.[method];
      t.ok(op?.summary, `${method.toUpperCase()} ${path} has a summary`);
      t.ok(op?.tags?.length, `${method.toUpperCase()} ${path} has tags`);
    }
  });
});
