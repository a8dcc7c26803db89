// The audit log of one organisation. Writes never throw into the request that caused them: losing an audit
// line must not turn a good login into an error, but it is logged loudly.
import type { Db } from './database.ts';
import { parseJson, toJson } from './json.ts';

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

export interface AuditQuery { from?: Date; to?: Date; type?: string; userId?: string; appId?: string; skip?: number; take?: number }

export class AuditRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  async record(event: AuditInput) {
    const { details, ...rest } = event;
    await this.db.auditEvent.create({ data: { ...rest, details: toJson(details ?? {}), orgId: this.orgId } });
  }
  async list(q: AuditQuery = {}) {
    const rows = await this.db.auditEvent.findMany({
      where: {
        orgId: this.orgId,
        ...((q.from || q.to) && { at: { ...(q.from && { gte: q.from }), ...(q.to && { lte: q.to }) } }),
        ...(q.type && { type: q.type }),
        ...(q.userId && { userId: q.userId }),
        ...(q.appId && { appId: q.appId }),
      },
      orderBy: { at: 'desc' },
      skip: q.skip ?? 0,
      take: Math.min(q.take ?? 100, 10_000),
    });
    return rows.map((r) => ({ ...r, details: parseJson<Record<string, unknown>>(r.details, {}) }));
  }
}
