// The one reading of "a dependency is unavailable" (src/store/unavailable.ts), tried on errors really provoked from
// pg, Prisma's pg adapter and ioredis, never written by hand: a server that refuses, one that accepts and answers
// nothing, a statement cancelled by its timeout, a connection the server ends, a closed Redis connection and a
// command that times out. A refusal of the statement itself (a missing table, a unique key) is not an outage.
import t from 'tap';
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { AppError } from '../../src/errors.ts';
import { openDatabase, parseDatabaseUrl } from '../../src/store/engine/database.ts';
import { isMissingTable, pendingMigrations, readMigrations } from '../../src/store/engine/migrations.ts';
import { describeDriverError, unavailableReason } from '../../src/store/unavailable.ts';
import { PG_ADMIN_URL } from '../helpers/context.ts';
import { redisSkipped, TEST_REDIS_URL } from '../helpers/redis.ts';

const caught = async (work: () => Promise<unknown>): Promise<unknown> => {
  try {
    await work();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
};

/** A TCP server that accepts connections and never says a word: a frozen host, as a client sees it. */
async function silentServer(t: { teardown(fn: () => void): void }): Promise<number> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

const pgSkipped = process.env.TEST_SKIP_PG === '1' && process.env.CI !== 'true' ? 'needs PostgreSQL' : false;

t.test('pg', { skip: pgSkipped }, async (t) => {
  const refused = await caught(async () => {
    const c = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:1/x' });
    await c.connect();
  });
  t.equal(unavailableReason(refused), 'unreachable', 'connection refused');

  const port = await silentServer(t);
  const silent = await caught(async () => {
    const c = new pg.Client({
      connectionString: `postgresql://postgres@127.0.0.1:${port}/x`,
      connectionTimeoutMillis: 200,
    });
    await c.connect();
  });
  t.equal(unavailableReason(silent), 'timeout', `a server that answers nothing (${(silent as Error).message})`);
  const pool = new pg.Pool({
    connectionString: `postgresql://postgres@127.0.0.1:${port}/x`,
    connectionTimeoutMillis: 200,
  });
  pool.on('error', () => {});
  t.equal(unavailableReason(await caught(() => pool.query('SELECT 1'))), 'timeout', 'the same through a pool');
  await pool.end();

  const client = new pg.Client({ connectionString: PG_ADMIN_URL, statement_timeout: 100 });
  await client.connect();
  t.teardown(() => client.end().catch(() => {}));
  t.equal(
    unavailableReason(await caught(() => client.query('SELECT pg_sleep(2)'))),
    'timeout',
    'statement_timeout (57014)',
  );
  t.equal(
    unavailableReason(
      await caught(() => client.query({ text: 'SELECT pg_sleep(2)', query_timeout: 100 } as pg.QueryConfig)),
    ),
    'timeout',
    'the client-side query_timeout',
  );
  t.equal(
    unavailableReason(await caught(() => client.query('SELECT * FROM no_such_table_here'))),
    null,
    'a missing table is not an outage',
  );
  t.equal(unavailableReason(await caught(() => client.query('SELEC 1'))), null, 'nor is a syntax error');

  const victim = new pg.Client({ connectionString: PG_ADMIN_URL });
  await victim.connect();
  victim.on('error', () => {});
  const pid = (await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const killed = caught(() => victim.query('SELECT pg_sleep(5)'));
  await new Promise((r) => setTimeout(r, 100));
  await client.query('SELECT pg_terminate_backend($1)', [pid]);
  const terminated = await killed;
  t.equal((terminated as { code?: string }).code, '57P01', 'the server ended the connection (admin shutdown)');
  t.equal(unavailableReason(terminated), 'unreachable');
  t.equal(
    unavailableReason(await caught(() => victim.query('SELECT 1'))),
    'unreachable',
    `the connection is gone afterwards`,
  );
});

t.test('Prisma over the pg adapter', { skip: pgSkipped }, async (t) => {
  const refused = await openDatabase(parseDatabaseUrl('postgresql://postgres@127.0.0.1:1/x'), 1);
  t.teardown(() => refused.close());
  const p1001 = await caught(() => refused.db.$queryRawUnsafe('SELECT 1'));
  t.equal(unavailableReason(p1001), 'unreachable', `connection refused (${(p1001 as { code?: string }).code})`);
  t.match(describeDriverError(p1001), /DatabaseNotReachable|ECONNREFUSED/, 'described in one line');
  t.equal(
    unavailableReason(await caught(() => refused.db.organization.findFirst())),
    'unreachable',
    'a model query too',
  );

  const port = await silentServer(t);
  const silent = await openDatabase(parseDatabaseUrl(`postgresql://postgres@127.0.0.1:${port}/x`), 1, {
    connectTimeoutMs: 200,
  });
  t.teardown(() => silent.close());
  const started = Date.now();
  t.equal(
    unavailableReason(await caught(() => silent.db.organization.findFirst())),
    'timeout',
    'a server that answers nothing',
  );
  t.ok(Date.now() - started < 3000, 'within about the connect timeout');

  const live = await openDatabase(parseDatabaseUrl(PG_ADMIN_URL), 1, { statementTimeoutMs: 200 });
  t.teardown(() => live.close());
  t.equal(
    unavailableReason(await caught(() => live.db.$queryRawUnsafe('SELECT pg_sleep(2)'))),
    'timeout',
    'statement timeout, wrapped by Prisma (P2010 / 57014)',
  );
  const missing = await caught(() => live.db.$queryRawUnsafe('SELECT * FROM no_such_table_here'));
  t.equal(unavailableReason(missing), null, 'a missing table is not an outage');
  t.ok(isMissingTable(missing), '... it is a missing table');
  t.notOk(isMissingTable(p1001), 'and an unreachable database is not one');
});

t.test('ioredis', { skip: redisSkipped }, async (t) => {
  const refused = new Redis('redis://127.0.0.1:1/0', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  refused.on('error', () => {});
  t.equal(unavailableReason(await caught(() => refused.connect())), 'unreachable', 'connection refused');
  t.equal(unavailableReason(await caught(() => refused.get('x'))), 'unreachable', `no connection, no offline queue`);
  refused.disconnect();

  const client = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 100 });
  client.on('error', () => {});
  await client.ping().catch(() => new Promise((r) => client.once('ready', r)));
  const late = await caught(() => client.blpop(`unavailable-test-${Date.now()}`, 1));
  t.equal(unavailableReason(late), 'timeout', `a command that takes too long (${(late as Error).message})`);
  client.disconnect();
  const closed = await caught(() => client.get('x'));
  t.equal(unavailableReason(closed), 'unreachable', `a closed connection (${(closed as Error).message})`);
});

t.test('pendingMigrations: no migrations table means none applied; an unreachable database is an error', async (t) => {
  const all = readMigrations('sqlite').migrationDirectories.map((d) => d.path);
  const empty = await openDatabase(parseDatabaseUrl('file::memory:'), 1);
  t.teardown(() => empty.close());
  t.ok(
    isMissingTable(await caught(() => empty.db.$queryRawUnsafe('SELECT * FROM _prisma_migrations'))),
    'SQLite: a missing table is read as one',
  );
  t.same(await pendingMigrations(empty.db, 'sqlite'), all, 'SQLite: an empty database misses every migration');
  if (pgSkipped) return;
  const refused = await openDatabase(parseDatabaseUrl('postgresql://postgres@127.0.0.1:1/x'), 1);
  t.teardown(() => refused.close());
  const err = await caught(() => pendingMigrations(refused.db, 'postgresql'));
  t.equal(unavailableReason(err), 'unreachable', 'PostgreSQL refused: the error comes through, no list of migrations');
});

t.test('what is not an outage', async (t) => {
  t.equal(unavailableReason(new AppError('service_unavailable', 'ours')), null, 'our own refusals');
  t.equal(unavailableReason(new Error('boom')), null);
  t.equal(unavailableReason(new TypeError("Cannot read properties of undefined (reading 'x')")), null);
  t.equal(unavailableReason(undefined), null);
  t.equal(unavailableReason('ECONNREFUSED'), null, 'a bare string is not read');
});
