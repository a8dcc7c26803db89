// The platform's own data, outside every organisation: its operators, their console sessions and the platform audit
// log. Shaped as a SignInStore (admin/sign-in-store.ts) so that operators sign in through the admin sign-in code;
// `orgId` is the fixed scope PLATFORM_SCOPE, never an organisation's id (those are UUIDs).
import { timeOrderedUuid } from '../crypto/random-ids.ts';
import type { Db } from './engine/database.ts';
import type { AuditInput } from './audit.ts';
import { parseJson, toJson } from './engine/json.ts';
import { OneTimeUseRepository } from './one-time-use.ts';
import type { SqlRunner } from './engine/sql.ts';
import { normaliseEmail } from './users.ts';

export const PLATFORM_SCOPE = 'platform';

export type OperatorRow = Awaited<ReturnType<Db['operator']['findUniqueOrThrow']>>;

export class OperatorRepository {
  constructor(private readonly db: Db) {}
  create(data: {
    id?: string;
    email: string;
    passwordHash: string;
    totpSecretEnc: string | null;
    mustChangePassword?: boolean;
  }) {
    return this.db.operator.create({
      data: { ...data, email: data.email.trim(), emailLower: normaliseEmail(data.email) },
    });
  }
  findByEmail(email: string) {
    return this.db.operator.findUnique({ where: { emailLower: normaliseEmail(email) } });
  }
  findById(id: string) {
    return this.db.operator.findUnique({ where: { id } });
  }
  count() {
    return this.db.operator.count();
  }
  async recordFailedLogin(id: string): Promise<number> {
    await this.db.operator.updateMany({ where: { id }, data: { failedLogins: { increment: 1 } } });
    return (await this.findById(id))?.failedLogins ?? 0;
  }
  update(
    id: string,
    data: Partial<
      Pick<
        OperatorRow,
        'passwordHash' | 'failedLogins' | 'lockedUntil' | 'lastLoginAt' | 'mustChangePassword' | 'totpSecretEnc'
      >
    >,
  ) {
    return this.db.operator.update({ where: { id }, data });
  }
}

export class OperatorSessionRepository {
  constructor(private readonly db: Db) {}
  async create(data: { id: string; adminId: string; csrfToken: string; expiresAt: Date }) {
    const { adminId, ...rest } = data;
    return this.db.operatorSession.create({ data: { ...rest, operatorId: adminId } });
  }
  async findActive(id: string, now: Date) {
    const row = await this.db.operatorSession.findFirst({ where: { id, expiresAt: { gt: now } } });
    return row && { id: row.id, adminId: row.operatorId, csrfToken: row.csrfToken };
  }
  delete(id: string) {
    return this.db.operatorSession.deleteMany({ where: { id } });
  }
}

/** A platform audit line: an AuditInput, plus the organisation it concerns (kept as id and slug, since the
 *  organisation itself may be gone). */
export interface PlatformAuditInput extends AuditInput {
  orgId?: string;
  orgSlug?: string;
}

export class PlatformAuditRepository {
  constructor(private readonly db: Db) {}
  async record(e: PlatformAuditInput) {
    // Time-ordered ids: lines of the same instant (an injected clock, a fast sequence) still list in the order written.
    await this.db.platformAuditEvent.create({
      data: {
        id: timeOrderedUuid(),
        at: e.at ?? new Date(),
        type: e.type,
        outcome: e.outcome ?? 'success',
        code: e.code ?? null,
        actor: e.actor ?? null,
        orgId: e.orgId ?? null,
        orgSlug: e.orgSlug ?? null,
        details: toJson(e.details ?? {}),
      },
    });
  }
  async list(take = 100) {
    const rows = await this.db.platformAuditEvent.findMany({ orderBy: [{ at: 'desc' }, { id: 'desc' }], take });
    return rows.map((r) => ({ ...r, details: parseJson<Record<string, unknown>>(r.details, {}) }));
  }
}

export interface PlatformStore {
  orgId: typeof PLATFORM_SCOPE;
  admins: OperatorRepository;
  adminSessions: OperatorSessionRepository;
  audit: PlatformAuditRepository;
  oneTimeUse: OneTimeUseRepository;
}

export function platformStore(db: Db, sql: SqlRunner): PlatformStore {
  return {
    orgId: PLATFORM_SCOPE,
    admins: new OperatorRepository(db),
    adminSessions: new OperatorSessionRepository(db),
    audit: new PlatformAuditRepository(db),
    oneTimeUse: new OneTimeUseRepository(db, sql, PLATFORM_SCOPE),
  };
}
