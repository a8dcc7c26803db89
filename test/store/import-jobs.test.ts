// The import-job repository as the organisation's import lock, on both databases.
import t from 'tap';
import { createTestContext, testProviders } from '../helpers/context.ts';

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const orgA = await tc.ctx.store.db.organization.create({ data: { slug: 'joba', name: 'A' } });
    const orgB = await tc.ctx.store.db.organization.create({ data: { slug: 'jobb', name: 'B' } });
    const a = tc.ctx.store.forOrg(orgA.id).importJobs;
    const b = tc.ctx.store.forOrg(orgB.id).importJobs;
    const state = { phase: 'starting' };
    const STALE = 60_000;
    const t0 = tc.clock.now();
    const at = (ms: number) => new Date(t0.getTime() + ms);

    const first = await a.begin({ mode: 'upsert', state }, at(0), STALE);
    if (!('job' in first)) throw new Error('expected a job');
    t.match(first.job, { status: 'running', mode: 'upsert', dryRun: false, heartbeatAt: at(0) });

    t.match(
      await a.begin({ mode: 'create', state }, at(1), STALE),
      { blockedBy: { id: first.job.id } },
      'a live job blocks the next',
    );
    const otherOrg = await b.begin({ mode: 'create', state }, at(1), STALE);
    t.ok('job' in otherOrg, 'another organisation is not blocked');
    const dry = await a.begin({ mode: 'create,dry-run', state }, at(1), STALE);
    t.ok('job' in dry && dry.job.dryRun, 'a dry run neither blocks nor is blocked');

    t.ok(
      await a.claim(first.job.id, { state: { phase: 'writing', heartbeatAt: at(50_000).toISOString() }, doneRows: 10 }),
      'heartbeat',
    );
    t.match(
      await a.begin({ mode: 'create', state }, at(100_000), STALE),
      { blockedBy: { id: first.job.id } },
      'the heartbeat keeps it alive',
    );

    const takeover = await a.begin({ mode: 'create', state }, at(50_000 + STALE + 1), STALE);
    if (!('job' in takeover)) throw new Error('expected the stale job to be taken over');
    t.same(
      takeover.abandoned.map((j) => j.id).sort(),
      [first.job.id, 'job' in dry ? dry.job.id : ''].sort(),
      'the silent job and the silent dry run are given up',
    );
    t.match(await a.findById(first.job.id), {
      status: 'failed',
      report: { phase: 'abandoned', error: { code: 'import_abandoned' } },
    });
    t.notOk(
      await a.claim(first.job.id, { state: { phase: 'writing', heartbeatAt: at(0).toISOString() } }),
      'the abandoned job can no longer claim',
    );
    t.notOk(await a.finish(first.job.id, 'done', { report: {} }, at(0)), 'nor finish');

    t.ok(await a.finish(takeover.job.id, 'done', { report: { ok: true }, doneRows: 3 }, at(1)));
    t.match(await a.findById(takeover.job.id), { status: 'done', doneRows: 3, report: { ok: true } });
    t.equal(await b.findById(takeover.job.id), null, 'jobs are scoped to their organisation');
    t.equal((await a.findUnfinished('', takeover.job.id))?.id, first.job.id, 'the unfinished run of the same file');
  });
}
