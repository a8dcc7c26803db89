// Statements that other requests run while a transaction is open are not part of it: a rollback (a failed import
// batch, say) never takes a login's writes with it. On SQLite, where one connection serves the process, they wait
// for the transaction's end; on PostgreSQL they run on another connection.
import t from 'tap';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const a = await createOrg(tc.ctx, 'orga');
    const now = tc.clock.now();
    const in10m = new Date(now.getTime() + 600_000);
    const db = tc.ctx.store.db;

    t.test('a rolled-back transaction keeps nothing of what ran beside it', async (t) => {
      let outsideStarted!: () => void;
      const started = new Promise<void>((resolve) => (outsideStarted = resolve));
      const transaction = tc.ctx.store.transaction(async (tx) => {
        await tx.forOrg(a.org.id).oneTimeUse.consume('test', 'inside', in10m, now);
        outsideStarted();
        // Held open across real time, as an import batch waiting for the next part of its file is.
        await new Promise((resolve) => setTimeout(resolve, 150));
        throw new Error('the batch failed');
      });
      await started;
      // A login consumes an assertion ID (hand-written SQL) and records an audit event (through Prisma) meanwhile.
      const consumed = a.store.oneTimeUse.consume('assertion', 'id-during-rollback', in10m, now);
      const created = db.oneTimeUse.create({ data: { orgId: a.org.id, kind: 'prisma', value: 'during-rollback', expiresAt: in10m } });
      await t.rejects(transaction, /the batch failed/);
      t.equal(await consumed, true, 'the assertion ID was consumed');
      await created;
      const kept = await db.oneTimeUse.findMany({ where: { orgId: a.org.id }, orderBy: { kind: 'asc' } });
      t.same(kept.map((r) => `${r.kind}:${r.value}`), ['assertion:id-during-rollback', 'prisma:during-rollback'], 'both survived the rollback; the transaction\'s own write did not');
      t.equal(await a.store.oneTimeUse.consume('assertion', 'id-during-rollback', in10m, now), false, 'a replay of the assertion ID is refused');
    });

    t.test('beside a committed transaction, both sides are kept', async (t) => {
      let outsideStarted!: () => void;
      const started = new Promise<void>((resolve) => (outsideStarted = resolve));
      const transaction = tc.ctx.store.transaction(async (tx) => {
        await tx.forOrg(a.org.id).oneTimeUse.consume('test', 'committed', in10m, now);
        outsideStarted();
        await new Promise((resolve) => setTimeout(resolve, 50));
      });
      await started;
      t.equal(await a.store.oneTimeUse.consume('assertion', 'id-during-commit', in10m, now), true);
      await transaction;
      t.equal(await db.oneTimeUse.count({ where: { orgId: a.org.id, value: { in: ['committed', 'id-during-commit'] } } }), 2);
    });
  });
}
