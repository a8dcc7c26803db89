// TOTP factors, recovery codes and remembered devices of one organisation's users. Secrets are stored sealed;
// codes hashed; the failed-attempt counter is incremented in the database so several nodes never lose a count; the
// last accepted time step only ever moves up, by compare-and-set, so no node accepts a code of that step or an
// older one again (RFC 6238 §5.2).
import type { Db } from './engine/database.ts';
import { rowReader, sql, type SqlRunner } from './engine/sql.ts';

export type TotpFactorRow = Awaited<ReturnType<Db['totpFactor']['findUniqueOrThrow']>>;
type DeviceRow = Awaited<ReturnType<Db['rememberedDevice']['findUniqueOrThrow']>>;

// The reads of a login are hand-written (sql.ts); enrolment and admin actions stay on Prisma.
const FIND_FACTOR = sql(
  `SELECT "id", "orgId", "userId", "secretEnc", "status", "algorithm", "digits", "period", "failedAttempts", "lockedUntil", "lastUsedStep", "enrolFlowId", "createdAt", "confirmedAt" FROM "TotpFactor" WHERE "userId" = ? AND "orgId" = ?`,
);
const readFactor = rowReader<TotpFactorRow>({
  dates: ['lockedUntil', 'createdAt', 'confirmedAt'],
  ints: ['digits', 'period', 'failedAttempts', 'lastUsedStep'],
});
// A verified code: its step becomes the last used one if it is newer than that, and the same statement clears the
// failures, so the hot path makes one write. Refused (no row changed) for a step not newer, a factor locked meanwhile
// on another node, or one no longer active.
const USE_STEP = sql(`
  UPDATE "TotpFactor" SET "lastUsedStep" = ?, "failedAttempts" = 0, "lockedUntil" = NULL
  WHERE "userId" = ? AND "orgId" = ? AND "status" = 'active' AND ("lastUsedStep" IS NULL OR "lastUsedStep" < ?) AND ("lockedUntil" IS NULL OR "lockedUntil" <= ?)`);

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';
const FIND_DEVICE = sql(
  `SELECT "id", "orgId", "userId", "label", "createdAt", "expiresAt", "revokedAt" FROM "RememberedDevice" WHERE "id" = ? AND "orgId" = ?`,
);
const readDevice = rowReader<DeviceRow>({ dates: ['createdAt', 'expiresAt', 'revokedAt'] });

export class TotpFactorRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  /** Users of the organisation with an enrolled (active) authenticator. */
  countActive(): Promise<number> {
    return this.db.totpFactor.count({ where: { orgId: this.orgId, status: 'active' } });
  }
  async find(userId: string): Promise<TotpFactorRow | null> {
    const [row] = await this.sql.all(FIND_FACTOR, [userId, this.orgId]);
    return row ? readFactor(row) : null;
  }
  /**
   * A pending factor with this secret for the login flow `enrolFlowId`: created, or taking over the pending factor of
   * another flow (or of none). A pending factor of this same flow and an active factor stay as they are. The
   * failure count and lock carry over a take-over: a new login does not lift them. Returns the row as it is now,
   * which may belong to another request that won a race; the caller checks.
   */
  async savePending(
    userId: string,
    data: { secretEnc: string; algorithm: string; digits: number; period: number; enrolFlowId?: string | null },
  ): Promise<TotpFactorRow | null> {
    const flowId = data.enrolFlowId ?? null;
    const takeOver = () =>
      this.db.totpFactor.updateMany({
        where: {
          userId,
          orgId: this.orgId,
          status: 'pending',
          ...(flowId && { OR: [{ enrolFlowId: null }, { enrolFlowId: { not: flowId } }] }),
        },
        data: { ...data, enrolFlowId: flowId, lastUsedStep: null },
      });
    if (!(await takeOver()).count) {
      try {
        await this.db.totpFactor.create({
          data: { ...data, enrolFlowId: flowId, userId, orgId: this.orgId, status: 'pending' },
        });
      } catch (err) {
        // Another request created the user's factor meanwhile: take it over if it is another flow's pending one.
        if (!isUniqueViolation(err)) throw err;
        await takeOver();
      }
    }
    return this.find(userId);
  }
  /** Turns the pending factor on. `confirmed`: only the pending factor of that login flow, and the time step of the
   *  confirming code becomes the last used one. False when there is no such pending factor (any more). */
  async activate(userId: string, at: Date, confirmed?: { flowId: string; step: number }) {
    const where = { userId, orgId: this.orgId, status: 'pending', ...(confirmed && { enrolFlowId: confirmed.flowId }) };
    const data = {
      status: 'active',
      confirmedAt: at,
      failedAttempts: 0,
      lockedUntil: null,
      enrolFlowId: null,
      lastUsedStep: confirmed?.step ?? null,
    };
    return (await this.db.totpFactor.updateMany({ where, data })).count === 1;
  }
  /**
   * The factor becomes `data`'s secret, on, confirmed now by a code of time step `step`: a new authenticator set up
   * from the account page, replacing the active factor (or a pending one, or none). The last used step never moves
   * back, so no code accepted before is accepted again. Recovery codes are not touched.
   */
  async saveConfirmed(
    userId: string,
    data: { secretEnc: string; algorithm: string; digits: number; period: number },
    step: number,
    at: Date,
  ) {
    const before = await this.find(userId);
    const set = {
      ...data,
      status: 'active',
      confirmedAt: at,
      failedAttempts: 0,
      lockedUntil: null,
      enrolFlowId: null,
      lastUsedStep: Math.max(step, before?.lastUsedStep ?? step),
    };
    if ((await this.db.totpFactor.updateMany({ where: { userId, orgId: this.orgId }, data: set })).count) return;
    try {
      await this.db.totpFactor.create({ data: { ...set, userId, orgId: this.orgId } });
    } catch (err) {
      // A login's enrolment created a pending factor meanwhile: this confirmed one replaces it.
      if (!isUniqueViolation(err)) throw err;
      await this.db.totpFactor.updateMany({ where: { userId, orgId: this.orgId }, data: set });
    }
  }
  /** Accepts time step `step` of the active factor if it is newer than every step accepted before, on any node, and
   *  clears the failures. False when it is not (or the factor is locked or gone). */
  async useStep(userId: string, step: number, now: Date): Promise<boolean> {
    return (await this.sql.run(USE_STEP, [step, userId, this.orgId, step, now])) === 1;
  }
  /** Atomically adds one failure and returns the new count. */
  async recordFailure(userId: string): Promise<number> {
    await this.db.totpFactor.updateMany({
      where: { userId, orgId: this.orgId },
      data: { failedAttempts: { increment: 1 } },
    });
    return (await this.find(userId))?.failedAttempts ?? 0;
  }
  lock(userId: string, until: Date) {
    return this.db.totpFactor.updateMany({
      where: { userId, orgId: this.orgId },
      data: { lockedUntil: until, failedAttempts: 0 },
    });
  }
  resetFailures(userId: string) {
    return this.db.totpFactor.updateMany({
      where: { userId, orgId: this.orgId },
      data: { failedAttempts: 0, lockedUntil: null },
    });
  }
  async deleteAll(userId: string) {
    await this.db.totpFactor.deleteMany({ where: { userId, orgId: this.orgId } });
    await this.db.recoveryCode.deleteMany({ where: { userId, orgId: this.orgId } });
  }

  // Recovery codes
  async replaceRecoveryCodes(userId: string, hashes: string[]) {
    await this.db.recoveryCode.deleteMany({ where: { userId, orgId: this.orgId } });
    await this.db.recoveryCode.createMany({
      data: hashes.map((codeHash) => ({ codeHash, userId, orgId: this.orgId })),
    });
  }
  unusedRecoveryCodes(userId: string) {
    return this.db.recoveryCode.findMany({ where: { userId, orgId: this.orgId, usedAt: null } });
  }
  /** Marks a code used; false if another request used it first. */
  async useRecoveryCode(id: string, at: Date) {
    return (
      (await this.db.recoveryCode.updateMany({ where: { id, orgId: this.orgId, usedAt: null }, data: { usedAt: at } }))
        .count === 1
    );
  }
}

export class RememberedDeviceRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  create(data: { userId: string; label: string | null; expiresAt: Date }) {
    return this.db.rememberedDevice.create({ data: { ...data, orgId: this.orgId } });
  }
  async find(id: string): Promise<DeviceRow | null> {
    const [row] = await this.sql.all(FIND_DEVICE, [id, this.orgId]);
    return row ? readDevice(row) : null;
  }
  list(userId: string) {
    return this.db.rememberedDevice.findMany({
      where: { userId, orgId: this.orgId, revokedAt: null },
      orderBy: { createdAt: 'desc' },
    });
  }
  async revoke(userId: string, id: string | null, at: Date) {
    return (
      await this.db.rememberedDevice.updateMany({
        where: { userId, orgId: this.orgId, revokedAt: null, ...(id && { id }) },
        data: { revokedAt: at },
      })
    ).count;
  }
}
