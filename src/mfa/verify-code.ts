// A typed second-factor code, wherever one is asked for (a login's second-factor step, the account page's fresh
// check): the authenticator app's code or a recovery code when the user has an active app, else a recovery code of a
// passkey-only user. Their recovery codes cover a lost key as they cover a lost phone, with the same lock after
// repeated wrong codes.
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Organization } from '../store/organizations.ts';
import type { TenantStore } from '../store/store.ts';
import { totpFor } from './for-tenant.ts';
import { lockedMessage } from './lockout-wording.ts';
import { RecoveryCodes } from './recovery-codes.ts';
import type { VerifyOutcome } from './totp-service.ts';

/**
 * When a passkey-only user's recovery codes are locked: after the operator's threshold of wrong codes within the lock
 * time, until the oldest of those is that long ago. Such a user has no app factor whose row counts failures, so the
 * audited refusals (`mfa.verify_failed`, `mfa_invalid_code`, written by every node before it answers) are the count.
 * Null when not locked.
 */
async function recoveryLockedUntil(
  ctx: AppContext,
  store: TenantStore,
  userId: string,
  now: Date,
): Promise<Date | null> {
  const { mfaLockoutThreshold: threshold, mfaLockoutSeconds: seconds } = ctx.config;
  const recent = await store.audit.list({
    userId,
    type: 'mfa.verify_failed',
    code: 'mfa_invalid_code',
    from: new Date(now.getTime() - seconds * 1000),
    take: threshold,
  });
  if (recent.length < threshold) return null;
  return new Date(recent[threshold - 1].at.getTime() + seconds * 1000);
}

/** Verifies `code` for the user (a recovery code is spent once). Throws AppError with a stable code on failure; the
 *  caller audits the refusal as `mfa.verify_failed` with that code, which is what the passkey-only lock counts. */
export async function verifySecondFactorCode(
  ctx: AppContext,
  org: Organization,
  store: TenantStore,
  userId: string,
  code: string,
): Promise<VerifyOutcome> {
  // One read of the factor decides the way: an active app checks the code (its own lock and recovery codes).
  const checked = await totpFor(ctx, org, store).verifyIfActive(userId, code);
  if (checked) return checked;
  const now = ctx.clock.now();
  const lockedUntil = await recoveryLockedUntil(ctx, store, userId, now);
  if (lockedUntil && lockedUntil > now)
    throw new AppError('mfa_locked', lockedMessage(lockedUntil, now), { lockedUntil: lockedUntil.toISOString() });
  const remaining = await new RecoveryCodes(store, ctx.clock).use(userId, code);
  if (remaining === null)
    throw new AppError('mfa_invalid_code', 'That recovery code is not valid or was already used.');
  return { method: 'recovery', remainingRecoveryCodes: remaining };
}
