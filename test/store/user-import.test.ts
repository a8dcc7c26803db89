// Bulk user import and export on both databases: modes, rejections, dry run, all-or-nothing, restart after a
// crash, the per-organisation lock, formula cells, export -> import round trip, limits, JSON, tenant isolation.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { AppContext } from '../../src/context.ts';
import { exportUsersCsv } from '../../src/users/export-csv.ts';
import {
  UserImportService,
  type ImportOptions,
  type UserImportServiceOptions,
} from '../../src/users/import/import-service.ts';
import type { ImportProgress } from '../../src/users/import/report.ts';
import { createTestContext, testProviders } from '../helpers/context.ts';

const HEADER = 'email,username,firstName,lastName,phone,groups,status';
const csv = (...lines: string[]) => [HEADER, ...lines].join('\r\n') + '\r\n';

async function newOrg(ctx: AppContext, slug: string) {
  const org = await ctx.store.db.organization.create({ data: { slug, name: slug } });
  return { id: org.id, store: ctx.store.forOrg(org.id) };
}
type Org = Awaited<ReturnType<typeof newOrg>>;

const users = async (org: Org) =>
  (await org.store.users.list({ take: 500 })).map(
    ({ email, username, firstName, lastName, phone, groups, status, source }) => ({
      email,
      username,
      firstName,
      lastName,
      phone,
      groups,
      status,
      source,
    }),
  );
const emails = async (org: Org) => (await org.store.users.list({ take: 500 })).map((u) => u.email);

async function exportText(org: Org) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c) => (text += c));
  await exportUsersCsv(org.store, out);
  return text;
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const { ctx } = tc;
    let n = 0;
    const org = () => newOrg(ctx, `imp${provider[0]}${++n}`);
    const service = (o: UserImportServiceOptions = {}) => new UserImportService(ctx, o);
    const run = (o: Org, text: string, opts: ImportOptions = {}, svc = service()) =>
      svc.run(o.id, { data: text }, opts);

    t.test(
      'create mode: new users are created; identical rows are unchanged; differing existing users are rejected, untouched',
      async (t) => {
        const o = await org();
        const first = await run(
          o,
          csv('ann@example.com,ann,Ann,Lee,+1 555 0100,staff|jira,active', 'bob@example.com,,Bob,,,,disabled'),
        );
        t.same(first.counts, { created: 2, updated: 0, unchanged: 0, disabled: 0, rejected: 0 });
        t.equal(first.written, true);
        t.same(await users(o), [
          {
            email: 'ann@example.com',
            username: 'ann',
            firstName: 'Ann',
            lastName: 'Lee',
            phone: '+1 555 0100',
            groups: ['staff', 'jira'],
            status: 'active',
            source: 'imported',
          },
          {
            email: 'bob@example.com',
            username: null,
            firstName: 'Bob',
            lastName: null,
            phone: null,
            groups: [],
            status: 'disabled',
            source: 'imported',
          },
        ]);
        const second = await run(
          o,
          csv(
            'ANN@example.com,ann,Ann,Lee,+1 555 0100,staff|jira,active',
            'bob@example.com,,Robert,,,,disabled',
            'carl@example.com,,Carl,,,,',
          ),
        );
        t.same(second.counts, { created: 1, updated: 0, unchanged: 0, disabled: 0, rejected: 2 });
        t.match(second.rejections, [
          { line: 2, column: 'email', reason: /already exists and differs/, email: 'ANN@example.com' },
          { line: 3, column: 'email', reason: /create-only mode never changes existing users/ },
        ]);
        t.equal((await o.store.users.findByEmail('bob@example.com'))!.firstName, 'Bob', 'not changed');
        const third = await run(o, csv('ann@example.com,ann,Ann,Lee,+1 555 0100,staff|jira,active'));
        t.same(
          third.counts,
          { created: 0, updated: 0, unchanged: 1, disabled: 0, rejected: 0 },
          'an identical row is unchanged, not rejected',
        );
      },
    );

    t.test('upsert mode: updates only the columns the file has; unchanged rows are not rewritten', async (t) => {
      const o = await org();
      const admin = await o.store.users.create({
        email: 'ann@example.com',
        firstName: 'Ann',
        lastName: 'Lee',
        phone: '+1 555',
        groups: ['x'],
      });
      const report = await run(o, 'email,lastName,groups\nann@example.com,Lee-Smith,a|b\nbob@example.com,Ray,\n', {
        mode: 'upsert',
      });
      t.same(report.counts, { created: 1, updated: 1, unchanged: 0, disabled: 0, rejected: 0 });
      const ann = (await o.store.users.findByEmail('ann@example.com'))!;
      t.same(
        [ann.id, ann.firstName, ann.lastName, ann.phone, ann.groups, ann.source],
        [admin.id, 'Ann', 'Lee-Smith', '+1 555', ['a', 'b'], 'admin'],
        'other columns, id and source kept',
      );
      const again = await run(o, 'email,lastName,groups\nann@example.com,Lee-Smith,a|b\nbob@example.com,Ray,\n', {
        mode: 'upsert',
      });
      t.same(again.counts, { created: 0, updated: 0, unchanged: 2, disabled: 0, rejected: 0 });
      t.equal(
        (await o.store.users.findByEmail('ann@example.com'))!.updatedAt.getTime(),
        ann.updatedAt.getTime(),
        'not rewritten',
      );
      const emptyClears = await run(o, 'email,phone,status\nANN@example.com,,\n', { mode: 'upsert' });
      t.same(emptyClears.counts.updated, 1);
      const after = (await o.store.users.findByEmail('ann@example.com'))!;
      t.same(
        [after.email, after.phone, after.status],
        ['ANN@example.com', null, 'active'],
        'email case follows the file; an empty cell clears; an empty status keeps the stored one',
      );
    });

    t.test(
      "pre-links: IdP by entity ID or id; a link owned by another user, an unknown IdP or another organisation's IdP is rejected",
      async (t) => {
        const o = await org();
        const other = await org();
        const okta = await o.store.identityProviders.create({
          name: 'Okta',
          entityId: 'http://www.okta.com/exk1',
          ssoUrl: 'https://okta.example/sso',
          certificates: [],
        });
        const foreign = await other.store.identityProviders.create({
          name: 'Foreign',
          entityId: 'http://foreign.example',
          ssoUrl: 'https://foreign.example/sso',
          certificates: [],
        });
        const report = await run(
          o,
          [
            'email,idp,nameId',
            'ann@example.com,http://www.okta.com/exk1,00u-ann',
            `bob@example.com,${okta.id},00u-bob`,
            'carl@example.com,http://www.okta.com/exk1,00u-ann',
            'dora@example.com,http://nope.example,x',
            `erin@example.com,${foreign.id},x`,
            `fred@example.com,${foreign.entityId},x`,
          ].join('\n'),
        );
        t.same(report.counts, { created: 2, updated: 0, unchanged: 0, disabled: 0, rejected: 4 });
        t.match(report.rejections, [
          { line: 4, column: 'nameId', reason: /duplicate inside the file: line 2/ },
          { line: 5, column: 'idp', reason: /unknown identity provider/ },
          { line: 6, column: 'idp', reason: /unknown identity provider/ },
          { line: 7, column: 'idp', reason: /unknown identity provider/ },
        ]);
        t.equal((await o.store.users.findByIdentity(okta.id, '00u-ann'))!.email, 'ann@example.com');
        t.equal((await o.store.users.findByIdentity(okta.id, '00u-bob'))!.email, 'bob@example.com');
        const ann = (await o.store.users.findByEmail('ann@example.com'))!;
        t.match(
          await o.store.users.identities(ann.id),
          [{ nameId: '00u-ann', source: 'imported' }],
          'pre-links are recorded as imported',
        );
        const taken = await run(
          o,
          'email,idp,nameId\ncarl@example.com,http://www.okta.com/exk1,00u-ann\nbob@example.com,http://www.okta.com/exk1,00u-bob2\n',
          { mode: 'upsert' },
        );
        t.same(taken.counts, { created: 0, updated: 1, unchanged: 0, disabled: 0, rejected: 1 });
        t.match(taken.rejections, [{ line: 2, column: 'nameId', reason: /already linked to another user/ }]);
        t.equal(
          (await o.store.users.findByIdentity(okta.id, '00u-bob2'))!.email,
          'bob@example.com',
          'a second link added',
        );
        t.equal(
          (await o.store.users.findByIdentity(okta.id, '00u-bob'))!.email,
          'bob@example.com',
          'the first link kept',
        );
      },
    );

    t.test(
      "pre-links: IdP by its name when exactly one IdP has it; another organisation's name is unknown; a link made at sign-in is not moved",
      async (t) => {
        const o = await org();
        const other = await org();
        const okta = await o.store.identityProviders.create({
          name: 'Okta',
          entityId: 'http://www.okta.com/exk1',
          ssoUrl: 'https://okta.example/sso',
          certificates: [],
        });
        await o.store.identityProviders.create({
          name: 'Twin',
          entityId: 'https://twin-1.example',
          ssoUrl: 'https://twin-1.example/sso',
          certificates: [],
        });
        await o.store.identityProviders.create({
          name: 'Twin',
          entityId: 'https://twin-2.example',
          ssoUrl: 'https://twin-2.example/sso',
          certificates: [],
        });
        await other.store.identityProviders.create({
          name: 'Foreign',
          entityId: 'http://foreign.example',
          ssoUrl: 'https://foreign.example/sso',
          certificates: [],
        });
        const jit = await o.store.users.create({ email: 'jit@example.com', source: 'jit' });
        await o.store.users.link(jit.id, okta.id, '00u-jit', 'login');
        const report = await run(
          o,
          [
            'email,idp,nameId',
            'gail@example.com,Okta,00u-gail',
            'hank@example.com,Twin,x',
            'ivan@example.com,Foreign,x',
            'jack@example.com,Okta,00u-jit',
          ].join('\n'),
        );
        t.same(report.counts, { created: 1, updated: 0, unchanged: 0, disabled: 0, rejected: 3 });
        t.match(report.rejections, [
          { line: 3, column: 'idp', reason: /several identity providers are named "Twin": name it by its entity ID/ },
          { line: 4, column: 'idp', reason: /unknown identity provider "Foreign"/ },
          { line: 5, column: 'nameId', reason: /already linked to another user/ },
        ]);
        const gail = (await o.store.users.findByEmail('gail@example.com'))!;
        t.match(await o.store.users.identities(gail.id), [{ idpId: okta.id, nameId: '00u-gail', source: 'imported' }]);
        t.equal(
          (await o.store.users.findByIdentity(okta.id, '00u-jit'))!.id,
          jit.id,
          'the sign-in link stays with its user',
        );
      },
    );

    t.test(
      'disable-missing: active users the file does not name are disabled; rejected rows still count as named',
      async (t) => {
        const o = await org();
        await run(
          o,
          csv(
            'ann@example.com,,Ann,,,,',
            'bob@example.com,,Bob,,,,',
            'carl@example.com,,Carl,,,,',
            'dora@example.com,,Dora,,,,disabled',
          ),
        );
        await o.store.users.create({ email: 'erin@example.com', source: 'jit' });
        const report = await run(o, csv('ann@example.com,,Ann,,,,', `bob@example.com,,Bob,,${'1'.repeat(60)},,`), {
          mode: 'upsert',
          disableMissing: true,
        });
        t.same(report.counts, { created: 0, updated: 0, unchanged: 1, disabled: 2, rejected: 1 });
        const status = Object.fromEntries((await users(o)).map((u) => [u.email, u.status]));
        t.same(status, {
          'ann@example.com': 'active',
          'bob@example.com': 'active',
          'carl@example.com': 'disabled',
          'dora@example.com': 'disabled',
          'erin@example.com': 'disabled',
        });
        await t.rejects(run(o, HEADER + '\n', { disableMissing: true }), { code: 'import_empty_file' });
        t.equal(
          (await users(o)).filter((u) => u.status === 'active').length,
          2,
          'an empty file never disables everyone',
        );
      },
    );

    t.test('dry run: the same report as the real run, nothing written', async (t) => {
      const o = await org();
      await run(o, csv('ann@example.com,,Ann,,,,', 'bob@example.com,,Bob,,,,'));
      const before = await users(o);
      const file = csv(
        'ann@example.com,,Ann,,,,',
        'bob@example.com,,Robert,,,,',
        'carl@example.com,,Carl,,,,',
        'bad-email,,X,,,,',
      );
      const dry = await run(o, file, { mode: 'upsert', dryRun: true, disableMissing: true });
      t.same(await users(o), before, 'nothing written');
      t.equal(dry.written, false);
      t.equal(dry.dryRun, true);
      const real = await run(o, file, { mode: 'upsert', disableMissing: true });
      t.same(dry.counts, real.counts);
      t.same(dry.counts, { created: 1, updated: 1, unchanged: 1, disabled: 0, rejected: 1 });
      t.same(dry.rejections, real.rejections);
      const job = await service().getJob(o.id, dry.jobId);
      t.match(job, { status: 'done', dryRun: true, report: { counts: dry.counts } });
    });

    t.test('all-or-nothing: one rejected row means nothing is written; a clean file is written whole', async (t) => {
      const o = await org();
      await run(o, csv('ann@example.com,,Ann,,,,'));
      const bad = await run(
        o,
        csv('bob@example.com,,Bob,,,,', 'carl@example.com,,Carl,,,,', 'not-an-email,,X,,,,'),
        { allOrNothing: true },
        service({ batchSize: 1 }),
      );
      t.same(bad.counts, { created: 0, updated: 0, unchanged: 0, disabled: 0, rejected: 1 });
      t.equal(bad.written, false);
      t.match(bad.rejections, [{ line: 4, column: 'email' }]);
      t.same(await emails(o), ['ann@example.com']);
      const existing = await run(o, csv('bob@example.com,,Bob,,,,', 'ann@example.com,,Annie,,,,'), {
        allOrNothing: true,
      });
      t.same(
        [existing.written, existing.counts.rejected],
        [false, 1],
        'a rejection that needs the directory (create mode, user exists) counts too',
      );
      t.same(await emails(o), ['ann@example.com']);
      const good = await run(
        o,
        csv('bob@example.com,,Bob,,,,', 'carl@example.com,,Carl,,,,', 'ann@example.com,,Annie,,,,'),
        { allOrNothing: true, mode: 'upsert', disableMissing: true },
        service({ batchSize: 1 }),
      );
      t.same(good.counts, { created: 2, updated: 1, unchanged: 0, disabled: 0, rejected: 0 });
      t.equal(good.written, true);
      t.same(await emails(o), ['ann@example.com', 'bob@example.com', 'carl@example.com']);
    });

    t.test(
      'restart after a crash: re-running the same file finishes it without duplicates (create mode)',
      async (t) => {
        const o = await org();
        const file = csv(...Array.from({ length: 6 }, (_, i) => `u${i}@example.com,u${i},User,${i},,,`));
        const crashing = service({
          batchSize: 2,
          afterBatch: ({ batch }) => {
            if (batch === 2) throw new Error('simulated crash after batch 2');
          },
        });
        await t.rejects(run(o, file, {}, crashing), /simulated crash/);
        t.same(
          await emails(o),
          ['u0@example.com', 'u1@example.com', 'u2@example.com', 'u3@example.com'],
          'batches 1 and 2 committed, nothing after',
        );
        const [crashed] = await service().listJobs(o.id);
        t.match(crashed, {
          status: 'failed',
          rowsDone: 4,
          error: { code: 'import_failed', message: /simulated crash/ },
        });
        const rerun = await run(o, file, {}, service({ batchSize: 2 }));
        t.same(
          rerun.counts,
          { created: 2, updated: 0, unchanged: 4, disabled: 0, rejected: 0 },
          'rows of the crashed run are unchanged, not rejected',
        );
        t.equal(rerun.resumedFrom, crashed.id);
        t.equal((await emails(o)).length, 6);
        t.equal(await o.store.users.count(), 6, 'no duplicates');
      },
    );

    t.test(
      'restart after the process died: its job blocks until stale, then a new import takes over and the old one can no longer write',
      async (t) => {
        const o = await org();
        const staleAfter = 60_000;
        const reached = deferred();
        const release = deferred();
        let frozenJob = '';
        // heartbeatMs: a frozen process writes no heartbeat either (a live one does; see the next test)
        const svc = service({
          batchSize: 2,
          staleJobAfterMs: staleAfter,
          heartbeatMs: 3_600_000,
          afterBatch: async ({ jobId, batch }) => {
            if (jobId === frozenJob && batch === 1) {
              reached.resolve();
              await release.promise;
            }
          },
        });
        const fileA = csv(...Array.from({ length: 6 }, (_, i) => `a${i}@example.com,,A,,,,`));
        const started = await svc.start(o.id, { data: fileA }, {});
        frozenJob = started.jobId;
        const outcome = started.done.then(
          () => 'finished',
          (err) => err.code,
        );
        await reached.promise;

        const polled = await svc.getJob(o.id, started.jobId);
        t.match(
          polled,
          { status: 'running', phase: 'writing', rowsDone: 2, rowsTotal: 6, errors: 0 },
          'progress is pollable',
        );
        await t.rejects(svc.start(o.id, { data: csv('x@example.com,,X,,,,') }, {}), {
          status: 409,
          code: 'import_in_progress',
          message: /Another import into this organisation is running/,
        });
        tc.clock.advance(staleAfter - 1);
        await t.rejects(
          svc.start(o.id, { data: csv('x@example.com,,X,,,,') }, {}),
          { code: 'import_in_progress' },
          'still alive just before the timeout',
        );

        tc.clock.advance(2);
        const takeover = await svc.run(o.id, { data: fileA }, {});
        t.same(takeover.counts, { created: 4, updated: 0, unchanged: 2, disabled: 0, rejected: 0 });
        t.equal(takeover.resumedFrom, started.jobId);
        t.match(await svc.getJob(o.id, started.jobId), { status: 'failed', error: { code: 'import_abandoned' } });

        release.resolve();
        t.equal(await outcome, 'import_superseded', 'the frozen import wakes up and is stopped before writing');
        t.equal(await o.store.users.count(), 6);
      },
    );

    t.test('a live import keeps beating while a slow step runs: it is never taken for dead', async (t) => {
      const o = await org();
      const reached = deferred();
      const release = deferred();
      const svc = service({
        batchSize: 2,
        staleJobAfterMs: 1_000,
        heartbeatMs: 50,
        afterBatch: async ({ batch }) => {
          if (batch === 1) {
            reached.resolve();
            await release.promise;
          }
        },
      });
      const started = await svc.start(
        o.id,
        { data: csv('a@example.com,,,,,,', 'b@example.com,,,,,,', 'c@example.com,,,,,,') },
        {},
      );
      await reached.promise;
      tc.clock.advance(60_000); // far past the stale limit of the heartbeat written by the batch
      await new Promise((r) => setTimeout(r, 400)); // the timer beats meanwhile, at the clock's new time
      await t.rejects(service({ staleJobAfterMs: 1_000 }).run(o.id, { data: csv('x@example.com,,,,,,') }), {
        code: 'import_in_progress',
        message: /counts as abandoned 1 s after its last sign of life/,
      });
      release.resolve();
      t.equal((await started.done).counts.created, 3);
    });

    t.test(
      'a dead import is recognised within the stale limit, audited at once as abandoned, and resumed with a notice',
      async (t) => {
        const o = await org();
        const hung = deferred();
        const file = csv(...Array.from({ length: 6 }, (_, i) => `d${i}@example.com,,D,,,,`));
        // A process that died after its first batch: no more heartbeats, nothing more written.
        const dying = service({
          batchSize: 2,
          heartbeatMs: 3_600_000,
          afterBatch: async ({ batch }) => {
            if (batch === 1) await hung.promise;
          },
        });
        const dead = await dying.start(o.id, { data: file }, { actor: 'cli' });
        const deadOutcome = dead.done.then(
          () => 'finished',
          (err) => err.code,
        );
        for (let i = 0; i < 100 && (await o.store.users.count()) < 2; i++) await new Promise((r) => setTimeout(r, 20));

        const svc = service({ batchSize: 2, staleJobAfterMs: 20_000, heartbeatMs: 5_000 });
        tc.clock.advance(19_000);
        await t.rejects(svc.run(o.id, { data: file }), { code: 'import_in_progress' }, 'alive until the stale limit');
        tc.clock.advance(2_000);
        const notices: string[] = [];
        let auditedWhileRunning: unknown[] = [];
        const resuming = service({
          batchSize: 2,
          staleJobAfterMs: 20_000,
          afterBatch: async ({ batch }) => {
            if (batch === 1) auditedWhileRunning = await o.store.audit.list({ type: 'users.import.abandoned' });
          },
        });
        const started = await resuming.start(
          o.id,
          { data: file },
          { actor: 'admin@example.com', onNotice: (m) => notices.push(m) },
        );
        t.match(started.abandoned, [{ id: dead.jobId, status: 'failed', rowsDone: 2, rowsTotal: 6 }]);
        const report = await started.done;
        t.same(report.counts, { created: 4, updated: 0, unchanged: 2, disabled: 0, rejected: 0 });
        t.equal(report.resumedFrom, dead.jobId);
        t.match(notices, [
          new RegExp(`^import job ${dead.jobId} was abandoned at 2 of 6 rows: no sign of life since `),
          new RegExp(`^resuming import job ${dead.jobId} abandoned at 2 of 6 rows`),
        ]);
        t.match(
          auditedWhileRunning,
          [
            {
              type: 'users.import.abandoned',
              outcome: 'failure',
              actor: 'admin@example.com',
              details: { jobId: dead.jobId, rowsDone: 2, rowsTotal: 6, takenOverBy: started.jobId },
            },
          ],
          'audited when recognised, before the new run ends',
        );
        t.match(await svc.getJob(o.id, dead.jobId), { status: 'failed', error: { code: 'import_abandoned' } });
        t.equal(await o.store.users.count(), 6, 'no duplicates');
        hung.resolve();
        t.equal(await deadOutcome, 'import_superseded', 'the dead run can never write again');
      },
    );

    t.test(
      'two imports into one organisation at once: the second is refused clearly; another organisation is not blocked',
      async (t) => {
        const o = await org();
        const o2 = await org();
        const reached = deferred();
        const release = deferred();
        const svc = service({
          batchSize: 1,
          afterBatch: async ({ batch }) => {
            if (batch === 1) {
              reached.resolve();
              await release.promise;
            }
          },
        });
        const first = await svc.start(o.id, { data: csv('a@example.com,,,,,,', 'b@example.com,,,,,,') }, {});
        await reached.promise;
        await t.rejects(service().run(o.id, { data: csv('c@example.com,,,,,,') }), {
          code: 'import_in_progress',
          details: { jobId: first.jobId },
        });
        const dry = await service().run(o.id, { data: csv('c@example.com,,,,,,') }, { dryRun: true });
        t.equal(dry.counts.created, 1, 'a dry run writes nothing, so it is not blocked');
        const elsewhere = await service().run(o2.id, { data: csv('a@example.com,,,,,,') });
        t.equal(elsewhere.counts.created, 1, 'another organisation imports meanwhile');
        release.resolve();
        t.equal((await first.done).counts.created, 2);
        t.equal(
          (await service().run(o.id, { data: csv('c@example.com,,,,,,') })).counts.created,
          1,
          'once it finished, the next import runs',
        );
      },
    );

    t.test('the import lock holds across processes: two processes racing never run two imports at once', async (t) => {
      const o = await org();
      const worker = fileURLToPath(new URL('./fixtures/import-lock-worker.ts', import.meta.url));
      const runWorker = async () => {
        const child = spawn(process.execPath, ['--import', 'tsx', worker, tc.config.databaseUrl, o.id, '20'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        const [code] = await once(child, 'exit');
        t.equal(code, 0, 'worker exited cleanly');
        return JSON.parse(out) as { won: number; blocked: number; overlaps: number };
      };
      const results = await Promise.all([runWorker(), runWorker()]);
      t.same(
        results.map((r) => r.overlaps),
        [0, 0],
        'never two running jobs',
      );
      t.same(
        results.map((r) => r.won + r.blocked),
        [20, 20],
      );
      // Whether the two processes happened to collide depends on scheduling (the in-process test above forces a
      // collision deterministically); the property asserted here is that they never overlap.
      t.comment(`collisions: ${JSON.stringify(results)}`);
    });

    t.test('formula cells are stored as text and escaped on export', async (t) => {
      const o = await org();
      await run(
        o,
        csv(
          'ann@example.com,@ann,=HYPERLINK("http://evil.example"),-Lee,+1 555 0100,-admins|staff,active',
          "bob@example.com,'=x,'+plain,O'Brien,,,",
        ),
      );
      const ann = (await o.store.users.findByEmail('ann@example.com'))!;
      t.same(
        [ann.username, ann.firstName, ann.lastName, ann.phone, ann.groups],
        ['@ann', '=HYPERLINK("http://evil.example")', '-Lee', '+1 555 0100', ['-admins', 'staff']],
      );
      const bob = (await o.store.users.findByEmail('bob@example.com'))!;
      t.same(
        [bob.username, bob.firstName, bob.lastName],
        ['=x', '+plain', "O'Brien"],
        'the apostrophe of an escaped cell is removed on import',
      );
      const text = await exportText(o);
      t.match(
        text,
        `ann@example.com,'@ann,"'=HYPERLINK(""http://evil.example"")",'-Lee,'+1 555 0100,'-admins|staff,active,,`,
      );
      t.match(text, `bob@example.com,'=x,'+plain,O'Brien,,,active,,`);
      t.notMatch(text, /,[=+\-@]/, 'no cell starts with a formula character');
    });

    t.test('export -> import changes nothing, in either mode; the export is stable', async (t) => {
      const o = await org();
      const okta = await o.store.identityProviders.create({
        name: 'Okta',
        entityId: 'http://www.okta.com/exk1',
        ssoUrl: 'https://okta.example/sso',
        certificates: [],
      });
      await run(
        o,
        [
          'email;username;firstName;lastName;phone;groups;status;idp;nameId',
          'ann@example.com;ann;Ann;"Lee, ""the"" Great";+44 20 7946 0958;staff|jira;active;http://www.okta.com/exk1;00u-ann',
          'bob@example.com;;"Multi',
          'line";Ünal-Øre;;;disabled;;',
          "carl@example.com;'@carl;=SUM(1);'+x;-1;@g|h;active;;",
        ].join('\r\n'),
      );
      const dora = await o.store.users.create({
        email: 'Dora@Example.com',
        firstName: "'=kept",
        groups: ['a'],
        source: 'jit',
      });
      await o.store.users.link(dora.id, okta.id, 'dora-1');
      await o.store.users.link(dora.id, okta.id, 'dora-2');
      const before = await users(o);
      const exported = await exportText(o);
      t.ok(exported.startsWith('\uFEFFemail,username,firstName,lastName,phone,groups,status,idp,nameId\r\n'));
      for (const mode of ['upsert', 'create'] as const) {
        const report = await run(o, exported, { mode });
        t.same(
          report.counts,
          { created: 0, updated: 0, unchanged: 4, disabled: 0, rejected: 0 },
          `${mode}: all unchanged`,
        );
      }
      t.same(await users(o), before);
      t.equal(await exportText(o), exported, 'exporting again gives the same file');
      const fresh = await org();
      await fresh.store.identityProviders.create({
        name: 'Okta',
        entityId: 'http://www.okta.com/exk1',
        ssoUrl: 'https://okta.example/sso',
        certificates: [],
      });
      t.same((await run(fresh, exported)).counts.created, 4, 'the export builds the same directory elsewhere');
      t.same(
        (await users(fresh)).map(({ source: _s, ...u }) => u),
        before.map(({ source: _s, ...u }) => u),
      );
    });

    t.test('limits: a file too large or with too many rows is refused before anything is written', async (t) => {
      const o = await org();
      const file = csv('a@example.com,,,,,,', 'b@example.com,,,,,,', 'c@example.com,,,,,,');
      await t.rejects(service({ maxFileBytes: 100 }).run(o.id, { data: file }), {
        status: 413,
        code: 'import_too_large',
        message: /limit is 0\.0 MB/,
      });
      t.same(await service().listJobs(o.id), [], 'refused before a job exists');
      await t.rejects(service({ maxRows: 2 }).run(o.id, { data: file }), {
        status: 413,
        code: 'import_too_many_rows',
        message: /more than 2 rows/,
      });
      t.same(await emails(o), []);
      t.match((await service().listJobs(o.id))[0], { status: 'failed', error: { code: 'import_too_many_rows' } });
      t.equal(
        (await service({ maxRows: 3 }).run(o.id, { data: file })).counts.created,
        3,
        'exactly at the limit is fine',
      );
    });

    t.test('a file that cannot be read fails the job with a clear error and writes nothing', async (t) => {
      const o = await org();
      await t.rejects(run(o, 'email,firstName\nann@example.com,"broken\n'), { code: 'import_bad_file' });
      await t.rejects(run(o, 'mail,firstName\nann@example.com,Ann\n'), {
        code: 'import_bad_header',
        message: /no "email" column/,
      });
      t.same(await emails(o), []);
      const jobs = await service().listJobs(o.id);
      t.same(jobs.map((j) => [j.status, j.error?.code]).sort(), [
        ['failed', 'import_bad_file'],
        ['failed', 'import_bad_header'],
      ]);
    });

    t.test('JSON import: the same rules, line numbers of each object', async (t) => {
      const o = await org();
      const text = JSON.stringify(
        [
          { email: 'ann@example.com', firstName: 'Ann', groups: ['staff', 'jira'], phone: 5550100, status: 'active' },
          { email: 'bob@example.com', lastName: '=not a formula in JSON', dept: 'Sales' },
          { email: 'ANN@example.com' },
          { email: 'carl@example.com', username: null },
        ],
        null,
        2,
      );
      const report = await run(o, text);
      t.equal(report.format, 'json');
      t.same(report.counts, { created: 2, updated: 0, unchanged: 0, disabled: 0, rejected: 2 });
      t.match(report.rejections, [
        { line: 12, column: 'dept', reason: /unknown column "dept"/ },
        { line: 17, column: 'email', reason: /duplicate inside the file: line 2/ },
      ]);
      const ann = (await o.store.users.findByEmail('ann@example.com'))!;
      t.same([ann.groups, ann.phone], [['staff', 'jira'], '5550100']);
      const asFile = await service().run(
        o.id,
        { data: Buffer.from(text), name: 'x.txt' },
        { format: 'json', mode: 'upsert' },
      );
      t.equal(asFile.counts.unchanged, 2);
    });

    t.test(
      "tenant isolation: an import into one organisation never touches another's users with the same emails",
      async (t) => {
        const a = await org();
        const b = await org();
        const bUser = await b.store.users.create({ email: 'same@example.com', firstName: 'Bea' });
        await b.store.users.create({ email: 'only-b@example.com' });
        const report = await run(a, csv('same@example.com,,Ann,,,,'), { mode: 'upsert', disableMissing: true });
        t.same(
          report.counts,
          { created: 1, updated: 0, unchanged: 0, disabled: 0, rejected: 0 },
          'B\'s user is not "existing" for A',
        );
        const again = await run(a, csv('same@example.com,,Anna,,,,'), { mode: 'upsert', disableMissing: true });
        t.same(again.counts, { created: 0, updated: 1, unchanged: 0, disabled: 0, rejected: 0 });
        const bAfter = (await b.store.users.findByEmail('same@example.com'))!;
        t.same(
          [bAfter.id, bAfter.firstName, bAfter.status, bAfter.updatedAt.getTime()],
          [bUser.id, 'Bea', 'active', bUser.updatedAt.getTime()],
        );
        t.equal(
          (await b.store.users.findByEmail('only-b@example.com'))!.status,
          'active',
          'disable-missing in A leaves B alone',
        );
        t.notMatch(await exportText(b), 'Anna');
        t.equal(await service().getJob(b.id, report.jobId), null, "A's job is not visible through B");
      },
    );

    t.test('progress: the callback sees every phase; the finished job holds the report', async (t) => {
      const o = await org();
      const seen: ImportProgress[] = [];
      const report = await run(
        o,
        csv(...Array.from({ length: 5 }, (_, i) => `p${i}@example.com,,,,,,`), 'bad,,,,,,'),
        { mode: 'upsert', disableMissing: true, onProgress: (p) => seen.push(p) },
        service({ batchSize: 2 }),
      );
      const phases = [...new Set(seen.map((p) => p.phase))];
      t.same(phases, ['validating', 'writing', 'disabling', 'done']);
      t.match(seen.at(-1), { jobId: report.jobId, phase: 'done', rowsDone: 6, rowsTotal: 6, errors: 1 });
      t.ok(
        seen.filter((p) => p.phase === 'writing').every((p, i, a) => i === 0 || p.rowsDone >= a[i - 1].rowsDone),
        'rows done only grows',
      );
      const job = await service().getJob(o.id, report.jobId);
      t.match(job, {
        status: 'done',
        phase: 'done',
        rowsDone: 6,
        rowsTotal: 6,
        errors: 1,
        mode: 'upsert,disable-missing',
        report: { counts: report.counts, rejections: report.rejections },
      });
      const audit = await o.store.audit.list({ type: 'users.import' });
      t.match(audit[0], { outcome: 'success', details: { jobId: report.jobId, counts: report.counts } });
    });
  });
}
