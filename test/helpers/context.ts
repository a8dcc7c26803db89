// Test wiring: a fresh, migrated database per call (SQLite temp file, or a throw-away PostgreSQL database),
// a manual clock and a fixed master key. Real databases, never mocks.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { bootstrap } from '../../src/bootstrap.ts';
import { ManualClock } from '../../src/clock.ts';
import { configFrom, type Config } from '../../src/config/config.ts';
import type { AppContext } from '../../src/context.ts';
import type { DbProvider } from '../../src/store/engine/database.ts';
import { freshRedisPrefix } from './redis.ts';

export const TEST_MASTER_KEY = Buffer.alloc(32, 7);

/** PostgreSQL server used for throw-away test databases. CI sets it; locally it defaults to the machine's server. */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** Databases every store test runs on. PostgreSQL is never silently skipped in CI. */
export function testProviders(): DbProvider[] {
  if (process.env.TEST_SKIP_PG === '1' && process.env.CI !== 'true') return ['sqlite'];
  return ['sqlite', 'postgresql'];
}

export interface TestContext {
  ctx: AppContext;
  clock: ManualClock;
  config: Config;
  provider: DbProvider;
  cleanup(): Promise<void>;
}

export async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `broker_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      // The store's pool has said goodbye, but its backends may take a moment to go: a forced drop before then
      // kills them, and their clients report the FATAL into the test (seen under the full suite's load). Forced
      // only after waiting up to 3 s.
      for (let i = 0; i < 60; i++) {
        const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
        if (rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function createTestContext(
  opts: { provider?: DbProvider; env?: Record<string, string>; clock?: ManualClock } = {},
): Promise<TestContext> {
  const provider = opts.provider ?? (process.env.TEST_DATABASE === 'postgresql' ? 'postgresql' : 'sqlite');
  let databaseUrl: string;
  let dropDb: () => Promise<void>;
  if (provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'broker-test-'));
    databaseUrl = `file:${join(dir, 'test.db')}`;
    dropDb = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const db = await freshPostgres();
    databaseUrl = db.url;
    dropDb = db.drop;
  }
  // TEST_WITH_REDIS=1 runs every test context with its login flows in Redis (a fresh key prefix each).
  const redis = process.env.TEST_WITH_REDIS === '1' ? freshRedisPrefix() : undefined;
  const config = configFrom({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    BASE_DOMAIN: 'broker.test',
    LOG_LEVEL: 'silent',
    DATABASE_POOL_SIZE: '4',
    ...redis?.env,
    ...opts.env,
  });
  const clock = opts.clock ?? new ManualClock();
  const { ctx } = await bootstrap(config, { clock, masterKey: TEST_MASTER_KEY });
  return {
    ctx,
    clock,
    config,
    provider,
    async cleanup() {
      await ctx.store.close();
      await dropDb();
      await redis?.clear();
    },
  };
}

/** Creates an organisation the way the CLI does and returns its id and tenant store. */
export async function createOrg(ctx: AppContext, slug = 'piedpipers', name = 'Pied Pipers') {
  const created = await ctx.organizations.create(
    { slug, name, adminEmail: `admin@${slug}.example`, adminPassword: 'correct horse battery' },
    'test',
  );
  return { ...created, store: ctx.store.forOrg(created.org.id) };
}
