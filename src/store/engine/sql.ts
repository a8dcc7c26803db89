// Hand-written SQL for the statements every login runs, executed on the database driver itself. Through Prisma a
// single-row read or write cost about 0.3 ms of CPU (query planning in the client, argument mapping in the adapter,
// and a fresh prepare of the statement each time: about 60 % of the broker's database time); on the driver with
// statements prepared once it costs a few microseconds plus SQLite's own work. Prisma keeps the schema, the
// migrations and every other query; only the repositories' hot methods use this module.
//
// One SQL text serves both databases: identifiers are double-quoted (both accept that), parameters are written `?`
// and numbered `$1…` for PostgreSQL, upserts use `ON CONFLICT` (SQLite ≥ 3.24 and PostgreSQL). Values cross the
// boundary in the shapes Prisma uses, so rows read here equal rows Prisma would return: DateTime columns are
// unixepoch-ms integers in SQLite and UTC TIMESTAMP(3) in PostgreSQL, Booleans 0/1 in SQLite.
import type { Database as SqliteDatabase, Statement as SqliteStatement } from 'better-sqlite3';
import type { Pool, QueryConfig } from 'pg';
import { GroupCommit } from './sqlite-group-commit.ts';
import type { TransactionGate } from './sqlite-transaction-gate.ts';

export type Dialect = 'sqlite' | 'postgresql';
export type SqlRow = Record<string, unknown>;

/** One statement, in both dialects. `name` identifies it to PostgreSQL, which then prepares it once per connection. */
export class Statement {
  readonly pg: string;
  readonly name: string;
  constructor(readonly sqlite: string) {
    let n = 0;
    this.pg = sqlite.replace(/\?/g, () => `$${++n}`);
    this.name = `hot_${Statement.count++}`;
  }
  private static count = 0;
}

export const sql = (text: string) => new Statement(text.replace(/\s+/g, ' ').trim());

export interface SqlRunner {
  readonly dialect: Dialect;
  /** the rows the statement returns */
  all(statement: Statement, params: readonly unknown[]): Promise<SqlRow[]>;
  /** runs a write; the number of rows it changed */
  run(statement: Statement, params: readonly unknown[]): Promise<number>;
}

/** SQLite on the very connection Prisma uses (a second connection in the same process would wait on the first one's
 *  write lock with a blocking busy-wait). `connection()` returns the current one: Prisma may reconnect. While a
 *  Prisma transaction is open on the connection, statements wait for its end at the gate (sqlite-transaction-gate.ts). */
export class SqliteRunner implements SqlRunner {
  readonly dialect = 'sqlite';
  private prepared = new WeakMap<SqliteDatabase, Map<Statement, SqliteStatement>>();
  private readonly writes: GroupCommit;
  constructor(
    private readonly connection: () => SqliteDatabase,
    private readonly gate: TransactionGate,
  ) {
    this.writes = new GroupCommit(connection, gate);
  }

  private prepare(statement: Statement): SqliteStatement {
    const db = this.connection();
    let cache = this.prepared.get(db);
    if (!cache) this.prepared.set(db, (cache = new Map()));
    let stmt = cache.get(statement);
    if (!stmt) {
      stmt = db.prepare(statement.sqlite);
      // Prisma sets safe integers on the connection; our columns are ordinary numbers (ms timestamps fit easily).
      if (stmt.reader) stmt.safeIntegers(false);
      cache.set(statement, stmt);
    }
    return stmt;
  }
  async all(statement: Statement, params: readonly unknown[]) {
    if (this.gate.closed) await this.gate.pass();
    return this.prepare(statement).all(...params.map(toSqlite)) as SqlRow[];
  }
  /** Writes commit in groups, at the end of the event-loop turn (sqlite-group-commit.ts). */
  run(statement: Statement, params: readonly unknown[]) {
    return this.writes.run(() => this.prepare(statement), params.map(toSqlite));
  }
  /** Commits the writes still queued. */
  drain() {
    return this.writes.drain();
  }
}

const toSqlite = (v: unknown) =>
  v instanceof Date ? v.getTime() : typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v;

// TIMESTAMP(3) holds UTC wall time (as Prisma writes it): read it as UTC whatever the process's time zone.
const TIMESTAMP_OID = 1114;
const utcTimestamps = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === TIMESTAMP_OID
      ? (text: string) => new Date(`${text.replace(' ', 'T')}Z`)
      : pgTypes.getTypeParser(oid, format as 'text')) as never,
};
let pgTypes: typeof import('pg').types;

/** PostgreSQL on the pool Prisma also uses. Named statements: each connection prepares them once. */
export class PgRunner implements SqlRunner {
  readonly dialect = 'postgresql';
  private constructor(private readonly pool: Pool) {}
  static async create(pool: Pool) {
    pgTypes ??= (await import('pg')).default.types;
    return new PgRunner(pool);
  }
  private query(statement: Statement, params: readonly unknown[]) {
    // A timestamp without time zone ignores an offset in its input: the ISO string in UTC is stored as written.
    const values = params.map((v) => (v instanceof Date ? v.toISOString() : v === undefined ? null : v));
    return this.pool.query({ name: statement.name, text: statement.pg, values, types: utcTimestamps } as QueryConfig);
  }
  async all(statement: Statement, params: readonly unknown[]) {
    return (await this.query(statement, params)).rows as SqlRow[];
  }
  async run(statement: Statement, params: readonly unknown[]) {
    return (await this.query(statement, params)).rowCount ?? 0;
  }
}

/** The raw-statement methods of a Prisma client or of its transaction client (named here rather than imported from
 *  database.ts, which opens the runners above: no import cycle). */
interface RawQueries {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

/** Inside a Prisma transaction the same statements go through the transaction's client, so they commit or roll back
 *  with it. Slower, and only used there. */
export class PrismaRunner implements SqlRunner {
  constructor(
    private readonly db: RawQueries,
    readonly dialect: Dialect,
  ) {}
  async all(statement: Statement, params: readonly unknown[]) {
    return this.db.$queryRawUnsafe<SqlRow[]>(this.text(statement), ...params.map((v) => v ?? null));
  }
  async run(statement: Statement, params: readonly unknown[]) {
    return this.db.$executeRawUnsafe(this.text(statement), ...params.map((v) => v ?? null));
  }
  private text(statement: Statement) {
    return this.dialect === 'sqlite' ? statement.sqlite : statement.pg;
  }
}

// Column readers: each accepts what any of the three runners returns for that column type.
export function asDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  if (typeof v === 'number' || typeof v === 'bigint') return new Date(Number(v));
  return new Date(String(v));
}
export const asBool = (v: unknown) => v === true || v === 1 || v === 1n;
export const asInt = (v: unknown) => (typeof v === 'bigint' ? Number(v) : (v as number));

/** Maps a row's date, boolean and integer columns to JavaScript types; others pass through as text. */
export function rowReader<T>(types: {
  dates?: readonly string[];
  bools?: readonly string[];
  ints?: readonly string[];
}) {
  const dates = types.dates ?? [];
  const bools = types.bools ?? [];
  const ints = types.ints ?? [];
  return (row: SqlRow): T => {
    const out: SqlRow = { ...row };
    for (const c of dates) out[c] = asDate(row[c]);
    for (const c of bools) out[c] = asBool(row[c]);
    for (const c of ints) out[c] = asInt(row[c]);
    return out as T;
  };
}
