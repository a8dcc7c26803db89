// TOTP second factor for console admins. The secret and its parameters (digits, period, algorithm: the
// organisation's settings at enrolment, so later changes only affect new enrolments, as for users) are sealed
// together in Admin.totpSecretEnc, bound to the organisation and admin. A setup in progress is not stored at all:
// it travels sealed in the enrolment form until a first valid code confirms it. Once a time step is accepted, no
// code of that step or an older one is accepted again, on any node (mfa/step-records.ts); wrong codes count toward
// the admin lockout.
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { enrolmentCode, matchingStep, newTotpSecret, type TotpParams } from '../mfa/totp-codes.ts';
import { acceptStepOnce } from '../mfa/step-records.ts';
import type { Organization } from '../store/organizations.ts';
import type { AdminRow } from '../store/admins.ts';
import type { TenantStore } from '../store/store.ts';
import { assertNotLocked, countFailedAttempt } from './admin-lockout.ts';
import type { SignInAccount, SignInStore } from './sign-in-store.ts';

/** How long a setup shown on the page may be confirmed. */
const ENROLMENT_SECONDS = 30 * 60;

interface SealedFactor extends TotpParams {
  secret: string;
}
/** The admin an enrolment is for: an existing one, or the one an invitation is about to create (its id chosen ahead). */
export type EnrollingAdmin = Pick<AdminRow, 'id' | 'email' | 'totpSecretEnc'>;
interface SealedEnrolment extends SealedFactor {
  exp: number;
}

const factorContext = (orgId: string, adminId: string) => `admin-totp:${orgId}:${adminId}`;
const enrolmentContext = (orgId: string, adminId: string) => `admin-totp-setup:${orgId}:${adminId}`;

export interface AdminEnrolment {
  /** sealed setup for the confirmation form */
  setup: string;
  secretBase32: string;
  otpauthUri: string;
  qrDataUrl: string;
  digits: number;
  period: number;
}

async function describe(
  org: Organization,
  admin: EnrollingAdmin,
  setup: string,
  factor: SealedFactor,
): Promise<AdminEnrolment> {
  const code = await enrolmentCode(`${org.name} admin`, admin.email, factor.secret, factor);
  return { setup, secretBase32: factor.secret, ...code, digits: factor.digits, period: factor.period };
}

function openEnrolment(
  ctx: AppContext,
  org: Organization,
  admin: EnrollingAdmin,
  setup: string,
): SealedEnrolment | null {
  try {
    const parsed = JSON.parse(
      ctx.box.open(setup, enrolmentContext(org.id, admin.id)).toString('utf8'),
    ) as SealedEnrolment;
    return parsed.exp > ctx.clock.now().getTime() ? parsed : null;
  } catch {
    return null;
  }
}

/** A new secret to scan, with the organisation's current TOTP parameters. Nothing is stored yet. */
export async function startAdminEnrolment(
  ctx: AppContext,
  org: Organization,
  admin: EnrollingAdmin,
): Promise<AdminEnrolment> {
  if (admin.totpSecretEnc)
    throw new AppError(
      'admin_totp_enrolled',
      'Two-factor sign-in is already set up. Remove it first to set up a new phone.',
    );
  const factor: SealedEnrolment = {
    secret: newTotpSecret(),
    digits: org.totpDigits,
    period: org.totpPeriod,
    algorithm: org.totpAlgorithm,
    exp: ctx.clock.now().getTime() + ENROLMENT_SECONDS * 1000,
  };
  return describe(org, admin, ctx.box.seal(JSON.stringify(factor), enrolmentContext(org.id, admin.id)), factor);
}

/** The setup the form carried, shown again (after a wrong code), or a fresh one when it expired or was tampered with. */
export async function resumeAdminEnrolment(
  ctx: AppContext,
  org: Organization,
  admin: EnrollingAdmin,
  setup: string,
): Promise<AdminEnrolment> {
  const factor = openEnrolment(ctx, org, admin, setup);
  return factor ? describe(org, admin, setup, factor) : startAdminEnrolment(ctx, org, admin);
}

/**
 * Checks a first code from the app against the setup and spends it (and the steps before it), so that it cannot
 * also open a sign-in. Returns the factor sealed for Admin.totpSecretEnc; storing it is the caller's.
 */
export async function checkEnrolmentCode(
  ctx: AppContext,
  store: TenantStore,
  org: Organization,
  admin: EnrollingAdmin,
  setup: string,
  code: string,
): Promise<string> {
  if (admin.totpSecretEnc) throw new AppError('admin_totp_enrolled', 'Two-factor sign-in is already set up.');
  const factor = openEnrolment(ctx, org, admin, setup);
  if (!factor)
    throw new ValidationError({ code: 'belongs to a setup that expired: scan the new QR code and enter its code' });
  const now = ctx.clock.now();
  const step = matchingStep(factor.secret, code, factor, now);
  if (step === null)
    throw new ValidationError({ code: 'is not right: check the time on your phone and enter the current code' });
  await acceptStepOnce(store.oneTimeUse, 'admin_totp_step', admin.id, step, factor.period, now);
  const { exp: _exp, ...kept } = factor;
  return ctx.box.seal(JSON.stringify(kept), factorContext(org.id, admin.id));
}

/** A factor for an account created outside the console (a platform operator, by the CLI): sealed as a confirmed
 *  one would be, with the secret to show once. Enrolment by a first code is the console's way; the CLI prints the
 *  key and the operator's first sign-in is its confirmation. */
export async function newSealedFactor(
  ctx: AppContext,
  scopeId: string,
  accountId: string,
  label: { issuer: string; account: string },
) {
  const factor: SealedFactor = { secret: newTotpSecret(), digits: 6, period: 30, algorithm: 'SHA1' };
  const code = await enrolmentCode(label.issuer, label.account, factor.secret, factor);
  return {
    totpSecretEnc: ctx.box.seal(JSON.stringify(factor), factorContext(scopeId, accountId)),
    secretBase32: factor.secret,
    otpauthUri: code.otpauthUri,
    qrDataUrl: code.qrDataUrl,
  };
}

/** Confirms the setup with a first code from the app and turns the factor on. */
export async function confirmAdminEnrolment(
  ctx: AppContext,
  store: TenantStore,
  org: Organization,
  admin: AdminRow,
  setup: string,
  code: string,
) {
  const totpSecretEnc = await checkEnrolmentCode(ctx, store, org, admin, setup, code);
  await store.admins.update(admin.id, { totpSecretEnc });
  await store.audit.record({ type: 'admin.totp_enrolled', actor: admin.email, at: ctx.clock.now() });
}

/**
 * Checks a code from the admin's app: refused while the admin is locked out, each time step accepted once, every
 * wrong or reused code counted toward the lockout and audited as a failure of `auditType`.
 */
export async function verifyAdminCode<A extends SignInAccount>(
  ctx: AppContext,
  store: SignInStore<A>,
  admin: A,
  code: string,
  auditType: string,
) {
  const now = ctx.clock.now();
  assertNotLocked(admin, now);
  if (!admin.totpSecretEnc)
    throw new AppError('admin_totp_not_enrolled', 'Two-factor sign-in is not set up for this admin.');
  const factor = JSON.parse(
    ctx.box.open(admin.totpSecretEnc, factorContext(store.orgId, admin.id)).toString('utf8'),
  ) as SealedFactor;
  const step = matchingStep(factor.secret, code, factor, now);
  const failure =
    step === null
      ? 'admin_invalid_code'
      : (await acceptStepOnce(store.oneTimeUse, 'admin_totp_step', admin.id, step, factor.period, now))
        ? null
        : 'admin_code_reused';
  if (!failure) return;
  await countFailedAttempt(store, admin, now);
  await store.audit.record({ type: auditType, outcome: 'failure', code: failure, actor: admin.email, at: now });
  throw new AppError(
    failure,
    failure === 'admin_code_reused'
      ? 'That code was already used. Wait for the next code.'
      : 'That code is not right. Check the time on your phone and try the current code.',
  );
}

/** Turns the factor off; the admin proves possession with a current code first. */
export async function removeAdminTotp(ctx: AppContext, store: TenantStore, admin: AdminRow, code: string) {
  await verifyAdminCode(ctx, store, admin, code, 'admin.totp_removed');
  await store.admins.update(admin.id, { totpSecretEnc: null });
  await store.audit.record({ type: 'admin.totp_removed', actor: admin.email, at: ctx.clock.now() });
}
