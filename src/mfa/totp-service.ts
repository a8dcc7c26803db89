// TOTP second factor (RFC 6238): enrolment confirmed by a first code, verification with a ±1 step window, the last
// accepted time step kept per user so that no code of that step or an older one is accepted again on any node
// (§5.2), a lock after repeated failures (counted for the second factor alone), and single-use recovery codes.
// A setup in progress belongs to the login flow that started it: the same key on every render of that flow, until
// it is confirmed or another flow takes it over. Secrets are sealed with the master key, bound to the organisation
// and user.
import { enrolmentCode, matchingStep, newTotpSecret } from './totp-codes.ts';
import type { Clock } from '../clock.ts';
import type { SealedBox } from '../crypto/sealed-box.ts';
import { AppError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';
import type { TotpFactorRow } from '../store/totp-factors.ts';
import { lastTryMessage, lockedMessage } from './lockout-wording.ts';
import { normaliseRecoveryCode, RECOVERY_CODE, RecoveryCodes } from './recovery-codes.ts';

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

export type FactorStatus = { state: 'none' | 'pending' | 'active'; lockedUntil: Date | null; failedAttempts: number };
/** The key to scan, with the parameters it was made for (the organisation's settings when the setup began). */
export interface Enrolment {
  secretBase32: string;
  otpauthUri: string;
  qrDataUrl: string;
  digits: number;
  status: FactorStatus;
}
export type VerifyOutcome = { method: 'totp' | 'recovery'; remainingRecoveryCodes?: number };

const sealContext = (orgId: string, userId: string) => `totp:${orgId}:${userId}`;
// A key offered on the account page is sealed for the organisation, the user and the broker session showing it:
// the sealed value cannot be replayed by another user, organisation or session.
const newKeyContext = (orgId: string, userId: string, owner: string) => `totp-new-key:${orgId}:${userId}:${owner}`;
interface NewKey {
  secret: string;
  digits: number;
  period: number;
  algorithm: TotpAlgorithm;
}
function openNewKey(box: SealedBox, sealed: string, context: string): NewKey | null {
  try {
    return JSON.parse(box.open(sealed, context).toString('utf8')) as NewKey;
  } catch {
    return null; // sealed for another user, organisation or session, or forged
  }
}

const alreadyEnrolled = () =>
  new AppError('mfa_already_enrolled', 'Two-factor authentication is already set up for this account.');
const notPending = () => new AppError('mfa_not_pending', 'There is no two-factor setup in progress. Start again.');
const replaced = () =>
  new AppError(
    'mfa_enrolment_replaced',
    'Two-factor setup was started again in another window or browser, so the key on this page no longer works. Finish the setup there, or start again here with a new key.',
  );
const statusOf = (f: TotpFactorRow | null): FactorStatus => ({
  state: (f?.status as FactorStatus['state']) ?? 'none',
  lockedUntil: f?.lockedUntil ?? null,
  failedAttempts: f?.failedAttempts ?? 0,
});

export class TotpService {
  constructor(
    private readonly store: TenantStore,
    private readonly box: SealedBox,
    private readonly clock: Clock,
    private readonly settings: TotpSettings,
  ) {}

  async status(userId: string): Promise<FactorStatus> {
    return statusOf(await this.store.totp.find(userId));
  }

  /** What a code page says before the next try: that the factor is locked and for how long, or that one more wrong
   *  code locks it. Null when neither. */
  notice(status: Pick<FactorStatus, 'lockedUntil' | 'failedAttempts'>): string | null {
    const now = this.clock.now();
    if (status.lockedUntil && status.lockedUntil > now) return lockedMessage(status.lockedUntil, now);
    return status.failedAttempts >= this.settings.lockoutThreshold - 1
      ? lastTryMessage(this.settings.lockoutSeconds)
      : null;
  }

  /**
   * The setup of login flow `flowId`: its pending factor's key again if it has one (every render, after a wrong code,
   * back button), otherwise a new key, taking over a pending factor another flow started (whose confirmation then
   * fails with mfa_enrolment_replaced). An active factor is never replaced this way.
   */
  async startEnrolment(user: { id: string; email: string }, flowId: string): Promise<Enrolment> {
    let factor = await this.store.totp.find(user.id);
    if (factor?.status === 'active') throw alreadyEnrolled();
    if (factor?.enrolFlowId !== flowId) {
      const { digits, period, algorithm } = this.settings;
      const secretEnc = this.box.seal(newTotpSecret(), sealContext(this.store.orgId, user.id));
      factor = await this.store.totp.savePending(user.id, {
        secretEnc,
        algorithm,
        digits,
        period,
        enrolFlowId: flowId,
      });
      if (factor?.status === 'active') throw alreadyEnrolled();
      // Another flow's render won a race for the user's factor: this flow shows no key that would not work.
      if (!factor || factor.enrolFlowId !== flowId) throw replaced();
    }
    const secretBase32 = this.secretOf(user.id, factor);
    return {
      secretBase32,
      digits: factor.digits,
      status: statusOf(factor),
      ...(await enrolmentCode(this.settings.issuer, user.email, secretBase32, factor)),
    };
  }

  /** Confirms login flow `flowId`'s pending factor with a valid code, activates it, and returns the recovery codes
   *  (shown once). The confirming code's time step counts as used. */
  async confirmEnrolment(userId: string, flowId: string, code: string): Promise<string[]> {
    const factor = await this.store.totp.find(userId);
    if (!factor || factor.status !== 'pending') throw notPending();
    if (factor.enrolFlowId !== flowId) throw replaced();
    const now = this.clock.now();
    const step = await this.matchCode(userId, factor, code, now);
    if (!(await this.store.totp.activate(userId, now, { flowId, step }))) {
      const current = await this.store.totp.find(userId);
      throw current?.status === 'pending' && current.enrolFlowId !== flowId ? replaced() : notPending();
    }
    const codes = await this.newRecoveryCodes(userId);
    await this.store.audit.record({ type: 'mfa.enrolled', userId, at: now });
    return codes;
  }

  /**
   * A new authenticator key offered on the account page, for `owner` (the broker session showing it): `sealed` again
   * when it still opens (the same key on every render until it is confirmed), else a new one. The key lives only in
   * that sealed value, kept by the user's browser, until a code confirms it (`confirmNewKey`): an active factor keeps
   * working meanwhile.
   */
  async offerNewKey(
    user: { id: string; email: string },
    owner: string,
    sealed: string | undefined,
  ): Promise<{ sealed: string; secretBase32: string; qrDataUrl: string; digits: number }> {
    const context = newKeyContext(this.store.orgId, user.id, owner);
    let key = sealed ? openNewKey(this.box, sealed, context) : null;
    if (!key) {
      const { digits, period, algorithm } = this.settings;
      key = { secret: newTotpSecret(), digits, period, algorithm };
      sealed = this.box.seal(JSON.stringify(key), context);
    }
    return {
      sealed: sealed!,
      secretBase32: key.secret,
      digits: key.digits,
      qrDataUrl: (await enrolmentCode(this.settings.issuer, user.email, key.secret, key)).qrDataUrl,
    };
  }

  /** Turns on the key of `offerNewKey` with a code from it, replacing the factor. Returns new recovery codes when
   *  the user had no active factor before (shown once), else null: their recovery codes stay as they were. */
  async confirmNewKey(
    userId: string,
    owner: string,
    sealed: string | undefined,
    code: string,
  ): Promise<string[] | null> {
    const key = sealed ? openNewKey(this.box, sealed, newKeyContext(this.store.orgId, userId, owner)) : null;
    if (!key)
      throw new AppError('mfa_not_pending', 'There is no new authenticator being set up here any more. Start again.');
    const before = await this.store.totp.find(userId);
    const now = this.clock.now();
    if (before?.lockedUntil && before.lockedUntil > now) throw this.locked(before.lockedUntil);
    const step = matchingStep(key.secret, code, key, now);
    if (step === null) {
      if (before) await this.failure(userId, now);
      throw new AppError(
        'mfa_invalid_code',
        'That code is not right. Check the time on your phone and try the current code.',
      );
    }
    const secretEnc = this.box.seal(key.secret, sealContext(this.store.orgId, userId));
    await this.store.totp.saveConfirmed(
      userId,
      { secretEnc, algorithm: key.algorithm, digits: key.digits, period: key.period },
      step,
      now,
    );
    const replaced = before?.status === 'active';
    await this.store.audit.record({ type: 'mfa.enrolled', userId, at: now, details: { via: 'account', replaced } });
    return replaced ? null : this.newRecoveryCodes(userId);
  }

  /** Ten new recovery codes for a user with a second factor (an active app or a passkey); the old ones stop
   *  working. Shown once. */
  async regenerateRecoveryCodes(userId: string): Promise<string[]> {
    const factor = await this.store.totp.find(userId);
    if (factor?.status !== 'active' && !(await this.store.webauthn.count(userId)))
      throw new AppError('mfa_not_enrolled', 'Two-factor authentication is not set up for this account.');
    const codes = await this.newRecoveryCodes(userId);
    await this.store.audit.record({ type: 'mfa.recovery_codes_regenerated', userId, at: this.clock.now() });
    return codes;
  }

  /** How many recovery codes are left unused. */
  recoveryCodesLeft(userId: string): Promise<number> {
    return this.recovery.left(userId);
  }

  private newRecoveryCodes(userId: string) {
    return this.recovery.issue(userId);
  }

  private get recovery() {
    return new RecoveryCodes(this.store, this.clock);
  }

  /** A TOTP code or a recovery code for an active factor. Throws AppError with a stable code on failure. */
  async verify(userId: string, input: string): Promise<VerifyOutcome> {
    const outcome = await this.verifyIfActive(userId, input);
    if (!outcome) throw new AppError('mfa_not_enrolled', 'Two-factor authentication is not set up for this account.');
    return outcome;
  }

  /** As `verify`, but null (nothing checked, nothing counted) when the user has no active factor: for a caller with
   *  another way in for that user, which then needs no separate read of the factor first. */
  async verifyIfActive(userId: string, input: string): Promise<VerifyOutcome | null> {
    const factor = await this.store.totp.find(userId);
    if (!factor || factor.status !== 'active') return null;
    const code = normaliseRecoveryCode(input);
    if (RECOVERY_CODE.test(code)) return this.useRecoveryCode(userId, factor, code);
    const now = this.clock.now();
    const step = await this.matchCode(userId, factor, input, now);
    // One write: the step becomes the last used one if it is newer than every step accepted before, on any node.
    if (!(await this.store.totp.useStep(userId, step, now))) await this.refuseStep(userId, now);
    return { method: 'totp' };
  }

  private secretOf(userId: string, factor: TotpFactorRow) {
    return this.box.open(factor.secretEnc, sealContext(this.store.orgId, userId)).toString('utf8');
  }

  /** The time step a code matches, checked only while the factor is not locked; a wrong code counts toward the lock. */
  private async matchCode(userId: string, factor: TotpFactorRow, input: string, now: Date): Promise<number> {
    if (factor.lockedUntil && factor.lockedUntil > now) throw this.locked(factor.lockedUntil);
    const step = matchingStep(this.secretOf(userId, factor), input, factor, now);
    if (step === null) {
      await this.failure(userId, now);
      throw new AppError(
        'mfa_invalid_code',
        'That code is not right. Check the time on your phone and try the current code.',
      );
    }
    return step;
  }

  /** A right code whose step was not accepted: why, read again (a rare path). A reused code counts as a failure. */
  private async refuseStep(userId: string, now: Date): Promise<never> {
    const factor = await this.store.totp.find(userId);
    if (!factor || factor.status !== 'active')
      throw new AppError('mfa_not_enrolled', 'Two-factor authentication is not set up for this account.');
    if (factor.lockedUntil && factor.lockedUntil > now) throw this.locked(factor.lockedUntil);
    await this.failure(userId, now);
    throw new AppError('mfa_code_reused', 'That code, or a newer one, was already used. Wait for the next code.');
  }

  private async useRecoveryCode(
    userId: string,
    factor: { lockedUntil: Date | null },
    code: string,
  ): Promise<VerifyOutcome> {
    const now = this.clock.now();
    if (factor.lockedUntil && factor.lockedUntil > now) throw this.locked(factor.lockedUntil);
    const remaining = await this.recovery.use(userId, code);
    if (remaining !== null) {
      await this.store.totp.resetFailures(userId);
      return { method: 'recovery', remainingRecoveryCodes: remaining };
    }
    await this.failure(userId, now);
    throw new AppError('mfa_invalid_code', 'That recovery code is not valid or was already used.');
  }

  private async failure(userId: string, now: Date) {
    const count = await this.store.totp.recordFailure(userId);
    if (count >= this.settings.lockoutThreshold) {
      const until = new Date(now.getTime() + this.settings.lockoutSeconds * 1000);
      await this.store.totp.lock(userId, until);
      await this.store.audit.record({
        type: 'mfa.locked',
        outcome: 'failure',
        userId,
        at: now,
        details: { until: until.toISOString(), failures: count },
      });
      throw this.locked(until);
    }
  }

  private locked(until: Date) {
    return new AppError('mfa_locked', lockedMessage(until, this.clock.now()), { lockedUntil: until.toISOString() });
  }

  // Admin actions (a reset of the whole second factor: reset-second-factor.ts)
  async unlock(userId: string, actor: string) {
    await this.store.totp.resetFailures(userId);
    await this.store.audit.record({ type: 'mfa.unlocked', actor, userId, at: this.clock.now() });
  }
}
