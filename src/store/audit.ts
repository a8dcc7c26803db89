// The audit log of one organisation. A line that cannot be written fails the request that caused it: an action
// without its audit line would be lost from the record.
import { timeOrderedUuid } from '../crypto/random-ids.ts';
import type { ErrorCode } from '../errors.ts';
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';
import { sql, type SqlRunner } from './engine/sql.ts';

const INSERT = sql(
  `INSERT INTO "AuditEvent" ("id", "orgId", "at", "type", "outcome", "code", "actor", "userId", "appId", "idpId", "flowId", "details") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);

export interface AuditInput {
  type: string;
  outcome?: 'success' | 'failure';
  /** a refusal's code, from the error catalogue (src/errors.ts) */
  code?: ErrorCode;
  actor?: string;
  userId?: string;
  appId?: string;
  idpId?: string;
  flowId?: string;
  details?: Record<string, unknown>;
  at?: Date;
}

export interface AuditQuery {
  from?: Date;
  to?: Date;
  type?: string;
  userId?: string;
  appId?: string;
  skip?: number;
  take?: number;
  /** events whose type starts with this ("mfa." for every second-factor event) */
  typePrefix?: string;
  actor?: string;
  idpId?: string;
  /** a refusal's error code */
  code?: string;
  /** keyset: events older (or newer) than this one, in the log's order (time, then id) */
  cursor?: AuditCursor;
}
export interface AuditCursor {
  at: Date;
  id: string;
  direction: 'older' | 'newer';
}

// Events per UTC day and type, for the overview's charts: one statement per database (SQLite keeps times as epoch
// milliseconds, PostgreSQL as timestamps), grouped in the database so that a busy month is still one small answer.
const DAYS_SQLITE = sql(
  `SELECT CAST("at" / 86400000 AS INTEGER) AS "day", "type", COUNT(*) AS "n" FROM "AuditEvent" WHERE "orgId" = ? AND "at" >= ? AND "at" < ? AND "type" IN (SELECT value FROM json_each(?)) GROUP BY "day", "type"`,
);
const DAYS_PG = sql(
  `SELECT FLOOR(EXTRACT(EPOCH FROM "at") / 86400)::int AS "day", "type", COUNT(*)::int AS "n" FROM "AuditEvent" WHERE "orgId" = ? AND "at" >= ? AND "at" < ? AND "type" = ANY(SELECT json_array_elements_text(?::json)) GROUP BY "day", "type"`,
);

export interface DailyCount {
  day: number;
  type: string;
  n: number;
}
export interface GroupCount {
  key: string | null;
  n: number;
}

export class AuditRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  /** One line; several happen on every login, so this is a hand-written statement (sql.ts). */
  async record(e: AuditInput) {
    await this.sql.run(INSERT, [
      timeOrderedUuid(),
      this.orgId,
      e.at ?? new Date(),
      e.type,
      e.outcome ?? 'success',
      e.code ?? null,
      e.actor ?? null,
      e.userId ?? null,
      e.appId ?? null,
      e.idpId ?? null,
      e.flowId ?? null,
      toJson(e.details ?? {}),
    ]);
  }
  /** How many events of these types happened on each UTC day in [from, to); `day` counts days since 1970-01-01. */
  async countByDay(types: readonly string[], from: Date, to: Date): Promise<DailyCount[]> {
    const rows = await this.sql.all(this.sql.dialect === 'sqlite' ? DAYS_SQLITE : DAYS_PG, [
      this.orgId,
      from,
      to,
      JSON.stringify(types),
    ]);
    return rows.map((r) => ({ day: Number(r.day), type: String(r.type), n: Number(r.n) }));
  }
  /** How many events of these types in [from, to) per value of one column (an IdP, an app, an error code), most first. */
  async countBy(
    column: 'idpId' | 'appId' | 'code',
    types: readonly string[],
    from: Date,
    to: Date,
    take = 10,
  ): Promise<GroupCount[]> {
    const rows = await this.db.auditEvent.groupBy({
      by: [column],
      where: { orgId: this.orgId, type: { in: [...types] }, at: { gte: from, lt: to } },
      _count: { _all: true },
      orderBy: { _count: { [column]: 'desc' } },
      take,
    });
    return rows.map((r) => ({ key: (r as unknown as Record<string, string | null>)[column], n: r._count._all }));
  }
  /** Newest first (time, then id, so that keyset pages never skip or repeat events of the same instant). With a
   *  `newer` cursor the rows are read upwards and returned newest first all the same. */
  async list(q: AuditQuery = {}) {
    const c = q.cursor;
    const newer = c?.direction === 'newer';
    const order = newer ? 'asc' : 'desc';
    const rows = await this.db.auditEvent.findMany({
      where: {
        orgId: this.orgId,
        ...((q.from || q.to) && { at: { ...(q.from && { gte: q.from }), ...(q.to && { lte: q.to }) } }),
        ...(q.type && { type: q.type }),
        ...(!q.type && q.typePrefix && { type: { startsWith: q.typePrefix } }),
        ...(q.userId && { userId: q.userId }),
        ...(q.appId && { appId: q.appId }),
        ...(q.idpId && { idpId: q.idpId }),
        ...(q.actor && { actor: q.actor }),
        ...(q.code && { code: q.code }),
        ...(c && {
          OR: newer
            ? [{ at: { gt: c.at } }, { at: c.at, id: { gt: c.id } }]
            : [{ at: { lt: c.at } }, { at: c.at, id: { lt: c.id } }],
        }),
      },
      orderBy: [{ at: order }, { id: order }],
      skip: q.skip ?? 0,
      take: Math.min(q.take ?? 100, 10_000),
    });
    if (newer) rows.reverse();
    return rows.map((r) => ({ ...r, details: parseJson<Record<string, unknown>>(r.details, {}) }));
  }
}
