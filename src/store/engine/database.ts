// Opens the database named by DATABASE_URL: an embedded SQLite file (file:...) or PostgreSQL (postgresql://...).
// Both generated Prisma clients expose the same model API (they come from one schema), so the rest of the
// code is typed against the SQLite client and never asks which database it runs on.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SqlDriverAdapterFactory, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { PgRunner, SqliteRunner, type SqlRunner } from './sql.ts';
import { startCheckpointer, type Checkpointer } from './sqlite-checkpointer.ts';
import { TransactionGate } from './sqlite-transaction-gate.ts';
import type { PrismaClient as SqliteClient } from '../../../generated/sqlite/client.ts';

export type Db = SqliteClient;
export type DbProvider = 'sqlite' | 'postgresql';

export interface DatabaseTarget {
  provider: DbProvider;
  /** absolute file path for SQLite, connection string for PostgreSQL */
  location: string;
}

export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).split('?')[0];
    if (!path) throw new Error('DATABASE_URL file: needs a path, e.g. file:./data/broker.db');
    return { provider: 'sqlite', location: path === ':memory:' ? path : resolve(path) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { provider: 'postgresql', location: url };
  throw new Error('DATABASE_URL must start with file: (SQLite) or postgresql:// (PostgreSQL)');
}

export async function adapterFactory(
  target: DatabaseTarget,
  poolSize = 10,
): Promise<SqlMigrationAwareDriverAdapterFactory> {
  if (target.provider === 'sqlite') {
    const { PrismaBetterSqlite3 } = await import('@prisma/adapter-better-sqlite3');
    if (target.location !== ':memory:') mkdirSync(dirname(target.location), { recursive: true });
    // unixepoch-ms keeps DateTime comparisons numeric and cheap in SQLite.
    return new PrismaBetterSqlite3({ url: target.location, timeout: 5000 }, { timestampFormat: 'unixepoch-ms' });
  }
  const { PrismaPg } = await import('@prisma/adapter-pg');
  return new PrismaPg({ connectionString: target.location, max: poolSize });
}

export interface OpenDatabase {
  db: Db;
  /** the same database through its driver, for the hot statements (sql.ts) */
  sql: SqlRunner;
  close(): Promise<void>;
}

/** Who copies a SQLite file's WAL into the database: the connection that commits, as SQLite does by default
 *  (`commit`); a background thread of this process (`thread`, sqlite-checkpointer.ts: for the server); or another
 *  process of the node (`elsewhere`: a cluster worker, whose primary runs the one thread for all of them, so that the
 *  writers are held by one RESTART checkpoint at a time, not by one per worker). */
export type CheckpointMode = 'commit' | 'thread' | 'elsewhere';

export interface OpenOptions {
  checkpoints?: CheckpointMode;
  onCheckpointError?: (message: string) => void;
  /** WAL frames past which the checkpointer restarts the log (default RESTART_FRAMES; tests use fewer) */
  restartFrames?: number;
  /** PostgreSQL: opening a connection or waiting for a free one of the pool (ms; default DEFAULT_TIMEOUTS) */
  connectTimeoutMs?: number;
  /** PostgreSQL: one statement (ms; default DEFAULT_TIMEOUTS) */
  statementTimeoutMs?: number;
}

/** The defaults of DATABASE_CONNECT_TIMEOUT_MS and DATABASE_STATEMENT_TIMEOUT_MS (config.ts), for callers without a Config. */
export const DEFAULT_TIMEOUTS = { connectTimeoutMs: 5000, statementTimeoutMs: 10_000 };

/** The pg pool's settings. A request never waits longer than these on a server that does not answer (frozen, behind a
 *  partition): `connectionTimeoutMillis` bounds opening a connection and waiting for a free one of the pool;
 *  `statement_timeout` has the server cancel a statement that runs too long, and `query_timeout` (a little later, so
 *  that a live server's own cancellation comes first) has the client give up on one that never answers. A connection
 *  whose statement timed out is thrown away by the pool (it is released with the error), never reused. */
export function pgPoolOptions(
  connectionString: string,
  max: number,
  opts: Pick<OpenOptions, 'connectTimeoutMs' | 'statementTimeoutMs'> = {},
) {
  const connect = opts.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectTimeoutMs;
  const statement = opts.statementTimeoutMs ?? DEFAULT_TIMEOUTS.statementTimeoutMs;
  return {
    connectionString,
    max,
    connectionTimeoutMillis: connect,
    statement_timeout: statement,
    query_timeout: statement + 500,
  };
}

/** Loads only the client of the database in use: each generated client brings its own runtime and query
 *  compiler, and a process never needs both (the same goes for the two driver adapters). The driver connection
 *  (SQLite) or pool (PostgreSQL) is shared between Prisma and the hand-written statements of sql.ts. */
export async function openDatabase(
  target: DatabaseTarget,
  poolSize = 10,
  opts: OpenOptions = {},
): Promise<OpenDatabase> {
  if (target.provider === 'sqlite') {
    const inner = await adapterFactory(target, poolSize);
    const file = target.location !== ':memory:';
    const mode = opts.checkpoints ?? 'commit';
    let connection: SqliteDatabase | undefined;
    const gate = new TransactionGate();
    // The adapter opens its better-sqlite3 connection in connect(); keep a hold of it, and set it up there, so that a
    // connection Prisma opens again is set up the same way.
    const adapter: SqlDriverAdapterFactory = {
      provider: inner.provider,
      adapterName: inner.adapterName,
      connect: async () => {
        const opened = await inner.connect();
        connection = (opened as unknown as { client: SqliteDatabase }).client;
        if (file) {
          // WAL lets readers proceed during a write and, with synchronous=NORMAL, commits without an fsync each time
          // (durable at checkpoints; a power cut can lose the last commits, never corrupt the file).
          connection.pragma('journal_mode = WAL');
          connection.pragma('synchronous = NORMAL');
          if (mode !== 'commit') connection.pragma('wal_autocheckpoint = 0');
        }
        return gate.guard(opened);
      },
    };
    const { PrismaClient } = await import('../../../generated/sqlite/client.ts');
    const db = new PrismaClient({ adapter });
    await db.$connect();
    if (!connection) throw new Error('the SQLite adapter did not expose its connection');
    const checkpointer: Checkpointer | undefined =
      file && mode === 'thread'
        ? startCheckpointer(
            target.location,
            1000,
            opts.onCheckpointError ?? ((m) => console.error(`SQLite checkpoint: ${m}`)),
            opts.restartFrames,
          )
        : undefined;
    const sql = new SqliteRunner(() => connection!, gate);
    return {
      db,
      sql,
      close: async () => {
        await sql.drain();
        await checkpointer?.stop();
        await db.$disconnect();
      },
    };
  }
  const [{ PrismaPg }, { default: pg }, { PrismaClient }] = await Promise.all([
    import('@prisma/adapter-pg'),
    import('pg'),
    import('../../../generated/postgresql/client.ts'),
  ]);
  const pool = new pg.Pool(pgPoolOptions(target.location, poolSize, opts));
  // An idle connection that the server closes (a restart, an admin's pg_terminate_backend) is dropped by the pool; the
  // next statement opens another. Without a listener, its error would end the process.
  pool.on('error', () => {});
  const db = new PrismaClient({ adapter: new PrismaPg(pool) }) as unknown as Db;
  return {
    db,
    sql: await PgRunner.create(pool),
    close: async () => {
      await db.$disconnect();
      await pool.end();
    },
  };
}
