// Stages `user_resolved` → `policy` → (`mfa_enrol` | `mfa_verify` → `mfa_done`) → `completed`, run when the browser
// that started the flow comes back after the upstream login (or straight away when a broker session serves the
// app). The only way to `completed` is through `issue`, which is reached either from a policy that allows without a
// second factor, or from the `mfa_done` stage, which only a verified code can set. The flow moves to `completed` by
// compare-and-set before the Response is built: one flow yields at most one Response, on any node.
import { pooledRandomBytes } from '../crypto/random-ids.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { DEVICE_COOKIE } from '../mfa/remembered-devices.ts';
import { devicesFor, totpFor } from '../mfa/for-tenant.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { evaluatePolicy } from '../policy/engine.ts';
import { storedRules } from '../policy/rules.ts';
import type { Application } from '../store/applications.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import type { AuditInput } from '../store/audit.ts';
import type { User } from '../store/users.ts';
import { LinkRefusal } from '../users/link-refusal.ts';
import { resolveUser } from '../users/resolve-user.ts';
import { browserBinding, sameBrowser, sha256 } from './flow/browser.ts';
import { successResponse, type PostToApp } from './flow/downstream-response.ts';
import { failFlow } from './flow-failure.ts';
import { sessionExpiry } from './flow/session-expiry.ts';
import { STAGE, type ErrorSubStatus, type FlowData } from './flow/stages.ts';

export type Completion =
  | { kind: 'respond'; post: PostToApp; newSessionToken?: string }
  | { kind: 'denied'; code: string; message: string; flow: LoginFlow<FlowData>; appName: string }
  | { kind: 'mfa'; flowId: string };

export const expired = () => new AppError(410, 'flow_not_found', 'This sign-in has expired or was already completed. Go back to your application and sign in again.');

/** Loads a flow for the browser that owns it. IdP-initiated flows have no owner yet: the first browser claims it. */
export async function loadOwnedFlow(ctx: AppContext, tenant: Tenant, request: FastifyRequest, reply: FastifyReply, flowId: string, stages: readonly string[]): Promise<LoginFlow<FlowData>> {
  const now = ctx.clock.now();
  const flow = await tenant.store.flows.findAtStage<FlowData>(flowId, stages, now);
  if (!flow) throw expired();
  if (flow.data.browser === null && flow.data.via === 'idp_initiated') {
    // The IdP's POST could not carry our cookie; the first browser to arrive here (the one the ACS redirected)
    // claims the flow, atomically, and nobody else can continue it afterwards.
    const binding = browserBinding(request, reply, ctx.config);
    const claimed = await tenant.store.flows.advance(flow, flow.stage, { data: { ...flow.data, browser: binding } });
    if (!claimed) throw expired();
    return claimed;
  }
  if (!sameBrowser(request, flow.data.browser)) throw new AppError(403, 'flow_browser_mismatch', 'This sign-in was started in another browser. Start again from your application.');
  return flow;
}

export async function appOfFlow(tenant: Tenant, flow: LoginFlow<FlowData>): Promise<Application> {
  const app = flow.appId ? await tenant.store.applications.findById(flow.appId) : null;
  if (!app || !app.enabled) throw new AppError(404, 'unknown_app', 'The application of this sign-in no longer exists or is disabled.');
  return app;
}

/** After the upstream login: who is it, what does the app's policy say, and is a second factor needed now. */
export async function completeFlow(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, request: FastifyRequest): Promise<Completion> {
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
      const upstream = flow.data.upstream!;
      const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;
      if (!idp) throw expired();
      const resolved = await resolveUser(tenant.store, { idp, nameId: upstream.nameId, profile: flow.data.profile!, jitProvisioning: tenant.org.jitProvisioning });
      user = resolved.user;
      if (resolved.how !== 'linked') await tenant.store.audit.record({ ...audit, type: resolved.how === 'created' ? 'user.jit_created' : 'user.linked', userId: user.id, at: now, details: { nameId: upstream.nameId, mode: idp.linkingMode } });
    }
  } catch (err) {
    if (err instanceof LinkRefusal) await recordLinkRefusal(ctx, tenant, flow, err, audit);
    if (err instanceof AppError && err.status === 403) return deny(ctx, tenant, flow, app, err.code, err.message, 'AuthnFailed', audit);
    throw err;
  }

  // The app login policy runs for every app, also when a broker session serves it.
  const decision = evaluatePolicy(storedRules(app.policy), { user, idpId: flow.idpId ?? '', profileGroups: flow.data.profile?.groups ?? [] });
  const decisionAudit: AuditInput = { ...audit, type: 'policy.decision', userId: user.id, at: now, outcome: decision.action === 'deny' ? 'failure' : 'success', details: { action: decision.action, rule: decision.rule } };
  if (decision.action === 'deny') {
    await tenant.store.audit.record(decisionAudit);
    return deny(ctx, tenant, flow, app, decision.code, decision.message, 'RequestDenied', { ...audit, userId: user.id });
  }

  if (decision.action === 'require_totp') {
    const sessionCounts = sessionMfaAt !== null && !decision.freshFactor;
    const deviceCounts = decision.rememberDeviceDays > 0 && !decision.freshFactor && (await devicesFor(ctx, tenant.store).check(request.cookies[DEVICE_COOKIE], user.id));
    if (!sessionCounts && !deviceCounts) {
      // The app asked for no page at all: a second factor would need one.
      if (flow.data.request.isPassive) return deny(ctx, tenant, flow, app, 'mfa_required_passive', 'A second factor is needed, and the application asked not to show any page.', 'NoPassive', { ...audit, userId: user.id });
      const status = await totpFor(ctx, tenant.org, tenant.store).status(user.id);
      const stage = status.state === 'active' ? STAGE.mfaVerify : STAGE.mfaEnrol;
      const [moved] = await Promise.all([
        tenant.store.flows.advance(flow, stage, { userId: user.id, data: { ...flow.data, mfa: { rememberDeviceDays: decision.rememberDeviceDays, ruleId: decision.rule.id } } }),
        tenant.store.audit.record(decisionAudit),
      ]);
      if (!moved) throw expired();
      return { kind: 'mfa', flowId: flow.id };
    }
  }
  return issue(ctx, tenant, flow, app, user, { mfaNow: false, alsoRecord: decisionAudit });
}

/** A code verified in this request, at `mfa_verify` (see mfa-routes.ts): its audit line, written with the flow's move. */
export interface VerifiedNow { audit: AuditInput }

/** → `completed` after a second factor verified in this flow: at `mfa_done` (enrolment confirmed, recovery codes
 *  shown), or at `mfa_verify` with the verification of this very request (`now`), whose audit line is written with
 *  the session and the flow's move. `loaded`: the flow's user when the caller has just read it. */
export async function completeAfterMfa(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, loaded?: User, now?: VerifiedNow): Promise<Completion> {
  const verified = flow.stage === STAGE.mfaDone || (flow.stage === STAGE.mfaVerify && now !== undefined);
  if (!verified || !flow.userId) throw expired();
  const app = await appOfFlow(tenant, flow);
  const user = loaded?.id === flow.userId ? loaded : await tenant.store.users.findById(flow.userId);
  if (!user || user.status !== 'active') throw expired();
  return issue(ctx, tenant, flow, app, user, { mfaNow: true, alsoRecord: now?.audit });
}

async function issue(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, app: Application, user: User, opts: { mfaNow: boolean; alsoRecord?: AuditInput }): Promise<Completion> {
  const now = ctx.clock.now();
  let sessionId = flow.sessionId;
  let newSessionToken: string | undefined;
  // Written together with the flow's move (on PostgreSQL at once, on separate connections; on SQLite in one commit).
  const alongside: Promise<unknown>[] = [];
  if (!sessionId) {
    newSessionToken = pooledRandomBytes(32).toString('base64url');
    sessionId = sha256(newSessionToken);
    alongside.push(tenant.store.sessions.create({
      id: sessionId, userId: user.id, idpId: flow.idpId!, nameId: flow.data.upstream!.nameId, upstreamSessionIndex: flow.data.upstream!.sessionIndex ?? null,
      nameIdFormat: flow.data.upstream!.nameIdFormat ?? null, nameQualifier: flow.data.upstream!.nameQualifier ?? null, spNameQualifier: flow.data.upstream!.spNameQualifier ?? null,
      mfaAt: opts.mfaNow ? now : null, expiresAt: sessionExpiry(now, tenant.org.sessionTtlSeconds, flow.data.upstream!),
    }));
  } else if (opts.mfaNow) {
    alongside.push(tenant.store.sessions.markMfa(sessionId, now));
  }
  if (opts.alsoRecord) alongside.push(tenant.store.audit.record(opts.alsoRecord));
  // A racing duplicate loses here (its session row, if any, is never handed out and simply expires). Only the winner
  // goes on to sign a Response.
  const [completed] = await Promise.all([tenant.store.flows.advance(flow, STAGE.completed, { userId: user.id, sessionId }), ...alongside]);
  if (!completed) throw expired();
  const post = await successResponse(ctx, tenant, app, flow.data.request, user, flow.data.profile ?? { firstName: null, lastName: null, groups: [] }, now);
  // Independent writes: on PostgreSQL they travel on separate connections at once.
  await Promise.all([
    tenant.store.sessions.addApp(sessionId, app.id, post.nameId, post.sessionIndex),
    tenant.store.users.signedIn(user.id, now),
    tenant.store.audit.record({ flowId: flow.id, appId: app.id, idpId: flow.idpId ?? undefined, type: 'login.success', userId: user.id, at: now, details: { via: flow.data.via, fromSession: !!flow.data.fromSession, secondFactor: opts.mfaNow } }),
  ]);
  ctx.metrics.logins.inc({ org: tenant.org.slug, outcome: 'success' });
  return { kind: 'respond', post, ...(newSessionToken && { newSessionToken }) };
}

/** → `failed`: the page says why, and the app hears back from /flow/:id/return (flow-failure.ts). */
async function deny(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, app: Application, code: string, message: string, subStatus: ErrorSubStatus, audit: Record<string, string | undefined>): Promise<Completion> {
  const failed = await failFlow(tenant, flow, { code, message, subStatus });
  if (!failed) throw expired();
  ctx.metrics.logins.inc({ org: tenant.org.slug, outcome: code });
  await tenant.store.audit.record({ ...audit, type: 'login.denied', outcome: 'failure', code, at: ctx.clock.now() });
  return { kind: 'denied', code, message, flow: failed, appName: app.name };
}

/** A login its IdP's linking rules refused: audited with the existing user it aimed at (for admins only) and counted. */
async function recordLinkRefusal(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, refusal: LinkRefusal, audit: Record<string, string | undefined>) {
  ctx.metrics.linkRefusals.inc({ org: tenant.org.slug, reason: refusal.reason });
  await tenant.store.audit.record({
    ...audit, type: 'user.link_refused', outcome: 'failure', code: refusal.code, at: ctx.clock.now(),
    details: { reason: refusal.reason, mode: refusal.mode, nameId: flow.data.upstream?.nameId ?? null, email: flow.data.profile?.email ?? null, ...(refusal.existingUserId && { userId: refusal.existingUserId }) },
  });
}
