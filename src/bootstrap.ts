// Opens the database, applies pending migrations and wires the services: shared by the server, the CLI and tests.
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/config.ts';
import type { AppContext } from './context.ts';
import { loadMasterKey } from './crypto/master-key.ts';
import { SealedBox } from './crypto/sealed-box.ts';
import { OrganizationService } from './orgs/organization-service.ts';
import { SigningCredentials } from './orgs/hosted/signing-credentials.ts';
import { openDatabase, parseDatabaseUrl, type CheckpointMode } from './store/engine/database.ts';
import { migrate } from './store/engine/migrations.ts';
import { ConfigCache } from './store/engine/config-cache.ts';
import { Store } from './store/store.ts';
import type { RedisRecords } from './store/redis/redis-records.ts';
import { Metrics } from './metrics/metrics.ts';
import { Mailer } from './mail/mailer.ts';
import { createLifecycle } from './lifecycle.ts';
import { describeDriverError, unavailableReason } from './store/unavailable.ts';

/** DATABASE_URL without its password, for messages. */
function shownLocation(location: string): string {
  try {
    const url = new URL(location);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return location; // a file path
  }
}

export interface BootstrapResult {
  ctx: AppContext;
  appliedMigrations: string[];
  warnings: string[];
}

export async function bootstrap(
  config: Config,
  opts: {
    clock?: Clock;
    masterKey?: Buffer;
    skipMigrations?: boolean;
    processMetrics?: boolean;
    checkpoints?: CheckpointMode;
  } = {},
): Promise<BootstrapResult> {
  const warnings: string[] = [];
  let key = opts.masterKey;
  if (!key) {
    const loaded = loadMasterKey(config);
    key = loaded.key;
    if (loaded.warning) warnings.push(loaded.warning);
  }
  const target = parseDatabaseUrl(config.databaseUrl);
  const cache = new ConfigCache(config.configCacheSeconds * 1000);
  // Loaded only when configured: the Redis client is a noticeable part of a CLI command's start-up otherwise.
  const redis: RedisRecords | undefined = config.redisUrl
    ? await (
        await import('./store/redis/redis-records.ts')
      ).RedisRecords.open(config.redisUrl, config.redisKeyPrefix, {
        connectMs: config.redisConnectTimeoutMs,
        commandMs: config.redisCommandTimeoutMs,
      })
    : undefined;
  let store: Store;
  let appliedMigrations: string[] = [];
  try {
    store = Store.open(
      await openDatabase(target, config.databasePoolSize, {
        checkpoints: opts.checkpoints,
        connectTimeoutMs: config.databaseConnectTimeoutMs,
        statementTimeoutMs: config.databaseStatementTimeoutMs,
      }),
      cache,
      redis,
    );
    // The schema engine is started only when something is pending: it is slow to load, and on SQLite it needs the
    // file to itself (other processes, such as a running server, keep it open otherwise).
    // Only a migrations table that was read and misses entries means "pending": a database that cannot be reached
    // is said to be so, rather than read as an empty one.
    const pending = opts.skipMigrations
      ? []
      : await store.system.pendingMigrations().catch(async (err: unknown) => {
          await store.closeDatabase().catch(() => {});
          if (!unavailableReason(err)) throw err;
          throw new Error(
            `cannot connect to the database at ${shownLocation(target.location)} (${describeDriverError(err)})`,
            { cause: err },
          );
        });
    if (pending.length) {
      await store.closeDatabase();
      appliedMigrations = await migrate(target);
      store = Store.open(
        await openDatabase(target, config.databasePoolSize, {
          checkpoints: opts.checkpoints,
          connectTimeoutMs: config.databaseConnectTimeoutMs,
          statementTimeoutMs: config.databaseStatementTimeoutMs,
        }),
        cache,
        redis,
      );
    }
  } catch (err) {
    await redis?.close(); // an open connection would keep a failed CLI command or server from exiting
    throw err;
  }
  const box = new SealedBox(key);
  const credentials = new SigningCredentials(box);
  const clock = opts.clock ?? systemClock;
  const organizations = new OrganizationService(config, store, credentials, clock);
  const deviceKey = createHmac('sha256', key).update('remembered-device-cookies').digest();
  const metrics = new Metrics({ processMetrics: opts.processMetrics });
  // The mail logger (pino) is made when a message first needs it, so that a CLI command does not load it.
  const mailer = new Mailer(config.smtp, () =>
    createRequire(import.meta.url)('pino').pino({ level: config.logLevel, name: 'mail' }),
  );
  return {
    ctx: {
      config,
      store,
      box,
      credentials,
      organizations,
      clock,
      deviceKey,
      metrics,
      mailer,
      lifecycle: createLifecycle(),
    },
    appliedMigrations,
    warnings,
  };
}
