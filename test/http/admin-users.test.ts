// Console section "Users" through HTTP: search and keyset pages, add/edit with field errors, duplicate emails,
// disable/enable, delete, second-factor actions, linked identities, import with its report, export, and no access
// to another organisation's users.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { testProviders } from '../helpers/context.ts';

const pad = (n: number) => String(n).padStart(3, '0');
const idOf = (location: string | undefined) => /\/admin\/users\/([0-9a-f-]{36})/.exec(location ?? '')?.[1] ?? '';

t.test('admin console: users', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const other = await signedInAdmin(ta, 'hooli');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const hooliStore = ta.ctx.store.forOrg(other.orgId);
  const auditOf = async (type: string, userId?: string) => store.audit.list({ type, ...(userId && { userId }) });

  t.test('list: search, pages of 50 in email order, page links', async (t) => {
    for (let i = 0; i < 120; i++)
      await store.users.create({
        email: `user${pad(i)}@bulk.example`,
        firstName: i === 7 ? 'Zelda' : 'Bulk',
        lastName: `Number${pad(i)}`,
        source: 'imported',
      });
    await hooliStore.users.create({ email: 'user999@bulk.example' });

    const first = await admin.get('/admin/users');
    t.equal(first.statusCode, 200);
    t.match(first.body, /120 users in this organisation/);
    t.match(first.body, /user000@bulk\.example/);
    t.match(first.body, /user049@bulk\.example/);
    t.notMatch(first.body, /user050@bulk\.example/);
    t.notMatch(first.body, /user999/, "no other organisation's users");
    t.notMatch(first.body, /Previous page/);
    t.match(first.body, /href="\/admin\/users\/import"/);
    t.match(first.body, /href="\/admin\/users\/export\.csv"/);
    const next = /href="(\/admin\/users\?after=[^"]+)" rel="next"/.exec(first.body)?.[1].replace(/&amp;/g, '&');
    t.ok(next, 'a next-page link');

    const second = await admin.get(next!);
    t.match(second.body, /user050@bulk\.example/);
    t.match(second.body, /user099@bulk\.example/);
    t.notMatch(second.body, /user049@bulk\.example/);
    const third = await admin.get(
      /href="(\/admin\/users\?after=[^"]+)" rel="next"/.exec(second.body)![1].replace(/&amp;/g, '&'),
    );
    t.match(third.body, /user119@bulk\.example/);
    t.notMatch(third.body, /rel="next"/, 'the last page has no next link');
    const back = await admin.get(
      /href="(\/admin\/users\?before=[^"]+)" rel="prev"/.exec(third.body)![1].replace(/&amp;/g, '&'),
    );
    t.match(back.body, /user050@bulk\.example/);
    t.match(back.body, /user099@bulk\.example/);
    t.notMatch(back.body, /user100@bulk\.example/);

    const byEmail = await admin.get('/admin/users?q=USER11');
    t.match(byEmail.body, /10 users match “USER11”/);
    t.match(byEmail.body, /user110@bulk\.example/);
    t.notMatch(byEmail.body, /user010@bulk\.example/);
    const byName = await admin.get('/admin/users?q=zelda');
    t.match(byName.body, /1 user match/);
    t.match(byName.body, /user007@bulk\.example/);
    const byLastName = await admin.get('/admin/users?q=Number11');
    t.match(byLastName.body, /10 users match/);
    t.notMatch((await admin.get(next!)).body, /users in this organisation/, 'later pages do not count again');
    const none = await admin.get('/admin/users?q=nobody');
    t.match(none.body, /No user matches “nobody”/);
    const searchNext =
      /href="(\/admin\/users\?after=[^"]+)" rel="next"/.exec((await admin.get('/admin/users?q=bulk')).body)?.[1] ?? '';
    t.match(searchNext, /q=bulk/, 'page links keep the search');
  });

  let annId = '';
  t.test('add: field errors next to the fields, nothing saved; then saved and audited', async (t) => {
    const form = await admin.get('/admin/users/new');
    t.equal(form.statusCode, 200);
    t.match(form.body, /<label for="email">Email<\/label>/);

    const bad = await admin.post('/admin/users', {
      email: 'not-an-email',
      firstName: 'x'.repeat(200),
      lastName: 'Lee',
      groups: 'jira\nbeta',
    });
    t.equal(bad.statusCode, 400);
    t.match(bad.body, /id="email-error">not a valid email address/);
    t.match(bad.body, /aria-describedby="email-hint email-error"/);
    t.match(bad.body, /id="firstName-error">longer than 128 characters/);
    t.match(bad.body, /value="not-an-email"/, 'the typed values are kept');
    t.match(bad.body, /jira\nbeta<\/textarea>/);
    t.equal(await store.users.count({ search: 'not-an' }), 0, 'nothing saved');

    const ok = await admin.post('/admin/users', {
      email: 'Ann.Lee@Customer.example',
      firstName: 'Ann',
      lastName: 'Lee',
      phone: '+44 20 7946 0000',
      username: 'alee',
      groups: 'jira\n\nbeta\n',
    });
    t.equal(ok.statusCode, 303);
    annId = idOf(ok.headers.location);
    t.match(ok.headers.location, /\?done=created$/);
    const ann = await store.users.findById(annId);
    t.match(ann, {
      email: 'Ann.Lee@Customer.example',
      emailLower: 'ann.lee@customer.example',
      firstName: 'Ann',
      username: 'alee',
      phone: '+44 20 7946 0000',
      groups: ['jira', 'beta'],
      source: 'admin',
      status: 'active',
    });
    const audit = await auditOf('user.created', annId);
    t.equal(audit.length, 1);
    t.equal(audit[0].actor, admin.email);
    const page = await admin.get(ok.headers.location!);
    t.match(page.body, /Created\./);
    t.match(page.body, /value="Ann\.Lee@Customer\.example"/);
  });

  t.test('duplicate email (another case) is a field error', async (t) => {
    const dup = await admin.post('/admin/users', { email: 'ANN.LEE@customer.example' });
    t.equal(dup.statusCode, 400);
    t.match(dup.body, /id="email-error">Another user of this organisation already has this email address/);
    t.equal((await store.users.list({ search: 'ann.lee' })).length, 1);
    // The same email in another organisation is a different user.
    const elsewhere = await other.post('/admin/users', { email: 'ann.lee@customer.example' });
    t.equal(elsewhere.statusCode, 303);
  });

  t.test('edit: saved and audited; an email taken by another user is refused', async (t) => {
    const bad = await admin.post(`/admin/users/${annId}`, { email: 'user001@bulk.example', firstName: 'Ann' });
    t.equal(bad.statusCode, 400);
    t.match(bad.body, /id="email-error">Another user/);
    t.equal((await store.users.findById(annId))!.email, 'Ann.Lee@Customer.example');

    const ok = await admin.post(`/admin/users/${annId}`, {
      email: 'ann@customer.example',
      firstName: 'Annie',
      lastName: 'Lee',
      groups: 'jira',
    });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, `/admin/users/${annId}?done=saved`);
    t.match(await store.users.findById(annId), {
      email: 'ann@customer.example',
      emailLower: 'ann@customer.example',
      firstName: 'Annie',
      groups: ['jira'],
      username: null,
      phone: null,
    });
    const [audit] = await auditOf('user.updated', annId);
    t.same(audit.details.changed, ['email', 'username', 'firstName', 'phone', 'groups']);
    t.equal(audit.details.previousEmail, 'Ann.Lee@Customer.example');
  });

  t.test('disable and enable', async (t) => {
    // Ann is signed in (a broker session): disabling her ends it at once, not only at her next login.
    const idp =
      (await store.identityProviders.list())[0] ??
      (await store.identityProviders.create({
        name: 'Okta',
        entityId: 'https://okta.example/e',
        ssoUrl: 'https://okta.example/sso',
      }));
    await store.sessions.create({
      id: 'ann-session',
      userId: annId,
      idpId: idp.id,
      nameId: 'ann',
      expiresAt: new Date(ta.clock.now().getTime() + 3_600_000),
    });
    const off = await admin.post(`/admin/users/${annId}/disable`);
    t.equal(await store.sessions.findActive('ann-session', ta.clock.now()), null, 'her broker session ended');
    t.equal(off.headers.location, `/admin/users/${annId}?done=disabled`);
    t.equal((await store.users.findById(annId))!.status, 'disabled');
    t.match((await admin.get(off.headers.location!)).body, /Enable user/);
    t.match(
      await auditOf('user.disabled', annId),
      [{ details: { sessionsEnded: 1, devicesRevoked: 0 } }],
      'audited once, with what ended',
    );
    await admin.post(`/admin/users/${annId}/enable`);
    t.equal((await store.users.findById(annId))!.status, 'active');
    t.equal((await auditOf('user.enabled', annId)).length, 1);
  });

  t.test('second factor: state shown, reset removes it, unlock clears the lock, devices revoked', async (t) => {
    await store.totp.savePending(annId, { secretEnc: 'sealed', algorithm: 'SHA1', digits: 6, period: 30 });
    await store.totp.activate(annId, ta.clock.now());
    await store.totp.lock(annId, new Date(ta.clock.now().getTime() + 600_000));
    await store.devices.create({
      userId: annId,
      label: 'Firefox on Linux',
      expiresAt: new Date(ta.clock.now().getTime() + 86400_000),
    });

    const list = await admin.get('/admin/users?q=ann@');
    t.match(list.body, /<span class="badge off">locked<\/span>/);
    const page = await admin.get(`/admin/users/${annId}`);
    t.match(page.body, /locked after too many wrong codes/);
    t.match(page.body, /Firefox on Linux/);

    const unlock = await admin.post(`/admin/users/${annId}/unlock`);
    t.equal(unlock.headers.location, `/admin/users/${annId}?done=unlocked`);
    t.equal((await store.totp.find(annId))!.lockedUntil, null);
    t.equal((await auditOf('mfa.unlocked', annId))[0].actor, admin.email);
    t.match((await admin.get('/admin/users?q=ann@')).body, /<span class="badge ok">active<\/span><\/td>\s*<td>admin/);

    const revoke = await admin.post(`/admin/users/${annId}/revoke-devices`);
    t.equal(revoke.headers.location, `/admin/users/${annId}?done=devices-revoked`);
    t.equal((await store.devices.list(annId)).length, 0);
    t.match((await auditOf('mfa.device_revoked', annId))[0], { actor: admin.email, details: { count: 1 } });

    const reset = await admin.post(`/admin/users/${annId}/reset-totp`);
    t.equal(reset.headers.location, `/admin/users/${annId}?done=totp-reset`);
    t.equal(await store.totp.find(annId), null, 'factor gone: the user enrols again');
    t.equal((await auditOf('mfa.reset', annId))[0].actor, admin.email);
    t.match((await admin.get(reset.headers.location!)).body, /State: <span class="badge">none<\/span>/);
  });

  t.test('linked identities are listed and can be unlinked', async (t) => {
    const idp = await store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/exk1',
      ssoUrl: 'https://okta.example/sso',
    });
    await store.users.link(annId, idp.id, 'ann-okta-id');
    const page = await admin.get(`/admin/users/${annId}`);
    t.match(page.body, /Okta/);
    t.match(page.body, /<code>ann-okta-id<\/code>/);
    const [link] = await store.users.identities(annId);
    const res = await admin.post(`/admin/users/${annId}/identities/${link.id}/unlink`);
    t.equal(res.headers.location, `/admin/users/${annId}?done=identity-unlinked`);
    t.equal((await store.users.identities(annId)).length, 0);
    t.match((await auditOf('user.identity_removed', annId))[0], {
      actor: admin.email,
      details: { nameId: 'ann-okta-id', idpId: idp.id },
    });
    t.equal((await admin.post(`/admin/users/${annId}/identities/${link.id}/unlink`)).statusCode, 404);
  });

  t.test(
    'an identity can be linked from the user page; errors next to the fields; taken by another user: 409',
    async (t) => {
      const okta = (await store.identityProviders.list()).find((i) => i.name === 'Okta')!;
      const form = await admin.get(`/admin/users/${annId}`);
      t.match(form.body, /<select id="link-idp" name="idp"[\s\S]*Okta<\/option>/);
      const empty = await admin.post(`/admin/users/${annId}/identities`, { idp: okta.id, nameId: '' });
      t.equal(empty.statusCode, 400);
      t.match(empty.body, /id="link-nameId-error">Enter the NameID/);
      const foreignIdp = await hooliStore.identityProviders.create({
        name: 'Hooli IdP',
        entityId: 'https://idp.hooli.example',
        ssoUrl: 'https://idp.hooli.example/sso',
      });
      const foreign = await admin.post(`/admin/users/${annId}/identities`, { idp: foreignIdp.id, nameId: 'x' });
      t.equal(foreign.statusCode, 400);
      t.match(foreign.body, /id="link-idp-error">unknown identity provider/);
      const other = await store.users.create({ email: 'holder@customer.example' });
      await store.users.link(other.id, okta.id, 'held');
      const taken = await admin.post(`/admin/users/${annId}/identities`, { idp: okta.id, nameId: 'held' });
      t.equal(taken.statusCode, 409);
      t.match(taken.body, /already linked to another user of this organisation/);
      t.equal((await store.users.findByIdentity(okta.id, 'held'))!.id, other.id, 'not moved');
      const ok = await admin.post(`/admin/users/${annId}/identities`, { idp: okta.id, nameId: 'ann-new' });
      t.equal(ok.headers.location, `/admin/users/${annId}?done=identity-linked`);
      const shown = await admin.get(ok.headers.location!);
      t.match(shown.body, /<code>ann-new<\/code><\/td>\s*<td>an admin<\/td>/);
      t.match((await auditOf('user.identity_added', annId))[0], {
        actor: admin.email,
        details: { nameId: 'ann-new', idpId: okta.id },
      });
    },
  );

  t.test("another organisation's user: 404 on every page and action, nothing changed", async (t) => {
    const foreign = (await hooliStore.users.findByEmail('user999@bulk.example'))!;
    t.equal((await admin.get(`/admin/users/${foreign.id}`)).statusCode, 404);
    t.equal((await admin.get(`/admin/users/${foreign.id}/delete`)).statusCode, 404);
    for (const action of ['disable', 'reset-totp', 'unlock', 'revoke-devices', 'delete']) {
      t.equal((await admin.post(`/admin/users/${foreign.id}/${action}`)).statusCode, 404, action);
    }
    t.equal((await admin.post(`/admin/users/${foreign.id}`, { email: 'stolen@example.com' })).statusCode, 404);
    t.match(await hooliStore.users.findById(foreign.id), { email: 'user999@bulk.example', status: 'active' });
    t.equal((await admin.get('/admin/users/not-a-uuid')).statusCode, 404);
  });

  t.test('a POST without the CSRF token is refused', async (t) => {
    const res = await admin.post(`/admin/users/${annId}/disable`, { _csrf: 'wrong' });
    t.equal(res.statusCode, 403);
    const none = await admin.request({
      method: 'POST',
      url: `/admin/users/${annId}/delete`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    t.equal(none.statusCode, 403);
    t.equal((await store.users.findById(annId))!.status, 'active');
  });

  t.test('delete: confirmation page, then the user and their factor are gone', async (t) => {
    await store.totp.savePending(annId, { secretEnc: 'sealed', algorithm: 'SHA1', digits: 6, period: 30 });
    const confirm = await admin.get(`/admin/users/${annId}/delete`);
    t.equal(confirm.statusCode, 200);
    t.match(confirm.body, /Delete ann@customer\.example\?/);
    t.match(confirm.body, /<button type="submit" class="danger">Delete user<\/button>/);
    const res = await admin.post(`/admin/users/${annId}/delete`);
    t.equal(res.headers.location, '/admin/users?done=deleted');
    t.equal(await store.users.findById(annId), null);
    t.equal(await store.totp.find(annId), null);
    t.match((await auditOf('user.deleted', annId))[0], {
      actor: admin.email,
      details: { email: 'ann@customer.example' },
    });
    t.equal((await admin.get(`/admin/users/${annId}`)).statusCode, 404);
  });

  t.test('import: dry run shows the report and writes nothing; the real import creates users', async (t) => {
    const form = await admin.get('/admin/users/import');
    t.equal(form.statusCode, 200);
    t.match(form.body, /enctype="multipart\/form-data"/);

    const missing = await admin.upload('/admin/users/import', { mode: 'create' }, {});
    t.equal(missing.statusCode, 400);
    t.match(missing.body, /id="file-error">Choose a CSV or JSON file/);

    const csv =
      'email,firstName,lastName,groups\nnew1@import.example,New,One,jira\nnew2@import.example,New,Two,\nbroken,X,Y,\n';
    const dry = await admin.upload(
      '/admin/users/import',
      { mode: 'create', dryRun: 'on' },
      { file: { filename: 'users.csv', content: csv, contentType: 'text/csv' } },
    );
    t.equal(dry.statusCode, 303);
    const dryUrl = dry.headers.location!;
    t.match(dryUrl, /^\/admin\/users\/import\/[0-9a-f-]{36}\?done=imported$/);
    const dryPage = await waitForJob(dryUrl);
    t.match(dryPage, /Dry run finished: nothing was written/);
    t.match(
      dryPage,
      /<td>2<\/td><td>0<\/td><td>0<\/td><td>0<\/td><td>1<\/td>/,
      'counts: 2 would be created, 1 rejected',
    );
    t.match(
      dryPage,
      /<td>4<\/td><td>email<\/td><td>not a valid email address<\/td>/,
      'rejected row: line, column, reason',
    );
    t.equal(await store.users.findByEmail('new1@import.example'), null, 'the dry run wrote nothing');

    const real = await admin.upload(
      '/admin/users/import',
      { mode: 'create' },
      { file: { filename: 'users.csv', content: csv, contentType: 'text/csv' } },
    );
    const realPage = await waitForJob(real.headers.location!);
    t.match(realPage, /Import finished/);
    t.match(realPage, /href="\/admin\/users\/export\.csv"/);
    t.match(await store.users.findByEmail('new1@import.example'), {
      firstName: 'New',
      groups: ['jira'],
      source: 'imported',
    });
    t.ok(await store.users.findByEmail('new2@import.example'));
    t.equal(await hooliStore.users.findByEmail('new1@import.example'), null);

    const jobId = /import\/([0-9a-f-]{36})/.exec(real.headers.location!)![1];
    t.equal(
      (await other.get(`/admin/users/import/${jobId}`)).statusCode,
      404,
      'another organisation cannot see the job',
    );
    t.match(
      (await admin.get('/admin/users/import')).body,
      new RegExp(`/admin/users/import/${jobId}`),
      'recent imports are listed',
    );
  });

  t.test("import: a job whose process died is taken over, and the new job's page says so", async (t) => {
    // A job left "running" ten minutes ago by a process that died (no heartbeat since).
    const { job: dead } = (await store.importJobs.begin(
      { mode: 'create', state: { phase: 'writing', format: 'csv', file: 'upload', bytes: 10 } },
      new Date(ta.ctx.clock.now().getTime() - 10 * 60_000),
      30_000,
    )) as { job: { id: string } };
    const res = await admin.upload(
      '/admin/users/import',
      { mode: 'create' },
      { file: { filename: 'users.csv', content: 'email\nlate@import.example\n', contentType: 'text/csv' } },
    );
    t.equal(res.statusCode, 303, 'not refused as "another import is running"');
    t.match(res.headers.location, `&took_over=${dead.id}`);
    const page = await waitForJob(res.headers.location!);
    t.match(
      page,
      new RegExp(`An earlier import \\(<a href="/admin/users/import/${dead.id}">`),
      'the page names the abandoned job',
    );
    t.match(page, /its process died\. It is marked abandoned/);
    const forged = await admin.get(
      `${res.headers.location!.replace(/&took_over=.*/, '')}&took_over=${encodeURIComponent('not-a-job')}`,
    );
    t.notMatch(
      forged.body,
      /An earlier import/,
      'an id that is not an abandoned job of this organisation shows nothing',
    );
    t.equal((await store.audit.list({ type: 'users.import.abandoned' })).length, 1, 'audited');
  });

  t.test('export CSV', async (t) => {
    const res = await admin.get('/admin/users/export.csv');
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /text\/csv/);
    t.match(res.body, /^\ufeffemail,username,firstName,lastName,phone,groups,status,idp,nameId\r\n/);
    t.match(res.body, /new1@import\.example,,New,One,,jira,active,,/);
    t.notMatch(res.body, /user999/);
  });

  async function waitForJob(url: string) {
    for (let i = 0; i < 100; i++) {
      const res = await admin.get(url);
      if (res.statusCode !== 200) throw new Error(`job page: ${res.statusCode}`);
      if (!res.body.includes('http-equiv="refresh"')) return res.body;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error('the import did not finish');
  }
});

// Search and pages are range queries whose results depend on the database's string ordering: both databases.
for (const provider of testProviders()) {
  t.test(`search and pages on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const admin = await signedInAdmin(ta, 'piedpipers');
    const store = ta.ctx.store.forOrg(admin.orgId);
    const people = [
      ['ann.lee@customer.example', 'Ann', 'Lee'],
      ['ann_b@customer.example', 'Annabel', 'Brown'],
      ['annz@customer.example', 'Zed', 'Annz'],
      ['anna%@customer.example', 'Anna', 'Percent'],
      ['ánne@customer.example', 'Ánne', 'Accent'],
      ['bob@customer.example', 'Bob', 'smith'],
      ['carol@customer.example', 'Carol', 'Smith'],
      ['😀emoji@customer.example', 'Emo', 'Ji'],
    ];
    for (const [email, firstName, lastName] of people) await store.users.create({ email, firstName, lastName });
    const emails = async (q: string) =>
      [
        ...(await admin.get(`/admin/users?q=${encodeURIComponent(q)}`)).body.matchAll(
          /<a href="\/admin\/users\/[0-9a-f-]{36}">([^<]+)<\/a>/g,
        ),
      ].map((m) => m[1]);

    t.same(
      await emails('ann'),
      ['ann.lee@customer.example', 'ann_b@customer.example', 'anna%@customer.example', 'annz@customer.example'],
      'email and first-name prefix, email order',
    );
    t.same(await emails('ann.'), ['ann.lee@customer.example'], 'punctuation is literal');
    t.same(await emails('ann_'), ['ann_b@customer.example'], '_ is not a wildcard');
    t.same(await emails('anna%'), ['anna%@customer.example'], '% is not a wildcard');
    t.same(await emails('Á'), ['ánne@customer.example'], 'accented prefix, without regard to case in the email');
    t.same(
      await emails('smith'),
      ['bob@customer.example', 'carol@customer.example'],
      'last name as typed and capitalised',
    );
    t.same(await emails('😀'), ['😀emoji@customer.example'], 'characters outside the BMP');

    for (let i = 0; i < 60; i++) await store.users.create({ email: `z${String(i).padStart(2, '0')}@bulk.example` });
    const first = await admin.get('/admin/users?q=z');
    t.match(first.body, /Users matching “z”, page by page/);
    const next = /href="(\/admin\/users\?after=[^"]+)" rel="next"/.exec(first.body)![1].replace(/&amp;/g, '&');
    const secondPage = [
      ...(await admin.get(next)).body.matchAll(/<a href="\/admin\/users\/[0-9a-f-]{36}">([^<]+)<\/a>/g),
    ].map((m) => m[1]);
    t.same(secondPage, [
      'z49@bulk.example',
      'z50@bulk.example',
      'z51@bulk.example',
      'z52@bulk.example',
      'z53@bulk.example',
      'z54@bulk.example',
      'z55@bulk.example',
      'z56@bulk.example',
      'z57@bulk.example',
      'z58@bulk.example',
      'z59@bulk.example',
    ]);
  });
}
