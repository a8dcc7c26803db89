// Opens the database named by DATABASE_URL: an embedded SQLite file (file:...) or PostgreSQL (postgresql://...).
// Both generated Prisma clients expose the same model API (they come from one schema), so the rest of the
// code is typed against the SQLite client and never asks which database it runs on.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient as SqliteClient } from '../../generated/sqlite/client.ts';
import { PrismaClient as PostgresClient } from '../../generated/postgresql/client.ts';

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

export function adapterFactory(target: DatabaseTarget, poolSize = 10): SqlMigrationAwareDriverAdapterFactory {
  if (target.provider === 'sqlite') {
    if (target.location !== ':memory:') mkdirSync(dirname(target.location), { recursive: true });
    // unixepoch-ms keeps DateTime comparisons numeric and cheap in SQLite.
    return new PrismaBetterSqlite3({ url: target.location, timeout: 5000 }, { timestampFormat: 'unixepoch-ms' });
  }
  return new PrismaPg({ connectionString: target.location, max: poolSize });
}

export function openDatabase(target: DatabaseTarget, poolSize?: number): Db {
  const adapter = adapterFactory(target, poolSize);
  if (target.provider === 'sqlite') return new SqliteClient({ adapter });
  return new PostgresClient({ adapter }) as unknown as Db;
}
