// Login flows move forward only by compare-and-set; expired records are purged; on both databases.
import t from 'tap';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const a = await createOrg(tc.ctx, 'orga');
    const b = await createOrg(tc.ctx, 'orgb');
    const now = tc.clock.now();
    const in10m = new Date(now.getTime() + 600_000);

    t.test('a flow is found only at its stage, in its organisation, before expiry', async (t) => {
      await a.store.flows.create({ id: 'flow-1', stage: 'received', data: { x: 1 }, expiresAt: in10m });
      t.ok(await a.store.flows.findAtStage('flow-1', ['received'], now));
      t.equal(await a.store.flows.findAtStage('flow-1', ['upstream_sent'], now), null, 'wrong stage');
      t.equal(await b.store.flows.findAtStage('flow-1', ['received'], now), null, 'other organisation');
      t.equal(await a.store.flows.findAtStage('flow-1', ['received'], new Date(in10m.getTime() + 1)), null, 'expired');
      t.equal(
        await a.store.flows.findAtStage('x'.repeat(100), ['received'], now),
        null,
        'absurd ids are not looked up',
      );
    });

    t.test('advance is a compare-and-set: the second of two racing moves loses', async (t) => {
      const flow = (await a.store.flows.findAtStage<{ x: number }>('flow-1', ['received'], now))!;
      const results = await Promise.all([
        a.store.flows.advance(flow, 'upstream_sent', { data: { x: 2 } }),
        a.store.flows.advance(flow, 'failed', {}),
      ]);
      t.equal(results.filter((r) => r === null).length, 1, 'one of the two moves loses');
      const moved = results.find((r) => r !== null)!;
      // The moved flow returned without a read is the row as stored.
      const stored = await a.store.flows.findAtStage<{ x: number }>('flow-1', [moved.stage], now);
      t.same(
        { ...moved, updatedAt: null },
        { ...stored, updatedAt: null },
        'the returned flow is what the database holds',
      );
      t.equal(await a.store.flows.advance(flow, 'completed', {}), null, 'a stale copy cannot move it again');
      const other = await b.store.flows.advance(moved, 'completed', {});
      t.equal(other, null, 'another organisation cannot move it');
      t.ok(await a.store.flows.findAtStage('flow-1', [moved.stage], now), 'and it stays where it was');
    });

    t.test('sessions: active until expiry or end, scoped to the organisation', async (t) => {
      const user = await a.store.users.create({ email: 'u@x.example' });
      await a.store.sessions.create({
        id: 'sess-1',
        userId: user.id,
        idpId: 'idp',
        nameId: 'u@x.example',
        expiresAt: in10m,
      });
      t.ok(await a.store.sessions.findActive('sess-1', now));
      t.equal(await b.store.sessions.findActive('sess-1', now), null);
      const app = async (store: typeof a.store, name: string) =>
        (await store.applications.create({ name, entityId: `https://${name}.example/`, acsUrls: ['https://x/acs'] }))
          .id;
      const [appA, appB] = [await app(a.store, 'app-1'), await app(b.store, 'app-2')];
      await a.store.sessions.addApp('sess-1', appA, 'u@x.example', '_si1');
      await b.store.sessions.addApp('sess-1', appB, 'u@x.example', '_si2');
      t.same(
        (await a.store.sessions.listApps('sess-1')).map((s) => s.appId),
        [appA],
        'another organisation cannot attach apps',
      );
      t.same(await b.store.sessions.listApps('sess-1'), []);
      await a.store.sessions.end('sess-1', now);
      t.equal(await a.store.sessions.findActive('sess-1', now), null, 'ended');
    });

    t.test('purge removes only expired records', async (t) => {
      await a.store.flows.create({
        id: 'flow-old',
        stage: 'received',
        data: {},
        expiresAt: new Date(now.getTime() - 1000),
      });
      await a.store.oneTimeUse.consume(
        'assertion',
        'old',
        new Date(now.getTime() - 1000),
        new Date(now.getTime() - 2000),
      );
      await a.store.oneTimeUse.consume('assertion', 'live', in10m, now);
      const removed = await tc.ctx.store.system.purgeExpired(now);
      // With REDIS_URL (TEST_WITH_REDIS=1) the flows are in Redis, which expires them itself; the one-time records
      // are in the database either way, and the purge removes them.
      t.equal(removed.flows, tc.config.redisUrl ? 0 : 1);
      t.equal(removed.oneTimeUse, 1, 'the expired one-time record, with or without Redis');
      t.ok(await a.store.flows.findAtStage('flow-1', ['upstream_sent', 'failed'], now), 'live flow kept');
      t.equal(await a.store.oneTimeUse.consume('assertion', 'live', in10m, now), false, 'live one-time record kept');
    });
  });
}
