// Admin sign-in: argon2id passwords, a lockout after repeated failures (counted atomically, so several nodes do
// not lose counts), and sessions whose cookie value is never stored (only its hash).
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { hashPassword, verifyPassword } from '../orgs/passwords.ts';
import { sha256 } from '../broker/browser-binding.ts';
import type { TenantStore } from '../store/store.ts';
import type { AdminRow } from '../store/admins.ts';

export const ADMIN_LOCKOUT_THRESHOLD = 5;
export const ADMIN_LOCKOUT_SECONDS = 15 * 60;
export const ADMIN_SESSION_SECONDS = 8 * 3600;

// Verifying against a fixed hash when the email is unknown keeps the response time the same as for a known one.
let dummyHash: Promise<string> | undefined;

export interface AdminLogin { admin: AdminRow; token: string; csrfToken: string }

export async function signIn(store: TenantStore, clock: Clock, email: string, password: string): Promise<AdminLogin> {
  const now = clock.now();
  const admin = await store.admins.findByEmail(email);
  if (!admin) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(await dummyHash, password);
    throw new AppError(401, 'admin_invalid_credentials', 'The email or password is not right.');
  }
  if (admin.lockedUntil && admin.lockedUntil > now) {
    throw new AppError(423, 'admin_locked', `Too many failed attempts. Try again after ${admin.lockedUntil.toISOString().slice(11, 16)} UTC.`);
  }
  if (!(await verifyPassword(admin.passwordHash, password))) {
    if ((await store.admins.recordFailedLogin(admin.id)) >= ADMIN_LOCKOUT_THRESHOLD) {
      const lockedUntil = new Date(now.getTime() + ADMIN_LOCKOUT_SECONDS * 1000);
      await store.admins.update(admin.id, { lockedUntil, failedLogins: 0 });
      await store.audit.record({ type: 'admin.locked', outcome: 'failure', actor: admin.email, at: now, details: { until: lockedUntil.toISOString() } });
    }
    await store.audit.record({ type: 'admin.login', outcome: 'failure', code: 'admin_invalid_credentials', actor: admin.email, at: now });
    throw new AppError(401, 'admin_invalid_credentials', 'The email or password is not right.');
  }
  await store.admins.update(admin.id, { failedLogins: 0, lockedUntil: null, lastLoginAt: now });
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  await store.adminSessions.create({ id: sha256(token), adminId: admin.id, csrfToken, expiresAt: new Date(now.getTime() + ADMIN_SESSION_SECONDS * 1000) });
  await store.audit.record({ type: 'admin.login', actor: admin.email, at: now });
  return { admin, token, csrfToken };
}
