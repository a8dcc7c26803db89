// Login flows in Redis (REDIS_URL) keep the database's contract: a flow is found only at its stage, in its
// organisation and before it expires; it moves only by compare-and-set, also between two nodes (two connections);
// and Redis forgets each flow after its expiry instead of the purge. One-time-use records stay in the database even
// with REDIS_URL (they must outlive a Redis restart: test/store/replay-after-redis-restart.test.ts). A Redis that
// stops answering makes the call fail at once, never hang.
import t from 'tap';
import { Redis } from 'ioredis';
import { createTestContext, createOrg, TEST_MASTER_KEY } from '../helpers/context.ts';
import { bootstrap } from '../../src/bootstrap.ts';
import { configFrom } from '../../src/config/config.ts';
import { freshRedisPrefix } from '../helpers/redis.ts';
import { RedisRecords } from '../../src/store/redis/redis-records.ts';
import { RedisLoginFlowRepository } from '../../src/store/redis/redis-login-flows.ts';
import { OneTimeUseRepository } from '../../src/store/one-time-use.ts';

t.test('short-lived records in Redis', async (t) => {
  const redis = freshRedisPrefix();
  t.teardown(redis.clear);
  const tc = await createTestContext({ provider: 'sqlite', env: redis.env });
  t.teardown(tc.cleanup);
  const a = await createOrg(tc.ctx, 'orga');
  const b = await createOrg(tc.ctx, 'orgb');
  const now = tc.clock.now();
  const in10m = new Date(now.getTime() + 600_000);

  t.ok(a.store.flows instanceof RedisLoginFlowRepository, 'REDIS_URL puts the flows in Redis');
  t.ok(a.store.oneTimeUse instanceof OneTimeUseRepository, 'but the one-time-use records stay in the database');

  await t.test('a flow is found only at its stage, in its organisation, before expiry', async (t) => {
    const created = await a.store.flows.create({
      id: 'flow-1',
      stage: 'received',
      appId: 'app-1',
      data: { x: 1, nested: { list: ['a'] } },
      expiresAt: in10m,
    });
    const found = await a.store.flows.findAtStage<{ x: number }>('flow-1', ['received', 'failed'], now);
    t.same(found, created, 'read back as created (dates, nulls and data)');
    t.ok(found!.expiresAt instanceof Date);
    t.equal(await a.store.flows.findAtStage('flow-1', ['upstream_sent'], now), null, 'wrong stage');
    t.equal(await b.store.flows.findAtStage('flow-1', ['received'], now), null, 'other organisation');
    t.equal(
      await a.store.flows.findAtStage('flow-1', ['received'], new Date(in10m.getTime() + 1)),
      null,
      "expired by the caller's clock",
    );
    t.equal(await a.store.flows.findAtStage('x'.repeat(100), ['received'], now), null, 'absurd ids are not looked up');
    t.equal(await a.store.flows.findAtStage('missing', ['received'], now), null);
    await t.rejects(
      a.store.flows.create({ id: 'flow-1', stage: 'received', data: {}, expiresAt: in10m }),
      /already exists/,
      'an id is never reused',
    );
    const [key] = (await redis.keys()).filter((k) => k.includes(':flow:') && k.endsWith(':flow-1'));
    t.ok(key.startsWith(redis.prefix), 'keys carry the configured prefix');
  });

  await t.test(
    'advance is a compare-and-set: the second of two racing moves loses, also from another node',
    async (t) => {
      const flow = (await a.store.flows.findAtStage<{ x: number }>('flow-1', ['received'], now))!;
      // A second node: its own connection to the same Redis.
      const other = await RedisRecords.open(redis.url, redis.prefix);
      t.teardown(() => other.close());
      const otherNode = new RedisLoginFlowRepository(other, a.org.id);
      const results = await Promise.all([
        a.store.flows.advance(flow, 'upstream_sent', { data: { x: 2 }, idpId: 'idp-1' }),
        otherNode.advance(flow, 'failed', {}),
      ]);
      t.equal(results.filter((r) => r === null).length, 1, 'one of the two moves loses');
      const moved = results.find((r) => r !== null)!;
      t.equal(moved.version, 1);
      const stored = await a.store.flows.findAtStage<{ x: number }>('flow-1', [moved.stage], now);
      t.same(stored, moved, 'the returned flow is what Redis holds');
      t.equal(await a.store.flows.advance(flow, 'completed', {}), null, 'a stale copy cannot move it again');
      t.equal(await b.store.flows.advance(moved, 'completed', {}), null, 'another organisation cannot move it');
      t.ok(await a.store.flows.findAtStage('flow-1', [moved.stage], now), 'and it stays where it was');
      const again = await a.store.flows.advance(moved, 'completed', { sessionId: 's-1' });
      t.equal(again!.version, 2);
      t.same(await a.store.flows.findAtStage('flow-1', ['completed'], now), again);
    },
  );

  await t.test(
    'one-time-use with REDIS_URL: in the database, once per organisation until expiry, then taken over',
    async (t) => {
      const later = new Date(now.getTime() + 60_000);
      t.equal(await a.store.oneTimeUse.consume('assertion', 'idp:_a1', later, now), true);
      t.equal(await a.store.oneTimeUse.consume('assertion', 'idp:_a1', later, now), false, 'the same value again');
      t.equal(
        await b.store.oneTimeUse.consume('assertion', 'idp:_a1', later, now),
        true,
        'another organisation has its own records',
      );
      t.equal(
        await a.store.oneTimeUse.consume('totp_step', 'idp:_a1', later, now),
        true,
        'another kind is another record',
      );
      t.equal(
        await a.store.oneTimeUse.consume('assertion', 'idp:_a1', later, new Date(later.getTime() - 1)),
        false,
        'live until its expiry',
      );
      t.equal(
        await a.store.oneTimeUse.consume('assertion', 'idp:_a1', new Date(later.getTime() + 60_000), later),
        true,
        'an expired record is taken over',
      );
      const results = await Promise.all(
        Array.from({ length: 20 }, () => a.store.oneTimeUse.consume('assertion', 'race', later, now)),
      );
      t.equal(results.filter(Boolean).length, 1, 'twenty concurrent attempts: one wins');
      const rows = await tc.ctx.store.db.oneTimeUse.findMany({
        where: { orgId: a.org.id, value: { in: ['idp:_a1', 'race'] } },
        orderBy: [{ kind: 'asc' }, { value: 'asc' }],
      });
      t.same(
        rows.map((r) => `${r.kind}:${r.value}`),
        ['assertion:idp:_a1', 'assertion:race', 'totp_step:idp:_a1'],
        'the records are rows of the database',
      );
      t.same(
        (await redis.keys()).filter((k) => !k.includes(':flow:')),
        [],
        'and none is in Redis',
      );
    },
  );

  await t.test('Redis forgets flows after their expiry (no purge needed)', async (t) => {
    const client = new Redis(redis.url);
    t.teardown(() => client.disconnect());
    const realNow = new Date();
    await a.store.flows.create({
      id: 'flow-ttl',
      stage: 'received',
      data: {},
      expiresAt: new Date(realNow.getTime() + 120_000),
    });
    const keys = (await redis.keys()).filter((k) => k.endsWith(':flow-ttl'));
    t.equal(keys.length, 1);
    for (const key of keys) {
      const ttl = await client.pttl(key);
      // 120 s to expiry plus the 60 s margin for clocks that differ between nodes.
      t.ok(ttl > 170_000 && ttl <= 180_000, `${key} expires with its record (${ttl} ms)`);
    }
    const moved = await a.store.flows.advance(
      (await a.store.flows.findAtStage('flow-ttl', ['received'], realNow))!,
      'failed',
      {},
    );
    t.ok(moved);
    t.ok((await client.pttl(keys.find((k) => k.endsWith(':flow-ttl'))!)) > 170_000, 'a move keeps the expiry');
  });

  await t.test('a Redis that does not answer fails the call at once', async (t) => {
    const gone = await RedisRecords.open(redis.url, redis.prefix);
    const flows = new RedisLoginFlowRepository(gone, a.org.id);
    gone.client.disconnect();
    const started = Date.now();
    await t.rejects(flows.findAtStage('flow-1', ['received'], now));
    t.ok(Date.now() - started < 2000, 'no waiting for a reconnection');
    await t.rejects(RedisRecords.open('redis://127.0.0.1:1/0', 'x:'), 'a server that is not there stops the start');
  });

  await t.test('a start that fails after connecting to Redis closes that connection', async (t) => {
    const own = freshRedisPrefix();
    const client = new Redis(redis.url);
    t.teardown(() => client.disconnect());
    const ours = async () =>
      String(await client.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(` name=${own.prefix} `)).length;
    await t.rejects(
      bootstrap(
        configFrom({
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none',
          ...own.env,
        }),
        { masterKey: TEST_MASTER_KEY },
      ),
    );
    t.equal(await ours(), 0, 'no connection left open (it would keep the process alive)');
    const ok = await RedisRecords.open(own.url, own.prefix);
    t.equal(await ours(), 1, 'a connection is named by its key prefix');
    await ok.close();
  });
});
