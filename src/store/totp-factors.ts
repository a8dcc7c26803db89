// TOTP factors, recovery codes and remembered devices of one organisation's users. Secrets are stored sealed;
// codes hashed; the failed-attempt counter is incremented in the database so several nodes never lose a count.
import type { Db } from './database.ts';
import { rowReader, sql, type SqlRunner } from './sql.ts';

export type TotpFactorRow = Awaited<ReturnType<Db['totpFactor']['findUniqueOrThrow']>>;
type DeviceRow = Awaited<ReturnType<Db['rememberedDevice']['findUniqueOrThrow']>>;

// The reads of a login are hand-written (sql.ts); enrolment and admin actions stay on Prisma.
const FIND_FACTOR = sql(`SELECT "id", "orgId", "userId", "secretEnc", "status", "algorithm", "digits", "period", "failedAttempts", "lockedUntil", "createdAt", "confirmedAt" FROM "TotpFactor" WHERE "userId" = ? AND "orgId" = ?`);
const readFactor = rowReader<TotpFactorRow>({ dates: ['lockedUntil', 'createdAt', 'confirmedAt'], ints: ['digits', 'period', 'failedAttempts'] });
const FIND_DEVICE = sql(`SELECT "id", "orgId", "userId", "label", "createdAt", "expiresAt", "revokedAt" FROM "RememberedDevice" WHERE "id" = ? AND "orgId" = ?`);
const readDevice = rowReader<DeviceRow>({ dates: ['createdAt', 'expiresAt', 'revokedAt'] });

export class TotpFactorRepository {
  constructor(private readonly db: Db, private readonly sql: SqlRunner, private readonly orgId: string) {}

  async find(userId: string): Promise<TotpFactorRow | null> {
    const [row] = await this.sql.all(FIND_FACTOR, [userId, this.orgId]);
    return row ? readFactor(row) : null;
  }
  /** Replaces a pending factor (never an active one: the caller checks) with a new pending secret. */
  async savePending(userId: string, data: { secretEnc: string; algorithm: string; digits: number; period: number }) {
    await this.db.totpFactor.deleteMany({ where: { userId, orgId: this.orgId, status: 'pending' } });
    return this.db.totpFactor.create({ data: { ...data, userId, orgId: this.orgId, status: 'pending' } });
  }
  async activate(userId: string, at: Date) {
    return (await this.db.totpFactor.updateMany({ where: { userId, orgId: this.orgId, status: 'pending' }, data: { status: 'active', confirmedAt: at, failedAttempts: 0, lockedUntil: null } })).count === 1;
  }
  /** Atomically adds one failure and returns the new count. */
  async recordFailure(userId: string): Promise<number> {
    await this.db.totpFactor.updateMany({ where: { userId, orgId: this.orgId }, data: { failedAttempts: { increment: 1 } } });
    return (await this.find(userId))?.failedAttempts ?? 0;
  }
  lock(userId: string, until: Date) {
    return this.db.totpFactor.updateMany({ where: { userId, orgId: this.orgId }, data: { lockedUntil: until, failedAttempts: 0 } });
  }
  resetFailures(userId: string) {
    return this.db.totpFactor.updateMany({ where: { userId, orgId: this.orgId }, data: { failedAttempts: 0, lockedUntil: null } });
  }
  async deleteAll(userId: string) {
    await this.db.totpFactor.deleteMany({ where: { userId, orgId: this.orgId } });
    await this.db.recoveryCode.deleteMany({ where: { userId, orgId: this.orgId } });
  }

  // Recovery codes
  async replaceRecoveryCodes(userId: string, hashes: string[]) {
    await this.db.recoveryCode.deleteMany({ where: { userId, orgId: this.orgId } });
    await this.db.recoveryCode.createMany({ data: hashes.map((codeHash) => ({ codeHash, userId, orgId: this.orgId })) });
  }
  unusedRecoveryCodes(userId: string) {
    return this.db.recoveryCode.findMany({ where: { userId, orgId: this.orgId, usedAt: null } });
  }
  /** Marks a code used; false if another request used it first. */
  async useRecoveryCode(id: string, at: Date) {
    return (await this.db.recoveryCode.updateMany({ where: { id, orgId: this.orgId, usedAt: null }, data: { usedAt: at } })).count === 1;
  }
}

export class RememberedDeviceRepository {
  constructor(private readonly db: Db, private readonly sql: SqlRunner, private readonly orgId: string) {}

  create(data: { userId: string; label: string | null; expiresAt: Date }) {
    return this.db.rememberedDevice.create({ data: { ...data, orgId: this.orgId } });
  }
  async find(id: string): Promise<DeviceRow | null> {
    const [row] = await this.sql.all(FIND_DEVICE, [id, this.orgId]);
    return row ? readDevice(row) : null;
  }
  list(userId: string) {
    return this.db.rememberedDevice.findMany({ where: { userId, orgId: this.orgId, revokedAt: null }, orderBy: { createdAt: 'desc' } });
  }
  async revoke(userId: string, id: string | null, at: Date) {
    return (await this.db.rememberedDevice.updateMany({ where: { userId, orgId: this.orgId, revokedAt: null, ...(id && { id }) }, data: { revokedAt: at } })).count;
  }
}
