// The admin JSON API for the directory: bearer tokens of the Host's organisation only; import as a polled job;
// export; list.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { createApiToken } from '../../src/admin/api-tokens.ts';

t.test('admin API: users', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const hooli = await createOrg(ta.ctx, 'hooli');
  const { token, id } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
  const { token: hooliToken } = await createApiToken(hooli.store, ta.clock, 'other', 'test');
  const auth = { authorization: `Bearer ${token}` };
  const api = (
    method: 'GET' | 'POST',
    url: string,
    opts: { headers?: Record<string, string>; payload?: string } = {},
  ) => ta.request('piedpipers', { method, url, headers: { ...auth, ...opts.headers }, payload: opts.payload });

  t.test('tokens: required, of this organisation only, stored hashed, revocable', async (t) => {
    const none = await ta.request('piedpipers', { method: 'GET', url: '/api/users' });
    t.equal(none.statusCode, 401);
    t.same(none.json().error.code, 'api_unauthorized');
    const foreign = await ta.request('piedpipers', {
      method: 'GET',
      url: '/api/users',
      headers: { authorization: `Bearer ${hooliToken}` },
    });
    t.equal(foreign.statusCode, 401, "another organisation's token is refused");
    t.equal((await api('GET', '/api/users')).statusCode, 200);
    const rows = await ta.ctx.store.db.apiToken.findMany({});
    for (const r of rows) t.notMatch(r.tokenHash, /^brk_/);
  });

  t.test('import: 202 with a job to poll; the report comes with it', async (t) => {
    const csv = 'email;firstName;lastName;groups\nann@customer.example;Ann;Lee;jira|beta\nnot-an-email;X;Y;\n';
    const res = await api('POST', '/api/users/import?mode=upsert', {
      headers: { 'content-type': 'text/csv' },
      payload: csv,
    });
    t.equal(res.statusCode, 202);
    const { jobId } = res.json();
    let job;
    for (let i = 0; i < 100; i++) {
      job = (await api('GET', `/api/users/import/${jobId}`)).json();
      if (job.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.match(job, { status: 'done' });
    t.match(job.report.counts, { created: 1, rejected: 1 });
    t.match(job.report.rejections[0], { line: 3, column: 'email' });
    const other = await ta.request('hooli', {
      method: 'GET',
      url: `/api/users/import/${jobId}`,
      headers: { authorization: `Bearer ${hooliToken}` },
    });
    t.equal(other.statusCode, 404, 'another organisation cannot see the job');
  });

  t.test('list and export', async (t) => {
    const list = (await api('GET', '/api/users?search=ann')).json();
    t.equal(list.users.length, 1);
    t.same(list.users[0].groups, ['jira', 'beta']);
    const exp = await api('GET', '/api/users/export');
    t.equal(exp.statusCode, 200);
    t.match(exp.body, /ann@customer\.example/);
    t.equal(
      (
        await ta.request('hooli', {
          method: 'GET',
          url: '/api/users',
          headers: { authorization: `Bearer ${hooliToken}` },
        })
      ).json().users.length,
      0,
    );
  });

  t.test('a revoked token stops working', async (t) => {
    await pp.store.apiTokens.revoke(id, ta.clock.now());
    t.equal((await api('GET', '/api/users')).statusCode, 401);
  });
});
