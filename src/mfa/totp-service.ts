// TOTP second factor (RFC 6238, via otplib): enrolment confirmed by a first code, verification with a ±1 step
// window, every accepted time step consumed once per user across nodes, a lock after repeated failures (counted
// for the second factor alone), and single-use recovery codes. Secrets are sealed with the master key, bound to
// the organisation and user.
import { enrolmentCode, matchingStep, newTotpSecret, stepKeptUntil } from './totp-codes.ts';
import type { Clock } from '../clock.ts';
import type { SealedBox } from '../crypto/sealed-box.ts';
import { AppError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';
import { hashRecoveryCode, newRecoveryCode, normaliseRecoveryCode, RECOVERY_CODE, RECOVERY_CODE_COUNT, recoveryCodeMatches } from './recovery-codes.ts';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpSettings {
  digits: number;
  period: number;
  algorithm: TotpAlgorithm;
  /** consecutive wrong codes before the factor locks */
  lockoutThreshold: number;
  lockoutSeconds: number;
  /** shown in the authenticator app */
  issuer: string;
}

export const DEFAULT_LOCKOUT = { lockoutThreshold: 5, lockoutSeconds: 900 };

export interface Enrolment { secretBase32: string; otpauthUri: string; qrDataUrl: string }
export type VerifyOutcome = { method: 'totp' | 'recovery'; remainingRecoveryCodes?: number };
export type FactorStatus = { state: 'none' | 'pending' | 'active'; lockedUntil: Date | null; failedAttempts: number };

const sealContext = (orgId: string, userId: string) => `totp:${orgId}:${userId}`;

export class TotpService {
  constructor(private readonly store: TenantStore, private readonly box: SealedBox, private readonly clock: Clock, private readonly settings: TotpSettings) {}

  async status(userId: string): Promise<FactorStatus> {
    const f = await this.store.totp.find(userId);
    return { state: (f?.status as FactorStatus['state']) ?? 'none', lockedUntil: f?.lockedUntil ?? null, failedAttempts: f?.failedAttempts ?? 0 };
  }

  /** A fresh pending secret (replacing an earlier pending one). An active factor is never replaced this way. */
  async startEnrolment(user: { id: string; email: string }): Promise<Enrolment> {
    const existing = await this.store.totp.find(user.id);
    if (existing?.status === 'active') throw new AppError(409, 'mfa_already_enrolled', 'Two-factor authentication is already set up for this account.');
    const secretBase32 = newTotpSecret();
    const { digits, period, algorithm } = this.settings;
    await this.store.totp.savePending(user.id, { secretEnc: this.box.seal(secretBase32, sealContext(this.store.orgId, user.id)), algorithm, digits, period });
    return { secretBase32, ...(await enrolmentCode(this.settings.issuer, user.email, secretBase32, this.settings)) };
  }

  /** Confirms the pending factor with a valid code, activates it, and returns the recovery codes (shown once). */
  async confirmEnrolment(userId: string, code: string): Promise<string[]> {
    const factor = await this.store.totp.find(userId);
    if (!factor || factor.status !== 'pending') throw new AppError(409, 'mfa_not_pending', 'There is no two-factor setup in progress. Start again.');
    await this.checkCode(userId, factor, code);
    if (!(await this.store.totp.activate(userId, this.clock.now()))) throw new AppError(409, 'mfa_not_pending', 'There is no two-factor setup in progress. Start again.');
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.store.totp.replaceRecoveryCodes(userId, await Promise.all(codes.map(hashRecoveryCode)));
    await this.store.audit.record({ type: 'mfa.enrolled', userId, at: this.clock.now() });
    return codes;
  }

  /** A TOTP code or a recovery code for an active factor. Throws AppError with a stable code on failure. */
  async verify(userId: string, input: string): Promise<VerifyOutcome> {
    const factor = await this.store.totp.find(userId);
    if (!factor || factor.status !== 'active') throw new AppError(409, 'mfa_not_enrolled', 'Two-factor authentication is not set up for this account.');
    const code = normaliseRecoveryCode(input);
    if (RECOVERY_CODE.test(code)) return this.useRecoveryCode(userId, factor, code);
    await this.checkCode(userId, factor, input);
    return { method: 'totp' };
  }

  private async checkCode(userId: string, factor: NonNullable<Awaited<ReturnType<TenantStore['totp']['find']>>>, input: string) {
    const now = this.clock.now();
    if (factor.lockedUntil && factor.lockedUntil > now) throw this.locked(factor.lockedUntil);
    const secret = this.box.open(factor.secretEnc, sealContext(this.store.orgId, userId)).toString('utf8');
    const step = matchingStep(secret, input, factor, now);
    if (step === null) {
      await this.failure(userId, now);
      throw new AppError(401, 'mfa_invalid_code', 'That code is not right. Check the time on your phone and try the current code.');
    }
    // One accepted time step per user, across nodes: a code seen once (or an older one) is not accepted again.
    if (!(await this.store.oneTimeUse.consume('totp_step', `${userId}:${step}`, stepKeptUntil(step, factor.period), now))) {
      await this.failure(userId, now);
      throw new AppError(401, 'mfa_code_reused', 'That code was already used. Wait for the next code.');
    }
    // Most verifications follow no failure: skip the write then (a failure counted meanwhile on another node merely
    // stays counted until the next success that sees it).
    if (factor.failedAttempts || factor.lockedUntil) await this.store.totp.resetFailures(userId);
  }

  private async useRecoveryCode(userId: string, factor: { lockedUntil: Date | null }, code: string): Promise<VerifyOutcome> {
    const now = this.clock.now();
    if (factor.lockedUntil && factor.lockedUntil > now) throw this.locked(factor.lockedUntil);
    const unused = await this.store.totp.unusedRecoveryCodes(userId);
    for (const row of unused) {
      if (await recoveryCodeMatches(row.codeHash, code)) {
        if (!(await this.store.totp.useRecoveryCode(row.id, now))) break;
        await this.store.totp.resetFailures(userId);
        await this.store.audit.record({ type: 'mfa.recovery_code_used', userId, at: now, details: { remaining: unused.length - 1 } });
        return { method: 'recovery', remainingRecoveryCodes: unused.length - 1 };
      }
    }
    await this.failure(userId, now);
    throw new AppError(401, 'mfa_invalid_code', 'That recovery code is not valid or was already used.');
  }

  private async failure(userId: string, now: Date) {
    const count = await this.store.totp.recordFailure(userId);
    if (count >= this.settings.lockoutThreshold) {
      const until = new Date(now.getTime() + this.settings.lockoutSeconds * 1000);
      await this.store.totp.lock(userId, until);
      await this.store.audit.record({ type: 'mfa.locked', outcome: 'failure', userId, at: now, details: { until: until.toISOString(), failures: count } });
      throw this.locked(until);
    }
  }

  private locked(until: Date) {
    return new AppError(423, 'mfa_locked', `Too many wrong codes. Two-factor sign-in is locked until ${until.toISOString().slice(11, 16)} UTC.`, true, { lockedUntil: until.toISOString() });
  }

  // Admin actions
  async reset(userId: string, actor: string) {
    await this.store.totp.deleteAll(userId);
    await this.store.devices.revoke(userId, null, this.clock.now());
    await this.store.audit.record({ type: 'mfa.reset', actor, userId, at: this.clock.now() });
  }
  async unlock(userId: string, actor: string) {
    await this.store.totp.resetFailures(userId);
    await this.store.audit.record({ type: 'mfa.unlocked', actor, userId, at: this.clock.now() });
  }
}
