// Console section "Audit log" and /api/audit: filters (time, type, type family, user, app, IdP, actor), newest
// first in keyset pages, CSV export with the same filters and spreadsheet-safe cells, and only the Host's
// organisation's events.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { testProviders } from '../helpers/context.ts';

const parseCsv = (text: string) =>
  text
    .replace(/^\ufeff/, '')
    .trimEnd()
    .split('\r\n');

t.test('audit log: console and API', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const other = await signedInAdmin(ta, 'hooli');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const token = await admin.apiToken();
  const hooliToken = await other.apiToken();
  const api = (url: string, bearer = token) =>
    ta.request('piedpipers', { method: 'GET', url, headers: { authorization: `Bearer ${bearer}` } });

  const ann = await store.users.create({ email: 'ann@customer.example' });
  const bob = await store.users.create({ email: 'bob@customer.example' });
  const jira = await store.applications.create({
    name: 'Jira Service Management',
    entityId: 'https://jira.example/sp',
    acsUrls: ['https://jira.example/acs'],
  });
  const wiki = await store.applications.create({
    name: 'Wiki',
    entityId: 'https://wiki.example/sp',
    acsUrls: ['https://wiki.example/acs'],
  });
  const okta = await store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://okta.example/sso',
  });
  const base = new Date('2026-03-01T12:00:00Z').getTime();
  const at = (minutes: number) => new Date(base + minutes * 60_000);
  // Events that are not the admin session's own: sign-ins, denials, second factor, an admin change with a formula.
  await store.audit.record({
    type: 'login.success',
    userId: ann.id,
    appId: jira.id,
    idpId: okta.id,
    at: at(0),
    details: { via: 'sp' },
  });
  await store.audit.record({
    type: 'login.denied',
    outcome: 'failure',
    code: 'policy_denied',
    userId: bob.id,
    appId: wiki.id,
    idpId: okta.id,
    at: at(10),
  });
  await store.audit.record({
    type: 'mfa.locked',
    outcome: 'failure',
    userId: ann.id,
    at: at(20),
    details: { failures: 5 },
  });
  await store.audit.record({
    type: 'user.updated',
    actor: '=HYPERLINK("http://evil.example")',
    userId: bob.id,
    at: at(30),
    details: { note: '+1 <b>bold</b>' },
  });
  for (let i = 0; i < 60; i++)
    await store.audit.record({ type: 'login.success', userId: bob.id, appId: wiki.id, at: at(100 + i) });
  await ta.ctx.store
    .forOrg(other.orgId)
    .audit.record({ type: 'login.success', details: { secret: 'hooli-only' }, at: at(5) });

  t.test('page: newest first, 50 per page, older/newer links, all columns', async (t) => {
    const first = await admin.get('/admin/audit');
    t.equal(first.statusCode, 200);
    t.notMatch(first.body, /hooli-only/, "no other organisation's events");
    const times = [...first.body.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]);
    t.equal(times.length, 50);
    t.same(times, [...times].sort().reverse(), 'newest first');
    const older = /href="(\/admin\/audit\?before=[^"]+)" rel="next"/.exec(first.body)![1].replace(/&amp;/g, '&');
    const second = await admin.get(older);
    const secondTimes = [...second.body.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]);
    t.ok(secondTimes.length >= 14, 'the rest of the events');
    t.ok(
      secondTimes.every((x) => x < times[times.length - 1]),
      'older than the first page',
    );
    t.match(second.body, /<code>login\.denied<\/code>/);
    t.match(second.body, /<span class="badge off">failure<\/span>/);
    t.match(second.body, /<code>policy_denied<\/code>/);
    t.match(second.body, /Wiki<\/td>\s*<td>Okta<\/td>/, 'app and IdP by name');
    t.match(second.body, new RegExp(`<a href="/admin/users/${bob.id}">bob@customer\\.example</a>`), 'user by email');
    t.match(second.body, /&lt;b&gt;bold&lt;\/b&gt;/, 'details are escaped');
    const newer = /href="(\/admin\/audit\?after=[^"]+)" rel="prev"/.exec(second.body)![1].replace(/&amp;/g, '&');
    const back = await admin.get(newer);
    t.same(
      [...back.body.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]),
      times,
      'newer goes back to the same first page',
    );
  });

  t.test('filters: type, type family, user, app, time range; links keep them', async (t) => {
    const denied = await admin.get('/admin/audit?type=login.denied');
    t.equal([...denied.body.matchAll(/<time /g)].length, 1);
    t.match(denied.body, /value="login\.denied"/);
    const mfa = await admin.get('/admin/audit?type=mfa.*');
    t.equal([...mfa.body.matchAll(/<time /g)].length, 1);
    t.match(mfa.body, /mfa\.locked/);
    const annOnly = await admin.get('/admin/audit?user=ANN@customer.example');
    t.equal([...annOnly.body.matchAll(/<time /g)].length, 2);
    t.notMatch(annOnly.body, /bob@customer/);
    const jiraOnly = await admin.get(`/admin/audit?app=${jira.id}`);
    t.equal([...jiraOnly.body.matchAll(/<time /g)].length, 1);
    t.match(jiraOnly.body, new RegExp(`<option value="${jira.id}" selected>`));
    const range = await admin.get('/admin/audit?from=2026-03-01T12:05&to=2026-03-01T12:30');
    t.same(
      [...range.body.matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]),
      ['2026-03-01T12:30:00.000Z', '2026-03-01T12:20:00.000Z', '2026-03-01T12:10:00.000Z'],
    );
    const bobWiki = await admin.get(`/admin/audit?user=bob@customer.example&app=${wiki.id}&type=login.success`);
    t.equal([...bobWiki.body.matchAll(/<time /g)].length, 50);
    const older = /href="(\/admin\/audit\?before=[^"]+)" rel="next"/.exec(bobWiki.body)![1].replace(/&amp;/g, '&');
    t.match(older, /type=login\.success/);
    t.match(older, /user=bob%40customer\.example/);
    t.equal([...(await admin.get(older)).body.matchAll(/<time /g)].length, 10);
    t.match(
      bobWiki.body,
      /href="\/admin\/audit\/export\.csv\?type=login\.success&amp;user=bob%40customer\.example&amp;app=/,
      'export link carries the filters',
    );
  });

  t.test('bad filters: shown next to the field, 400', async (t) => {
    const res = await admin.get('/admin/audit?from=yesterday&user=nobody@customer.example');
    t.equal(res.statusCode, 400);
    t.match(res.body, /id="from-error">not a date and time/);
    t.match(res.body, /aria-describedby="from-error"/);
    t.match(res.body, /id="user-error">no user with this email/);
    t.match(res.body, /value="yesterday"/);
    const api400 = await api('/api/audit?to=2026-01-01&from=2026-02-01');
    t.equal(api400.statusCode, 400);
    t.match(api400.json().error.details.fields, { to: /before/ });
  });

  t.test('CSV export: header, filtered rows, formula cells escaped', async (t) => {
    const res = await admin.get('/admin/audit/export.csv?from=2026-03-01T11:00&to=2026-03-01T13:00');
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /text\/csv/);
    t.match(res.headers['content-disposition'], /piedpipers-audit\.csv/);
    const lines = parseCsv(res.body);
    t.equal(lines[0], 'time,type,outcome,code,actor,user,userId,app,appId,idp,idpId,flowId,details');
    t.equal(lines.length, 5, 'header + the four events in range');
    t.match(
      lines[1],
      /^2026-03-01T12:30:00\.000Z,user\.updated,success,,"'=HYPERLINK\(""http:\/\/evil\.example""\)",bob@customer\.example,/,
    );
    t.match(
      lines[1],
      /,"\{""note"":""\+1 <b>bold<\/b>""\}"$/,
      'details as JSON (not at the start of a cell, so not escaped)',
    );
    t.match(lines[3], /,login\.denied,failure,policy_denied,,bob@customer\.example,[0-9a-f-]+,Wiki,[0-9a-f-]+,Okta,/);
    t.notMatch(res.body, /hooli-only/);

    const typed = parseCsv((await admin.get('/admin/audit/export.csv?type=login.success')).body);
    t.equal(typed.length, 1 + 61);
    const viaApi = await api('/api/audit/export?type=login.denied');
    t.equal(viaApi.statusCode, 200);
    t.equal(parseCsv(viaApi.body).length, 2);
  });

  t.test('API: filters, keyset pages, names; other organisation and tokens', async (t) => {
    const res = await api('/api/audit?take=2');
    t.equal(res.statusCode, 200);
    const page1 = res.json();
    t.equal(page1.events.length, 2);
    t.equal(page1.newer, null);
    const page2 = (await api(`/api/audit?take=2&before=${encodeURIComponent(page1.older)}`)).json();
    t.ok(page2.events[0].at < page1.events[1].at);
    t.same(
      (await api(`/api/audit?take=2&after=${encodeURIComponent(page2.newer)}`))
        .json()
        .events.map((e: { id: string }) => e.id),
      page1.events.map((e: { id: string }) => e.id),
    );

    const denied = (await api(`/api/audit?type=login.denied&userId=${bob.id}`)).json();
    t.equal(denied.events.length, 1);
    t.match(denied.events[0], {
      type: 'login.denied',
      outcome: 'failure',
      code: 'policy_denied',
      userEmail: 'bob@customer.example',
      appName: 'Wiki',
      idpName: 'Okta',
      idpId: okta.id,
    });
    const byActor = (await api(`/api/audit?actor=${encodeURIComponent('=HYPERLINK("http://evil.example")')}`)).json();
    t.equal(byActor.events.length, 1);
    t.same(byActor.events[0].details, { note: '+1 <b>bold</b>' });
    const byIdp = (await api(`/api/audit?idp=${okta.id}`)).json();
    t.equal(byIdp.events.length, 2);
    t.equal((await api('/api/audit?before=garbage')).statusCode, 400);

    const foreign = await api(`/api/audit?type=login.success`, hooliToken);
    t.equal(foreign.statusCode, 401, "hooli's token on piedpipers");
    const hooliOwn = (
      await ta.request('hooli', {
        method: 'GET',
        url: '/api/audit',
        headers: { authorization: `Bearer ${hooliToken}` },
      })
    ).json();
    t.notOk(
      hooliOwn.events.some((e: { userId: string | null }) => e.userId === ann.id || e.userId === bob.id),
      'hooli sees only its own events',
    );
    t.ok(hooliOwn.events.some((e: { details: { secret?: string } }) => e.details.secret === 'hooli-only'));
    t.equal((await ta.request('piedpipers', { method: 'GET', url: '/api/audit/export' })).statusCode, 401);
  });
});

// Keyset pages over events of the same instant rely on the database ordering ids as tie-breaker: both databases.
for (const provider of testProviders()) {
  t.test(`audit pages with simultaneous events on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const admin = await signedInAdmin(ta, 'piedpipers');
    const store = ta.ctx.store.forOrg(admin.orgId);
    const token = await admin.apiToken();
    const same = new Date('2026-05-01T08:00:00Z');
    for (let i = 0; i < 7; i++) await store.audit.record({ type: 'batch.event', at: same, details: { i } });
    const seen: number[] = [];
    let url = '/api/audit?type=batch.event&take=3';
    const pages: { older: string | null; newer: string | null }[] = [];
    for (;;) {
      const page = (
        await ta.request('piedpipers', { method: 'GET', url, headers: { authorization: `Bearer ${token}` } })
      ).json();
      pages.push(page);
      seen.push(...page.events.map((e: { details: { i: number } }) => e.details.i));
      if (!page.older) break;
      url = `/api/audit?type=batch.event&take=3&before=${encodeURIComponent(page.older)}`;
    }
    t.equal(seen.length, 7, 'every event once');
    t.same([...seen].sort(), [0, 1, 2, 3, 4, 5, 6]);
    t.equal(pages.length, 3);
    const back = (
      await ta.request('piedpipers', {
        method: 'GET',
        url: `/api/audit?type=batch.event&take=3&after=${encodeURIComponent(pages[2].newer!)}`,
        headers: { authorization: `Bearer ${token}` },
      })
    ).json();
    t.same(
      back.events.map((e: { details: { i: number } }) => e.details.i),
      seen.slice(3, 6),
      'newer from the last page is the middle page',
    );
    const csv = (await admin.get('/admin/audit/export.csv?type=batch.event')).body;
    t.equal(csv.trimEnd().split('\r\n').length, 8);
  });
}
