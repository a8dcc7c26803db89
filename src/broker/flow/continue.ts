// Stages `user_resolved` → `policy` → (`mfa_enrol` | `mfa_verify`, second-factor.ts) → `completed` (complete.ts),
// run when the browser that started the flow comes back after the upstream login (or straight away when a broker
// session serves the app): who is it, what does the app's policy say, and is a second factor needed now.
import { deviceLabel } from '../../account/device-label.ts';
import type { AppContext } from '../../context.ts';
import { AppError, entryOf, type ErrorCode } from '../../errors.ts';
import { devicesFor, totpFor } from '../../mfa/for-tenant.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { evaluatePolicy } from '../../policy/engine.ts';
import { storedRules } from '../../policy/rules.ts';
import type { Application } from '../../store/applications.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import type { AuditInput } from '../../store/audit.ts';
import type { User } from '../../store/users.ts';
import { LinkRefusal } from '../../users/link-refusal.ts';
import { resolveUser } from '../../users/resolve-user.ts';
import { answer, issue, openAccount, type Completion } from './complete.ts';
import { failFlow, failureOf } from './fail.ts';
import { appOfFlow, expired, loadOwnedFlow } from './load.ts';
import { runHop, type Outcome } from './outcome.ts';
import { STAGE, type FlowData } from './stages.ts';

/** GET /flow/:id/continue, after the upstream login (or a broker session): `deviceToken` is the remembered-device
 *  cookie, as presented. */
export function continueFlow(
  ctx: AppContext,
  tenant: Tenant,
  visit: { flowId: string; browserToken: string | undefined; deviceToken: string | undefined; userAgent: string },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await loadOwnedFlow(ctx, tenant, hop, visit.browserToken, visit.flowId, [STAGE.upstreamVerified]);
    const device = deviceLabel(visit.userAgent);
    if (flow.data.via === 'account')
      return answer(
        ctx,
        tenant,
        hop,
        await openAccount(ctx, tenant, flow, await accountUser(ctx, tenant, flow), device),
      );
    return answer(ctx, tenant, hop, await completeFlow(ctx, tenant, flow, visit.deviceToken, device));
  });
}

/** Who signs in to the account page: the user the IdP's login resolves to, by the same rules as a login to an app
 *  (linking, JIT). There is no app to hear of a refusal: it is audited and shown as a page. */
async function accountUser(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>): Promise<User> {
  const audit = { flowId: flow.id, idpId: flow.idpId ?? undefined };
  try {
    const { user } = await upstreamUser(ctx, tenant, flow, audit);
    if (user.status !== 'active')
      throw new AppError('user_disabled', 'This account is disabled. Ask your administrator.');
    return user;
  } catch (err) {
    if (err instanceof LinkRefusal) await recordLinkRefusal(ctx, tenant, flow, err, audit);
    if (err instanceof AppError && err.status === 403) {
      await failFlow(tenant, flow, failureOf(err.code, err.message));
      await tenant.store.audit.record({
        ...audit,
        type: 'account.sign_in_refused',
        outcome: 'failure',
        code: err.code,
        at: ctx.clock.now(),
      });
    }
    throw err;
  }
}

/** The user of the flow's upstream login (linked, linked now, or created just in time), audited when new. */
async function upstreamUser(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  audit: Record<string, string | undefined>,
) {
  const now = ctx.clock.now();
  const upstream = flow.data.upstream!;
  const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;
  if (!idp) throw expired();
  const resolved = await resolveUser(tenant.store, {
    idp,
    nameId: upstream.nameId,
    profile: flow.data.profile!,
    jitProvisioning: tenant.org.jitProvisioning,
  });
  if (resolved.how !== 'linked')
    await tenant.store.audit.record({
      ...audit,
      type: resolved.how === 'created' ? 'user.jit_created' : 'user.linked',
      userId: resolved.user.id,
      at: now,
      details: { nameId: upstream.nameId, mode: idp.linkingMode },
    });
  return resolved;
}

export async function completeFlow(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  deviceToken: string | undefined,
  device?: string,
): Promise<Completion> {
  const now = ctx.clock.now();
  const app = await appOfFlow(tenant, flow);
  const audit = { flowId: flow.id, appId: app.id, idpId: flow.idpId ?? undefined };

  let user: User;
  let sessionMfaAt: Date | null = null;
  try {
    if (flow.data.fromSession && flow.sessionId) {
      const session = await tenant.store.sessions.findActive(flow.sessionId, now);
      const found = session && (await tenant.store.users.findById(session.userId));
      if (!found) throw expired();
      user = found;
      sessionMfaAt = session.mfaAt;
    } else {
      user = (await upstreamUser(ctx, tenant, flow, audit)).user;
    }
  } catch (err) {
    if (err instanceof LinkRefusal) await recordLinkRefusal(ctx, tenant, flow, err, audit);
    // A refusal of this person (its catalogue entry has a SAML status for the app: no account, no email, linking
    // refused) ends the login on the denied page; anything else (an expired flow, an outage) is an error.
    if (err instanceof AppError && entryOf(err.code).saml)
      return deny(ctx, tenant, flow, app, err.code, err.message, audit);
    throw err;
  }

  // The app login policy runs for every app, also when a broker session serves it.
  const decision = evaluatePolicy(storedRules(app.policy), {
    user,
    idpId: flow.idpId ?? '',
    profileGroups: flow.data.profile?.groups ?? [],
  });
  const decisionAudit: AuditInput = {
    ...audit,
    type: 'policy.decision',
    userId: user.id,
    at: now,
    outcome: decision.action === 'deny' ? 'failure' : 'success',
    details: { action: decision.action, rule: decision.rule },
  };
  if (decision.action === 'deny') {
    await tenant.store.audit.record(decisionAudit);
    return deny(ctx, tenant, flow, app, decision.code, decision.message, { ...audit, userId: user.id });
  }

  // The remembered-device cookie is checked at most once, and only when something needs it: the policy (a device
  // remembered after a second factor), or the organisation's new-device e-mail (docs/email.md) for a login that opens
  // a new broker session (a sign-in at the IdP, not single sign-on).
  let deviceCheck: Promise<boolean> | undefined;
  const deviceValid = () => (deviceCheck ??= devicesFor(ctx, tenant.store).check(deviceToken, user.id));
  const knownDevice = tenant.org.notifyNewDevice && !flow.data.fromSession ? await deviceValid() : true;
  if (decision.action === 'require_totp') {
    const sessionCounts = sessionMfaAt !== null && !decision.freshFactor;
    const deviceCounts = decision.rememberDeviceDays > 0 && !decision.freshFactor && (await deviceValid());
    if (!sessionCounts && !deviceCounts) {
      // The app asked for no page at all: a second factor would need one.
      if (flow.data.request.isPassive)
        return deny(
          ctx,
          tenant,
          flow,
          app,
          'mfa_required_passive',
          'A second factor is needed, and the application asked not to show any page.',
          { ...audit, userId: user.id },
        );
      // Verify when the user has a factor the policy counts, else set one up.
      const level = decision.secondFactor;
      const hasTotp =
        level !== 'webauthn' && (await totpFor(ctx, tenant.org, tenant.store).status(user.id)).state === 'active';
      const hasPasskey = level !== 'totp' && (await tenant.store.webauthn.count(user.id)) > 0;
      const stage = hasTotp || hasPasskey ? STAGE.mfaVerify : STAGE.mfaEnrol;
      const [moved] = await Promise.all([
        tenant.store.flows.advance(flow, stage, {
          userId: user.id,
          data: {
            ...flow.data,
            mfa: { rememberDeviceDays: decision.rememberDeviceDays, ruleId: decision.rule.id, level, knownDevice },
          },
        }),
        tenant.store.audit.record(decisionAudit),
      ]);
      if (!moved) throw expired();
      return { kind: 'mfa', flowId: flow.id };
    }
  }
  return issue(ctx, tenant, flow, app, user, {
    mfaNow: false,
    alsoRecord: decisionAudit,
    device: { known: knownDevice, label: device },
  });
}

/** → `failed`: the page says why, and the app hears back from /flow/:id/return (fail.ts) with the code's SAML status. */
async function deny(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  app: Application,
  code: ErrorCode,
  message: string,
  audit: Record<string, string | undefined>,
): Promise<Completion> {
  const failed = await failFlow(tenant, flow, failureOf(code, message));
  if (!failed) throw expired();
  ctx.metrics.logins.inc({ org: tenant.org.slug, outcome: code });
  await tenant.store.audit.record({ ...audit, type: 'login.denied', outcome: 'failure', code, at: ctx.clock.now() });
  return { kind: 'denied', code, message, flow: failed, appName: app.name };
}

/** A login its IdP's linking rules refused: audited with the existing user it aimed at (for admins only) and counted. */
async function recordLinkRefusal(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  refusal: LinkRefusal,
  audit: Record<string, string | undefined>,
) {
  ctx.metrics.linkRefusals.inc({ org: tenant.org.slug, reason: refusal.reason });
  await tenant.store.audit.record({
    ...audit,
    type: 'user.link_refused',
    outcome: 'failure',
    code: refusal.code,
    at: ctx.clock.now(),
    details: {
      reason: refusal.reason,
      mode: refusal.mode,
      nameId: flow.data.upstream?.nameId ?? null,
      email: flow.data.profile?.email ?? null,
      ...(refusal.existingUserId && { userId: refusal.existingUserId }),
    },
  });
}
