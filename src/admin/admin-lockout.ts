// The admin sign-in lockout, shared by both steps (password, then TOTP code) and by the code asked before removing
// the second factor: every wrong answer counts toward the same limit, so guessing codes is as slow as guessing
// passwords. Counts are atomic in the database, so several nodes do not lose them.
import { AppError } from '../errors.ts';
import type { SignInAccount, SignInStore } from './sign-in-store.ts';

export const ADMIN_LOCKOUT_THRESHOLD = 5;
export const ADMIN_LOCKOUT_SECONDS = 15 * 60;

export function lockedError(until: Date) {
  return new AppError(
    'admin_locked',
    `Too many failed attempts. Try again after ${until.toISOString().slice(11, 16)} UTC.`,
  );
}

export function assertNotLocked(admin: Pick<SignInAccount, 'lockedUntil'>, now: Date) {
  if (admin.lockedUntil && admin.lockedUntil > now) throw lockedError(admin.lockedUntil);
}

/** Counts one wrong answer; returns the lock's end when this one reached the limit, otherwise null. */
export async function countFailedAttempt<A extends SignInAccount>(
  store: SignInStore<A>,
  admin: A,
  now: Date,
): Promise<Date | null> {
  if ((await store.admins.recordFailedLogin(admin.id)) < ADMIN_LOCKOUT_THRESHOLD) return null;
  const lockedUntil = new Date(now.getTime() + ADMIN_LOCKOUT_SECONDS * 1000);
  await store.admins.update(admin.id, { lockedUntil, failedLogins: 0 });
  await store.audit.record({
    type: 'admin.locked',
    outcome: 'failure',
    actor: admin.email,
    at: now,
    details: { until: lockedUntil.toISOString() },
  });
  return lockedUntil;
}
