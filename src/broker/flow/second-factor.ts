// Stage `mfa_enrol` / `mfa_verify`: the second-factor hops of a login. Each request loads the flow at exactly these
// stages, for the browser that owns it (the cookie is SameSite=Lax, so a cross-site form cannot post here on a
// user's behalf). Only a verified code leads to the app's Response: a confirmed enrolment moves the flow to
// `mfa_done` (the recovery codes are shown, then /finish), a verified code moves it from `mfa_verify` straight to
// `completed` in the same request.
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { deviceLabel } from '../../account/device-label.ts';
import { DEVICE_COOKIE } from '../../mfa/remembered-devices.ts';
import { devicesFor, totpFor, webauthnFor } from '../../mfa/for-tenant.ts';
import { optionsForPage, parsePasskeyAnswer } from '../../mfa/webauthn-service.ts';
import { normaliseRecoveryCode, RECOVERY_CODE, RecoveryCodes } from '../../mfa/recovery-codes.ts';
import { verifySecondFactorCode } from '../../mfa/verify-code.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import type { AuditInput } from '../../store/audit.ts';
import type { User } from '../../store/users.ts';
import type { VerifyOutcome } from '../../mfa/totp-service.ts';
import { answer, completeAfterMfa } from './complete.ts';
import { failAndOffer, failureOf } from './fail.ts';
import { appOfFlow, expired, loadOwnedFlow } from './load.ts';
import { page, runHop, type Answer, type Hop, type Outcome } from './outcome.ts';
import { STAGE, type FlowData } from './stages.ts';

/** The form of the second-factor page: the code (at most 64 characters are read) or a passkey's answer (the JSON
 *  @simplewebauthn/browser made, and for a new passkey its name), and "remember this device". */
export interface CodeForm {
  code: string;
  remember: boolean;
  passkey?: string;
  passkeyName?: string;
}

const levelOf = (flow: LoginFlow<FlowData>) => flow.data.mfa?.level ?? 'totp';

const passkeysOf = (ctx: AppContext, tenant: Tenant) => webauthnFor(ctx, tenant.org, tenant.store, tenant.urls.base);

/** The passkey part of a page: the options for the browser, with a new challenge kept on the flow (the page shown
 *  last holds the only challenge that can be answered, once). */
async function passkeyOffer(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  user: { id: string; email: string },
  mode: 'register' | 'authenticate',
) {
  const passkeys = passkeysOf(ctx, tenant);
  const made =
    mode === 'register' ? await passkeys.registrationOptions(user) : await passkeys.authenticationOptions(user.id);
  const kept = await tenant.store.flows.advance(flow, flow.stage, {
    data: { ...flow.data, mfa: { ...flow.data.mfa!, challenge: made.challenge } },
  });
  if (!kept) throw expired();
  return { mode, optionsJson: optionsForPage(made.options), action: `/flow/${encodeURIComponent(flow.id)}/mfa` };
}

export interface FlowVisit {
  flowId: string;
  browserToken: string | undefined;
}

async function userOf(tenant: Tenant, flow: LoginFlow<FlowData>) {
  const user = flow.userId ? await tenant.store.users.findById(flow.userId) : null;
  if (!user) throw expired();
  return user;
}

// The enrolment page shows this flow's setup: the same key on every render, after a wrong code or a reload. After
// another flow (window, browser) took the setup over, it shows no key, only the way to start again here.
async function enrolPage(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  error: AppError | null,
  status = 200,
): Promise<Answer> {
  const user = await userOf(tenant, flow);
  const target = await appOfFlow(tenant, flow);
  const recovered = flow.data.mfa?.recovered;
  const shown = {
    title: recovered ? 'Set up a new passkey' : 'Set up two-factor authentication',
    flowId: flow.id,
    appName: target.name,
    error: error?.message ?? null,
    recovered: recovered ?? null,
  };
  if (error?.code === 'mfa_enrolment_replaced') return page('mfa-enrol-replaced', shown, status);
  // The policy decides what is offered: an authenticator app (totp), a passkey (webauthn), or both to choose (any).
  const level = levelOf(flow);
  const passkey = level === 'totp' ? null : await passkeyOffer(ctx, tenant, flow, user, 'register');
  if (level === 'webauthn') return page('mfa-enrol', { ...shown, totp: null, passkey, notice: null }, status);
  const totp = totpFor(ctx, tenant.org, tenant.store);
  const enrolment = await totp.startEnrolment(user, flow.id);
  return page(
    'mfa-enrol',
    {
      ...shown,
      passkey,
      totp: {
        email: user.email,
        qr: enrolment.qrDataUrl,
        key: enrolment.secretBase32.match(/.{1,4}/g)!.join(' '),
        digits: enrolment.digits,
      },
      notice: error?.code === 'mfa_locked' ? null : totp.notice(enrolment.status),
    },
    status,
  );
}

async function verifyPage(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  error: AppError | null,
  status = 200,
): Promise<Answer> {
  const user = await userOf(tenant, flow);
  const target = await appOfFlow(tenant, flow);
  const totp = totpFor(ctx, tenant.org, tenant.store);
  // What is offered: the factors the policy counts that the user has; with both, the user chooses on the page.
  const level = levelOf(flow);
  const factor = await totp.status(user.id);
  const codes = level !== 'webauthn' && factor.state === 'active';
  const passkey =
    level !== 'totp' && (await tenant.store.webauthn.count(user.id)) > 0
      ? await passkeyOffer(ctx, tenant, flow, user, 'authenticate')
      : null;
  // A lost key: beside the passkey, a recovery code (the app's code field takes one too, so only without it).
  const recoveryOnly =
    !codes && passkey !== null && (await new RecoveryCodes(tenant.store, ctx.clock).left(user.id)) > 0;
  return page(
    'mfa-verify',
    {
      title: 'Two-factor authentication',
      flowId: flow.id,
      appName: target.name,
      error: error?.message ?? null,
      digits: tenant.org.totpDigits,
      rememberDays: flow.data.mfa?.rememberDeviceDays ?? 0,
      codes,
      passkey,
      recoveryOnly,
      // Before the next try: locked (for how long), or one wrong code from the lock. A lock just reported is not repeated.
      notice: !codes || error?.code === 'mfa_locked' ? null : totp.notice(factor),
    },
    status,
  );
}

/** A locked second factor ends the login: the error page says so and offers "Return to <app>" (mfa_locked's SAML
 *  status in the catalogue: AuthnFailed). */
async function lockEndsFlow(tenant: Tenant, hop: Hop, flow: LoginFlow<FlowData>, err: AppError) {
  await failAndOffer(tenant, hop, flow, failureOf(err.code, err.message));
  return err;
}

/** GET /flow/:id/mfa: the enrolment page or the verification page, by the flow's stage. */
export function showSecondFactor(ctx: AppContext, tenant: Tenant, visit: FlowVisit): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await loadOwnedFlow(ctx, tenant, hop, visit.browserToken, visit.flowId, [
      STAGE.mfaEnrol,
      STAGE.mfaVerify,
    ]);
    return flow.stage === STAGE.mfaEnrol ? enrolPage(ctx, tenant, flow, null) : verifyPage(ctx, tenant, flow, null);
  });
}

/** POST /flow/:id/mfa: a code, to confirm the enrolment or to verify. `userAgent` names a remembered device. */
export function submitSecondFactor(
  ctx: AppContext,
  tenant: Tenant,
  visit: FlowVisit,
  form: CodeForm,
  userAgent: string,
): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await loadOwnedFlow(ctx, tenant, hop, visit.browserToken, visit.flowId, [
      STAGE.mfaEnrol,
      STAGE.mfaVerify,
    ]);
    const user = await userOf(tenant, flow);
    const totp = totpFor(ctx, tenant.org, tenant.store);
    const code = form.code.slice(0, 64);
    const audit = { flowId: flow.id, userId: user.id, appId: flow.appId ?? undefined, at: ctx.clock.now() };
    if (form.passkey !== undefined) return submitPasskey(ctx, tenant, hop, flow, user, form, audit, userAgent);
    // A passkey-only policy takes no app code: only a recovery code, at verification, for a lost key.
    if (
      levelOf(flow) === 'webauthn' &&
      (flow.stage === STAGE.mfaEnrol || !RECOVERY_CODE.test(normaliseRecoveryCode(code)))
    ) {
      const refused = new AppError(
        'webauthn_required',
        'This application asks for a passkey or security key (or, if you lost it, a recovery code).',
      );
      await tenant.store.audit.record({
        ...audit,
        type: flow.stage === STAGE.mfaEnrol ? 'mfa.enrol_failed' : 'mfa.verify_failed',
        outcome: 'failure',
        code: refused.code,
      });
      return flow.stage === STAGE.mfaEnrol
        ? enrolPage(ctx, tenant, flow, refused, 400)
        : verifyPage(ctx, tenant, flow, refused, 400);
    }

    if (flow.stage === STAGE.mfaEnrol) {
      let recoveryCodes: string[];
      try {
        recoveryCodes = await totp.confirmEnrolment(user.id, flow.id, code);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        ctx.metrics.totpFailures.inc({ org: tenant.org.slug, code: err.code });
        await tenant.store.audit.record({ ...audit, type: 'mfa.enrol_failed', outcome: 'failure', code: err.code });
        if (err.status === 423) throw await lockEndsFlow(tenant, hop, flow, err);
        return enrolPage(ctx, tenant, flow, err, err.code === 'mfa_enrolment_replaced' ? err.status : 400);
      }
      if (!(await tenant.store.flows.advance(flow, STAGE.mfaDone, {}))) throw expired();
      // Shown once: the codes exist nowhere else in clear.
      return page('mfa-recovery', {
        title: 'Save your recovery codes',
        flowId: flow.id,
        codes: recoveryCodes,
        orgName: tenant.org.name,
        factor: 'app',
      });
    }

    let verified: VerifyOutcome;
    try {
      verified = await verifySecondFactorCode(ctx, tenant.org, tenant.store, user.id, code);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      ctx.metrics.totpFailures.inc({ org: tenant.org.slug, code: err.code });
      await tenant.store.audit.record({ ...audit, type: 'mfa.verify_failed', outcome: 'failure', code: err.code });
      if (err.status === 423) throw await lockEndsFlow(tenant, hop, flow, err);
      return verifyPage(ctx, tenant, flow, err, 400);
    }
    if (verified.method === 'recovery' && levelOf(flow) === 'webauthn')
      return recoveredToNewPasskey(ctx, tenant, flow, verified.remainingRecoveryCodes ?? 0);
    const days = flow.data.mfa?.rememberDeviceDays ?? 0;
    if (days > 0 && form.remember) {
      const device = await devicesFor(ctx, tenant.store).remember(user.id, days, userAgent.slice(0, 200) || null);
      hop.cookies.push({ name: DEVICE_COOKIE, value: device.cookie, maxAgeSeconds: device.maxAgeSeconds });
    }
    // Straight on to the Response: the flow moves from `mfa_verify` to `completed` (compare-and-set) with the audit
    // line of this verification, so a second request with the same flow finds it moved.
    return answer(
      ctx,
      tenant,
      hop,
      await completeAfterMfa(ctx, tenant, flow, deviceLabel(userAgent), user, {
        audit: { ...audit, type: 'mfa.verified', details: { method: verified.method } },
      }),
    );
  });
}

/**
 * A recovery code at the `webauthn` level. The level means "only a factor a phishing page cannot replay", and a
 * recovery code is typed like a password: letting it stand in for the passkey would make the level no stronger than
 * `any` for whoever phished a code. Refusing it would leave a user who lost their only key with no way forward but the
 * helpdesk. So it proves who the user is, and the login goes back to the enrolment step: the app opens only after a
 * new passkey is set up in the same flow (Keycloak's "recovery code, then register a new credential"). The code is
 * spent either way; the flow moves `mfa_verify` → `mfa_enrol` by compare-and-set, so it happens once.
 */
async function recoveredToNewPasskey(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  remaining: number,
): Promise<Answer> {
  const current = await tenant.store.flows.findAtStage<FlowData>(flow.id, [STAGE.mfaVerify], ctx.clock.now());
  const moved =
    current &&
    (await tenant.store.flows.advance(current, STAGE.mfaEnrol, {
      data: { ...current.data, mfa: { ...current.data.mfa!, recovered: { remaining } } },
    }));
  if (!moved) throw expired();
  await tenant.store.audit.record({
    type: 'mfa.recovery_needs_new_passkey',
    flowId: flow.id,
    userId: flow.userId ?? undefined,
    appId: flow.appId ?? undefined,
    at: ctx.clock.now(),
    details: { remaining },
  });
  const fresh = await tenant.store.flows.findAtStage<FlowData>(flow.id, [STAGE.mfaEnrol], ctx.clock.now());
  if (!fresh) throw expired();
  return enrolPage(ctx, tenant, fresh, null);
}

/** A passkey's answer on the second-factor page: a new passkey (enrolment) or a sign-in with one (verification). A
 *  refusal shows the page again, with a new challenge; the answer's challenge is spent either way. */
async function submitPasskey(
  ctx: AppContext,
  tenant: Tenant,
  hop: Hop,
  flow: LoginFlow<FlowData>,
  user: User,
  form: CodeForm,
  audit: Omit<AuditInput, 'type'> & { at: Date },
  userAgent: string,
): Promise<Answer> {
  const passkeys = passkeysOf(ctx, tenant);
  const enrolling = flow.stage === STAGE.mfaEnrol;
  let method = 'webauthn';
  try {
    if (levelOf(flow) === 'totp')
      throw new AppError('webauthn_not_allowed', 'This application asks for a code from your authenticator app.');
    const answered = parsePasskeyAnswer(form.passkey);
    if (enrolling) {
      await passkeys.register(user, flow.data.mfa?.challenge, answered, form.passkeyName);
    } else {
      const used = await passkeys.authenticate(user.id, flow.data.mfa?.challenge, answered);
      method = `webauthn:${used.id}`;
    }
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    ctx.metrics.totpFailures.inc({ org: tenant.org.slug, code: err.code });
    await tenant.store.audit.record({
      ...audit,
      type: enrolling ? 'mfa.enrol_failed' : 'mfa.verify_failed',
      outcome: 'failure',
      code: err.code,
      details: { method: 'webauthn' },
    });
    const current = await tenant.store.flows.findAtStage<FlowData>(flow.id, [flow.stage], ctx.clock.now());
    if (!current) throw expired();
    return enrolling ? enrolPage(ctx, tenant, current, err, 400) : verifyPage(ctx, tenant, current, err, 400);
  }
  const device = deviceLabel(userAgent);
  if (enrolling) {
    // A new passkey is the factor of this login (its registration was audited). A user without recovery codes left
    // (a first factor) gets them now, shown once before the app, as after an app's setup: they cover a lost key.
    // A user who still has some (an app's, or the rest after recovering here) keeps them: on to the app at once.
    const done = await tenant.store.flows.findAtStage<FlowData>(flow.id, [STAGE.mfaEnrol], ctx.clock.now());
    const moved = done && (await tenant.store.flows.advance(done, STAGE.mfaDone, {}));
    if (!moved) throw expired();
    const recovery = new RecoveryCodes(tenant.store, ctx.clock);
    if ((await recovery.left(user.id)) === 0) {
      const codes = await recovery.issue(user.id);
      await tenant.store.audit.record({ ...audit, type: 'mfa.recovery_codes_issued', details: { for: 'passkey' } });
      return page('mfa-recovery', {
        title: 'Save your recovery codes',
        flowId: flow.id,
        codes,
        orgName: tenant.org.name,
        factor: 'passkey',
      });
    }
    return answer(ctx, tenant, hop, await completeAfterMfa(ctx, tenant, moved, device, user));
  }
  const days = flow.data.mfa?.rememberDeviceDays ?? 0;
  if (days > 0 && form.remember) {
    const remembered = await devicesFor(ctx, tenant.store).remember(user.id, days, userAgent.slice(0, 200) || null);
    hop.cookies.push({ name: DEVICE_COOKIE, value: remembered.cookie, maxAgeSeconds: remembered.maxAgeSeconds });
  }
  const current = await tenant.store.flows.findAtStage<FlowData>(flow.id, [STAGE.mfaVerify], ctx.clock.now());
  if (!current) throw expired();
  return answer(
    ctx,
    tenant,
    hop,
    await completeAfterMfa(ctx, tenant, current, device, user, {
      audit: {
        ...audit,
        type: 'mfa.verified',
        details: { method: 'webauthn', credential: method.slice('webauthn:'.length) },
      },
    }),
  );
}

/** POST /flow/:id/finish: after the recovery codes page, on to the app. */
export function finishAfterEnrolment(
  ctx: AppContext,
  tenant: Tenant,
  visit: FlowVisit,
  userAgent: string,
): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await loadOwnedFlow(ctx, tenant, hop, visit.browserToken, visit.flowId, [STAGE.mfaDone]);
    return answer(ctx, tenant, hop, await completeAfterMfa(ctx, tenant, flow, deviceLabel(userAgent)));
  });
}
