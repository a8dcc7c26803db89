// The audit log of one organisation. A line that cannot be written fails the request that caused it: an action
// without its audit line would be lost from the record.
import { timeOrderedUuid } from '../crypto/random-ids.ts';
import type { Db } from './database.ts';
import { parseJson, toJson } from './json.ts';
import { sql, type SqlRunner } from './sql.ts';

const INSERT = sql(`INSERT INTO "AuditEvent" ("id", "orgId", "at", "type", "outcome", "code", "actor", "userId", "appId", "idpId", "flowId", "details") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);

export interface AuditInput {
  type: string;
  outcome?: 'success' | 'failure';
  code?: string;
  actor?: string;
  userId?: string;
  appId?: string;
  idpId?: string;
  flowId?: string;
  details?: Record<string, unknown>;
  at?: Date;
}

export interface AuditQuery {
  from?: Date; to?: Date; type?: string; userId?: string; appId?: string; skip?: number; take?: number;
  /** events whose type starts with this ("mfa." for every second-factor event) */
  typePrefix?: string;
  actor?: string;
  idpId?: string;
  /** keyset: events older (or newer) than this one, in the log's order (time, then id) */
  cursor?: AuditCursor;
}
export interface AuditCursor { at: Date; id: string; direction: 'older' | 'newer' }

export class AuditRepository {
  constructor(private readonly db: Db, private readonly sql: SqlRunner, private readonly orgId: string) {}

  /** One line; several happen on every login, so this is a hand-written statement (sql.ts). */
  async record(e: AuditInput) {
    await this.sql.run(INSERT, [timeOrderedUuid(), this.orgId, e.at ?? new Date(), e.type, e.outcome ?? 'success', e.code ?? null, e.actor ?? null, e.userId ?? null, e.appId ?? null, e.idpId ?? null, e.flowId ?? null, toJson(e.details ?? {})]);
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
        ...(c && { OR: newer ? [{ at: { gt: c.at } }, { at: c.at, id: { gt: c.id } }] : [{ at: { lt: c.at } }, { at: c.at, id: { lt: c.id } }] }),
      },
      orderBy: [{ at: order }, { id: order }],
      skip: q.skip ?? 0,
      take: Math.min(q.take ?? 100, 10_000),
    });
    if (newer) rows.reverse();
    return rows.map((r) => ({ ...r, details: parseJson<Record<string, unknown>>(r.details, {}) }));
  }
}
