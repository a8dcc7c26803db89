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

    /** Opens a transaction that consumes `inside` and then runs `hold` before it ends. Resolves once the transaction
     *  is open, with the transaction's own promise. */
    async function openTransaction(inside: string, hold: () => Promise<unknown>) {
      let opened!: () => void;
      const started = new Promise<void>((resolve) => (opened = resolve));
      const transaction = tc.ctx.store.transaction(async (tx) => {
        await tx.forOrg(a.org.id).oneTimeUse.consume('test', inside, in10m, now);
        opened();
        await hold();
      });
      await started;
      return { transaction };
    }

    t.test('a rolled-back transaction keeps nothing of what ran beside it', async (t) => {
      // Held open across real time, as an import batch waiting for the next part of its file is, then failing.
      const { transaction } = await openTransaction('inside', async () => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        throw new Error('the batch failed');
      });
      // A login consumes an assertion ID (hand-written SQL) and records an audit event (through Prisma) meanwhile.
      const consumed = a.store.oneTimeUse.consume('assertion', 'id-during-rollback', in10m, now);
      const created = db.oneTimeUse.create({
        data: { orgId: a.org.id, kind: 'prisma', value: 'during-rollback', expiresAt: in10m },
      });
      await t.rejects(transaction, /the batch failed/);
      t.equal(await consumed, true, 'the assertion ID was consumed');
      await created;
      const kept = await db.oneTimeUse.findMany({ where: { orgId: a.org.id }, orderBy: { kind: 'asc' } });
      t.same(
        kept.map((r) => `${r.kind}:${r.value}`),
        ['assertion:id-during-rollback', 'prisma:during-rollback'],
        "both survived the rollback; the transaction's own write did not",
      );
      t.equal(
        await a.store.oneTimeUse.consume('assertion', 'id-during-rollback', in10m, now),
        false,
        'a replay of the assertion ID is refused',
      );
    });

    t.test('beside a committed transaction, both sides are kept', async (t) => {
      const { transaction } = await openTransaction(
        'committed',
        () => new Promise((resolve) => setTimeout(resolve, 50)),
      );
      t.equal(await a.store.oneTimeUse.consume('assertion', 'id-during-commit', in10m, now), true);
      await transaction;
      t.equal(
        await db.oneTimeUse.count({ where: { orgId: a.org.id, value: { in: ['committed', 'id-during-commit'] } } }),
        2,
      );
    });
  });
}
