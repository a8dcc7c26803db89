// One-time-use records shared by every node through the database: assertion IDs, TOTP time steps, logout request
// IDs, consumed tokens. `consume` relies on the primary key: of two inserts of the same value, on any nodes, one
// changes nothing. Always in the database, also with REDIS_URL: a record must last until its message could no longer
// be accepted anyway (its expiry plus the allowed skew), and a Redis that restarts without persistence would forget
// it and accept the message again.
import type { Db } from './engine/database.ts';
import { sql, type SqlRunner } from './engine/sql.ts';

// Inserted, or taking over an expired record that the purge has not removed yet; a live record stays as it is and
// the statement changes no row. One atomic statement, on both databases.
const CONSUME = sql(`
  INSERT INTO "OneTimeUse" ("orgId", "kind", "value", "expiresAt") VALUES (?, ?, ?, ?)
  ON CONFLICT ("orgId", "kind", "value") DO UPDATE SET "expiresAt" = excluded."expiresAt" WHERE "OneTimeUse"."expiresAt" <= ?`);

/** The one-time-use contract (one implementation: the database's, below). */
export interface OneTimeUseStore {
  /** true the first time (orgId, kind, value) is seen before it expires; false on every later attempt. */
  consume(kind: string, value: string, expiresAt: Date, now: Date): Promise<boolean>;
}

export class OneTimeUseRepository implements OneTimeUseStore {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  async consume(kind: string, value: string, expiresAt: Date, now: Date): Promise<boolean> {
    return (await this.sql.run(CONSUME, [this.orgId, kind, value, expiresAt, now])) === 1;
  }
}

export async function purgeExpiredOneTimeUse(db: Db, now: Date) {
  return (await db.oneTimeUse.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}
