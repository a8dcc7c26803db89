// The end user's account page (issue 19, self-service): what a signed-in user (a broker session) sees of their
// second factor and sign-ins, and the changes they can make. Whoever holds the session cookie can look; a change to
// the second factor itself (a new authenticator, new recovery codes) needs a fresh check of the factor first
// (FRESH_CHECK_SECONDS), so a browser left signed in is not enough to take the factor over. Revoking a remembered
// device only takes a shortcut away, so it needs none. Plain values in, plain values out; routes.ts is the edge.
import type { AppContext } from '../context.ts';
import { sha256 } from '../crypto/hash.ts';
import { AppError } from '../errors.ts';
import { devicesFor, totpFor, webauthnFor } from '../mfa/for-tenant.ts';
import type { IssuedChallenge } from '../mfa/webauthn-service.ts';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FactorStatus } from '../mfa/totp-service.ts';
import { RecoveryCodes } from '../mfa/recovery-codes.ts';
import { verifySecondFactorCode } from '../mfa/verify-code.ts';
import type { Tenant } from '../plugins/tenant.ts';
import type { BrokerSessionRow } from '../store/broker-sessions.ts';
import type { User } from '../store/users.ts';

/** How long a checked second factor lets the account page change it: long enough to scan a new key. */
export const FRESH_CHECK_SECONDS = 300;
export const RECENT_SIGN_INS = 10;

export interface Account {
  session: BrokerSessionRow;
  user: User;
}

/** The account of a broker-session cookie as presented, or null (none, ended, expired, or its user disabled). */
export async function findAccount(
  ctx: AppContext,
  tenant: Tenant,
  sessionToken: string | undefined,
): Promise<Account | null> {
  if (!sessionToken || sessionToken.length > 128) return null;
  const session = await tenant.store.sessions.findActive(sha256(sessionToken), ctx.clock.now());
  const user = session && (await tenant.store.users.findById(session.userId));
  return session && user?.status === 'active' ? { session, user } : null;
}

/** Whether the session's second factor was checked recently enough to change it. */
export function checkedRecently(ctx: AppContext, account: Account): boolean {
  const at = account.session.mfaAt;
  return !!at && ctx.clock.now().getTime() - at.getTime() <= FRESH_CHECK_SECONDS * 1000;
}

/** A change that needs a fresh check, asked for without one. A user without a factor has nothing to check. */
function requireFreshCheck(ctx: AppContext, account: Account, factor: FactorStatus, passkeys = 0) {
  if ((factor.state === 'active' || passkeys > 0) && !checkedRecently(ctx, account)) {
    throw new AppError(
      'account_check_needed',
      'For this change, first confirm it is you with your passkey, a code from your authenticator app, or a recovery code.',
    );
  }
}

export interface SignIn {
  at: Date;
  app: string;
  idp: string;
  device: string;
}

/** Everything the account page shows. */
export async function accountOverview(ctx: AppContext, tenant: Tenant, account: Account) {
  const totp = totpFor(ctx, tenant.org, tenant.store);
  const userId = account.user.id;
  const now = ctx.clock.now();
  const [factor, devices, logins, accountSignIns, apps, idps, passkeys] = await Promise.all([
    totp.status(userId),
    devicesFor(ctx, tenant.store).list(userId),
    tenant.store.audit.list({ userId, type: 'login.success', take: RECENT_SIGN_INS }),
    tenant.store.audit.list({ userId, type: 'account.signed_in', take: RECENT_SIGN_INS }),
    tenant.store.applications.list(),
    tenant.store.identityProviders.list(),
    tenant.store.webauthn.list(userId),
  ]);
  const appName = new Map(apps.map((a) => [a.id, a.name]));
  const idpName = new Map(idps.map((i) => [i.id, i.name]));
  const signIns: SignIn[] = [...logins, ...accountSignIns]
    .sort((a, b) => b.at.getTime() - a.at.getTime())
    .slice(0, RECENT_SIGN_INS)
    .map((e) => ({
      at: e.at,
      app:
        e.type === 'account.signed_in'
          ? 'Your account'
          : (e.appId && appName.get(e.appId)) || 'An application since removed',
      idp: (e.idpId && idpName.get(e.idpId)) || (e.details.fromSession ? 'Already signed in' : 'Unknown'),
      device: typeof e.details.device === 'string' ? e.details.device : 'Unknown device',
    }));
  return {
    user: account.user,
    factor,
    lockNotice: totp.notice(factor),
    recoveryCodesLeft: factor.state === 'active' || passkeys.length ? await totp.recoveryCodesLeft(userId) : 0,
    checked: checkedRecently(ctx, account),
    devices: devices
      .filter((d) => d.expiresAt > now)
      .map((d) => ({ id: d.id, label: d.label ?? 'Unnamed device', createdAt: d.createdAt, expiresAt: d.expiresAt })),
    signIns,
    passkeys: passkeys.map((c) => ({
      id: c.id,
      name: c.name,
      createdAt: c.createdAt,
      lastUsedAt: c.lastUsedAt,
      synced: c.deviceType === 'multiDevice',
    })),
  };
}

/** A code (TOTP or recovery) that makes the session's check fresh: a user with an authenticator app types either,
 *  a passkey-only user who lost their key a recovery code (spent once), so that they can add a new passkey
 *  themselves. Wrong codes count toward the same lock as at login; each refusal is audited and counted like one. */
export async function checkSecondFactor(ctx: AppContext, tenant: Tenant, account: Account, code: string) {
  const userId = account.user.id;
  try {
    const verified = await verifySecondFactorCode(ctx, tenant.org, tenant.store, userId, code.slice(0, 64));
    const now = ctx.clock.now();
    await Promise.all([
      tenant.store.sessions.markMfa(account.session.id, now),
      tenant.store.audit.record({
        type: 'mfa.verified',
        userId,
        at: now,
        details: {
          method: verified.method,
          for: 'account',
          ...(verified.method === 'recovery' && { remainingRecoveryCodes: verified.remainingRecoveryCodes }),
        },
      }),
    ]);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      ctx.metrics.totpFailures.inc({ org: tenant.org.slug, code: err.code });
      await tenant.store.audit.record({
        type: 'mfa.verify_failed',
        outcome: 'failure',
        code: err.code,
        userId,
        at: ctx.clock.now(),
        details: { for: 'account' },
      });
    }
    throw err;
  }
}

/** The new key to scan (the same one again while `sealed` still holds it). */
export async function offerNewAuthenticator(
  ctx: AppContext,
  tenant: Tenant,
  account: Account,
  sealed: string | undefined,
) {
  const totp = totpFor(ctx, tenant.org, tenant.store);
  await requireFresh(ctx, tenant, account);
  return totp.offerNewKey(account.user, account.session.id, sealed);
}

/** The new key confirmed by a code from it: recovery codes to show once when it is the user's first factor. */
export async function confirmNewAuthenticator(
  ctx: AppContext,
  tenant: Tenant,
  account: Account,
  sealed: string | undefined,
  code: string,
): Promise<string[] | null> {
  const totp = totpFor(ctx, tenant.org, tenant.store);
  const userId = account.user.id;
  await requireFresh(ctx, tenant, account);
  try {
    return await totp.confirmNewKey(userId, account.session.id, sealed, code.slice(0, 64));
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      ctx.metrics.totpFailures.inc({ org: tenant.org.slug, code: err.code });
      await tenant.store.audit.record({
        type: 'mfa.enrol_failed',
        outcome: 'failure',
        code: err.code,
        userId,
        at: ctx.clock.now(),
        details: { via: 'account' },
      });
    }
    throw err;
  }
}

// Passkey ceremonies on the account page have no login flow to keep their challenge: it is sealed for the
// organisation, user and session into a cookie of the account page, and spent once when answered (the service).
const challengeContext = (tenant: Tenant, account: Account) =>
  `account-webauthn:${tenant.org.id}:${account.user.id}:${account.session.id}`;
export const sealChallenge = (ctx: AppContext, tenant: Tenant, account: Account, challenge: IssuedChallenge) =>
  ctx.box.seal(JSON.stringify(challenge), challengeContext(tenant, account));
function openChallenge(
  ctx: AppContext,
  tenant: Tenant,
  account: Account,
  sealed: string | undefined,
): IssuedChallenge | undefined {
  try {
    return sealed
      ? (JSON.parse(ctx.box.open(sealed, challengeContext(tenant, account)).toString('utf8')) as IssuedChallenge)
      : undefined;
  } catch {
    return undefined; // another session's, or forged: refused as "no passkey request waiting"
  }
}
const passkeysOf = (ctx: AppContext, tenant: Tenant) => webauthnFor(ctx, tenant.org, tenant.store, tenant.urls.base);

/** The options (and the challenge to keep) to confirm it is the user with one of their passkeys; null without one. */
export async function passkeyCheckOptions(ctx: AppContext, tenant: Tenant, account: Account) {
  if (!(await tenant.store.webauthn.count(account.user.id))) return null;
  return passkeysOf(ctx, tenant).authenticationOptions(account.user.id);
}

/** A passkey's answer as the fresh check. */
export async function checkWithPasskey(
  ctx: AppContext,
  tenant: Tenant,
  account: Account,
  sealed: string | undefined,
  answer: AuthenticationResponseJSON,
) {
  const userId = account.user.id;
  try {
    const used = await passkeysOf(ctx, tenant).authenticate(
      userId,
      openChallenge(ctx, tenant, account, sealed),
      answer,
    );
    const now = ctx.clock.now();
    await Promise.all([
      tenant.store.sessions.markMfa(account.session.id, now),
      tenant.store.audit.record({
        type: 'mfa.verified',
        userId,
        at: now,
        details: { method: 'webauthn', credential: used.id, for: 'account' },
      }),
    ]);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      ctx.metrics.totpFailures.inc({ org: tenant.org.slug, code: err.code });
      await tenant.store.audit.record({
        type: 'mfa.verify_failed',
        outcome: 'failure',
        code: err.code,
        userId,
        at: ctx.clock.now(),
        details: { method: 'webauthn', for: 'account' },
      });
    }
    throw err;
  }
}

/** Any change to the second factor: a fresh check when the user has any factor (an app or a passkey). */
async function requireFresh(ctx: AppContext, tenant: Tenant, account: Account) {
  const userId = account.user.id;
  requireFreshCheck(
    ctx,
    account,
    await totpFor(ctx, tenant.org, tenant.store).status(userId),
    await tenant.store.webauthn.count(userId),
  );
}

/** Options to add a passkey (after a fresh check when the user has any second factor). */
export async function newPasskeyOptions(ctx: AppContext, tenant: Tenant, account: Account) {
  await requireFresh(ctx, tenant, account);
  return passkeysOf(ctx, tenant).registrationOptions(account.user);
}

/** A new passkey; recovery codes to show once when the user had none left (a first second factor), else null. */
export async function addPasskey(
  ctx: AppContext,
  tenant: Tenant,
  account: Account,
  sealed: string | undefined,
  answer: RegistrationResponseJSON,
  name: unknown,
): Promise<string[] | null> {
  await requireFresh(ctx, tenant, account);
  await passkeysOf(ctx, tenant).register(account.user, openChallenge(ctx, tenant, account, sealed), answer, name);
  const recovery = new RecoveryCodes(tenant.store, ctx.clock);
  if ((await recovery.left(account.user.id)) > 0) return null;
  const codes = await recovery.issue(account.user.id);
  await tenant.store.audit.record({
    type: 'mfa.recovery_codes_issued',
    userId: account.user.id,
    at: ctx.clock.now(),
    details: { for: 'passkey', via: 'account' },
  });
  return codes;
}

export async function renamePasskey(ctx: AppContext, tenant: Tenant, account: Account, id: string, name: unknown) {
  await requireFresh(ctx, tenant, account);
  await passkeysOf(ctx, tenant).rename(account.user.id, id, name, account.user.email);
}

export async function removePasskey(ctx: AppContext, tenant: Tenant, account: Account, id: string) {
  await requireFresh(ctx, tenant, account);
  await passkeysOf(ctx, tenant).remove(account.user.id, id, account.user.email);
}

export async function regenerateRecoveryCodes(ctx: AppContext, tenant: Tenant, account: Account): Promise<string[]> {
  const totp = totpFor(ctx, tenant.org, tenant.store);
  await requireFresh(ctx, tenant, account);
  return totp.regenerateRecoveryCodes(account.user.id);
}

/** One of the user's own remembered devices stops skipping the second factor. */
export async function revokeDevice(ctx: AppContext, tenant: Tenant, account: Account, deviceId: string) {
  const row = deviceId.length <= 64 ? await tenant.store.devices.find(deviceId) : null;
  if (!row || row.userId !== account.user.id || row.revokedAt)
    throw new AppError('device_not_found', 'That device is not remembered for your account (any more).');
  await devicesFor(ctx, tenant.store).revoke(account.user.id, row.id, account.user.email);
}
