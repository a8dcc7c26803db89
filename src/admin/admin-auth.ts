// Admin sign-in: argon2id passwords, then, for an admin with two-factor sign-in, a TOTP code; a lockout after
// repeated failures of either step (see admin-lockout.ts); sessions whose cookie value is never stored (only its
// hash). Between the two steps there is no session: only a short-lived sealed ticket naming the admin, which opens
// nothing but the code form.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { hashPassword, verifyPassword } from '../orgs/passwords.ts';
import { sha256 } from '../crypto/hash.ts';
import type { AdminRow } from '../store/admins.ts';
import type { SignInAccount, SignInStore } from './sign-in-store.ts';
import { assertNotLocked, countFailedAttempt } from './admin-lockout.ts';
import { verifyAdminCode } from './admin-totp.ts';

export { ADMIN_LOCKOUT_SECONDS, ADMIN_LOCKOUT_THRESHOLD } from './admin-lockout.ts';
export const ADMIN_SESSION_SECONDS = 8 * 3600;
/** Time allowed between the password and the code. */
export const SECOND_STEP_SECONDS = 5 * 60;

// Verifying against a fixed hash when the email is unknown keeps the response time the same as for a known one.
let dummyHash: Promise<string> | undefined;

export interface AdminLogin<A extends SignInAccount = AdminRow> {
  admin: A;
  token: string;
  csrfToken: string;
}
export type SignInResult<A extends SignInAccount = AdminRow> =
  { kind: 'session'; login: AdminLogin<A> } | { kind: 'second_step'; admin: A; ticket: string };

const ticketContext = (orgId: string) => `admin-second-step:${orgId}`;

export async function signIn<A extends SignInAccount>(
  ctx: AppContext,
  store: SignInStore<A>,
  email: string,
  password: string,
): Promise<SignInResult<A>> {
  const now = ctx.clock.now();
  const admin = await store.admins.findByEmail(email);
  if (!admin) {
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(await dummyHash, password);
    throw new AppError('admin_invalid_credentials', 'The email or password is not right.');
  }
  assertNotLocked(admin, now);
  if (!(await verifyPassword(admin.passwordHash, password))) {
    await countFailedAttempt(store, admin, now);
    await store.audit.record({
      type: 'admin.login',
      outcome: 'failure',
      code: 'admin_invalid_credentials',
      actor: admin.email,
      at: now,
    });
    throw new AppError('admin_invalid_credentials', 'The email or password is not right.');
  }
  // The failure count is not reset yet when a code is still due: re-entering the password must not buy more guesses.
  if (admin.totpSecretEnc) {
    const ticket = ctx.box.seal(
      JSON.stringify({ adminId: admin.id, exp: now.getTime() + SECOND_STEP_SECONDS * 1000 }),
      ticketContext(store.orgId),
    );
    return { kind: 'second_step', admin, ticket };
  }
  return { kind: 'session', login: await startSession(ctx, store, admin) };
}

/** The admin a second-step ticket names, or null when it is missing, expired, forged or from another organisation. */
export async function ticketAdmin<A extends SignInAccount>(
  ctx: AppContext,
  store: SignInStore<A>,
  ticket: string | undefined,
): Promise<A | null> {
  if (!ticket) return null;
  try {
    const { adminId, exp } = JSON.parse(ctx.box.open(ticket, ticketContext(store.orgId)).toString('utf8')) as {
      adminId: string;
      exp: number;
    };
    if (exp <= ctx.clock.now().getTime()) return null;
    const admin = await store.admins.findById(adminId);
    return admin?.totpSecretEnc ? admin : null;
  } catch {
    return null;
  }
}

/** The second step: a current code from the admin's app opens the session. */
export async function completeSecondStep<A extends SignInAccount>(
  ctx: AppContext,
  store: SignInStore<A>,
  ticket: string | undefined,
  code: string,
): Promise<AdminLogin<A>> {
  const admin = await ticketAdmin(ctx, store, ticket);
  if (!admin)
    throw new AppError('admin_second_step_expired', 'The sign-in took too long. Enter your email and password again.');
  await verifyAdminCode(ctx, store, admin, code, 'admin.login');
  return startSession(ctx, store, admin);
}

export async function startSession<A extends SignInAccount>(
  ctx: AppContext,
  store: SignInStore<A>,
  admin: A,
): Promise<AdminLogin<A>> {
  const now = ctx.clock.now();
  await store.admins.update(admin.id, { failedLogins: 0, lockedUntil: null, lastLoginAt: now });
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  await store.adminSessions.create({
    id: sha256(token),
    adminId: admin.id,
    csrfToken,
    expiresAt: new Date(now.getTime() + ADMIN_SESSION_SECONDS * 1000),
  });
  await store.audit.record({
    type: 'admin.login',
    actor: admin.email,
    at: now,
    ...(admin.totpSecretEnc && { details: { secondFactor: 'totp' } }),
  });
  return { admin, token, csrfToken };
}
