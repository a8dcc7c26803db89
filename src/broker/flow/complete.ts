// Stage `completed`. The only way there is through `issue`, which is reached either from a policy that allows
// without a second factor (continue.ts), or from the `mfa_done` stage, which only a verified code can set
// (second-factor.ts). The flow moves to `completed` by compare-and-set before the Response is built: one flow yields
// at most one Response, on any node.
import { pooledRandomBytes } from '../../crypto/random-ids.ts';
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { Application } from '../../store/applications.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import type { AuditInput } from '../../store/audit.ts';
import type { User } from '../../store/users.ts';
import { SESSION_COOKIE } from './browser.ts';
import { sha256 } from '../../crypto/hash.ts';
import { postToApp, successResponse, type PostToApp } from './downstream-response.ts';
import { returnOffer, returnToApp } from './fail.ts';
import { appOfFlow, expired } from './load.ts';
import { flowUrl, page, redirect, type Answer, type Hop } from './outcome.ts';
import { sessionExpiry } from './session-expiry.ts';
import { inBackground, newDeviceMessage } from '../../mail/notify.ts';
import { STAGE, type FlowData } from './stages.ts';

/** How a login step ended: the Response for the app, a refusal (continue.ts), or on to the second factor. */
export type Completion =
  | { kind: 'respond'; post: PostToApp; newSessionToken?: string }
  | { kind: 'denied'; code: string; message: string; flow: LoginFlow<FlowData>; appName: string }
  | { kind: 'mfa'; flowId: string }
  /** a sign-in to the account page: its new broker session, and on to /account */
  | { kind: 'account'; newSessionToken: string };

/** Where an account sign-in ends (account/routes.ts serves it). */
export const ACCOUNT_PATH = '/account';

/** What the browser gets: the auto-POST form to the app (and the broker-session cookie when one started), the
 *  denied page (with a "Return to <app>" button, see fail.ts), or the second-factor page. */
export async function answer(ctx: AppContext, tenant: Tenant, hop: Hop, outcome: Completion): Promise<Answer> {
  if (outcome.kind === 'mfa') return redirect(flowUrl(outcome.flowId, 'mfa'));
  if (outcome.kind === 'account') {
    hop.cookies.push({
      name: SESSION_COOKIE,
      value: outcome.newSessionToken,
      maxAgeSeconds: tenant.org.sessionTtlSeconds,
    });
    return redirect(ACCOUNT_PATH);
  }
  if (outcome.kind === 'denied') {
    // The app asked for no page at all (IsPassive): its error Response goes at once.
    if (outcome.flow.data.failure?.subStatus === 'NoPassive') return returnToApp(ctx, tenant, outcome.flow);
    return page(
      'denied',
      {
        title: 'Access denied',
        message: outcome.message,
        code: outcome.code,
        returnTo: returnOffer(outcome.flow, outcome.appName),
      },
      403,
    );
  }
  if (outcome.newSessionToken)
    hop.cookies.push({
      name: SESSION_COOKIE,
      value: outcome.newSessionToken,
      maxAgeSeconds: tenant.org.sessionTtlSeconds,
    });
  return postToApp(outcome.post);
}

/** A code verified in this request, at `mfa_verify` (see second-factor.ts): its audit line, written with the flow's move. */
export interface VerifiedNow {
  audit: AuditInput;
}

/** → `completed` after a second factor verified in this flow: at `mfa_done` (enrolment confirmed, recovery codes
 *  shown), or at `mfa_verify` with the verification of this very request (`now`), whose audit line is written with
 *  the session and the flow's move. `loaded`: the flow's user when the caller has just read it. */
export async function completeAfterMfa(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  device: string | undefined,
  loaded?: User,
  now?: VerifiedNow,
): Promise<Completion> {
  const verified = flow.stage === STAGE.mfaDone || (flow.stage === STAGE.mfaVerify && now !== undefined);
  if (!verified || !flow.userId) throw expired();
  const app = await appOfFlow(tenant, flow);
  const user = loaded?.id === flow.userId ? loaded : await tenant.store.users.findById(flow.userId);
  if (!user || user.status !== 'active') throw expired();
  return issue(ctx, tenant, flow, app, user, {
    mfaNow: true,
    alsoRecord: now?.audit,
    device: { known: flow.data.mfa?.knownDevice ?? true, label: device },
  });
}

/** A new broker session for the flow's upstream login: its token (the cookie) and the write that stores it. */
function newSession(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, user: User, mfaAt: Date | null) {
  const token = pooledRandomBytes(32).toString('base64url');
  const id = sha256(token);
  const upstream = flow.data.upstream!;
  const stored = tenant.store.sessions.create({
    id,
    userId: user.id,
    idpId: flow.idpId!,
    nameId: upstream.nameId,
    upstreamSessionIndex: upstream.sessionIndex ?? null,
    upstreamIdToken: upstream.idTokenSealed ?? null,
    nameIdFormat: upstream.nameIdFormat ?? null,
    nameQualifier: upstream.nameQualifier ?? null,
    spNameQualifier: upstream.spNameQualifier ?? null,
    mfaAt,
    expiresAt: sessionExpiry(ctx.clock.now(), tenant.org.sessionTtlSeconds, upstream),
  });
  return { token, id, stored };
}

/** `completed` for a sign-in to the account page (stages.ts, `via: 'account'`): a broker session starts, no app
 *  hears of it. The account page itself asks for a fresh second factor before any change (account/service.ts). */
export async function openAccount(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  user: User,
  device: string | undefined,
): Promise<Completion> {
  const now = ctx.clock.now();
  const session = newSession(ctx, tenant, flow, user, null);
  const [completed] = await Promise.all([
    tenant.store.flows.advance(flow, STAGE.completed, { userId: user.id, sessionId: session.id }),
    session.stored,
  ]);
  if (!completed) throw expired();
  await Promise.all([
    tenant.store.users.signedIn(user.id, now),
    tenant.store.audit.record({
      flowId: flow.id,
      idpId: flow.idpId ?? undefined,
      type: 'account.signed_in',
      userId: user.id,
      at: now,
      details: { ...(device && { device }) },
    }),
  ]);
  return { kind: 'account', newSessionToken: session.token };
}

/** The browser of a sign-in: `label` what a person recognises it by ("Chrome on Linux", account/device-label.ts;
 *  in the audit line and the e-mail), `known` whether it was one the user had signed in on (continue.ts): a new broker
 *  session from an unknown one sends the new-device e-mail when the organisation asks for it. */
export interface SignInDevice {
  known: boolean;
  label: string | undefined;
}

export async function issue(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  app: Application,
  user: User,
  opts: { mfaNow: boolean; alsoRecord?: AuditInput; device?: SignInDevice },
): Promise<Completion> {
  const now = ctx.clock.now();
  let sessionId = flow.sessionId;
  let newSessionToken: string | undefined;
  // Written together with the flow's move (on PostgreSQL at once, on separate connections; on SQLite in one commit).
  const alongside: Promise<unknown>[] = [];
  if (!sessionId) {
    const session = newSession(ctx, tenant, flow, user, opts.mfaNow ? now : null);
    newSessionToken = session.token;
    sessionId = session.id;
    alongside.push(session.stored);
  } else if (opts.mfaNow) {
    alongside.push(tenant.store.sessions.markMfa(sessionId, now));
  }
  if (opts.alsoRecord) alongside.push(tenant.store.audit.record(opts.alsoRecord));
  // A racing duplicate loses here (its session row, if any, is never handed out and simply expires). Only the winner
  // goes on to sign a Response.
  const [completed] = await Promise.all([
    tenant.store.flows.advance(flow, STAGE.completed, { userId: user.id, sessionId }),
    ...alongside,
  ]);
  if (!completed) throw expired();
  const post = await successResponse(
    ctx,
    tenant,
    app,
    flow.data.request,
    user,
    flow.data.profile ?? { firstName: null, lastName: null, groups: [] },
    now,
  );
  // Independent writes: on PostgreSQL they travel on separate connections at once.
  await Promise.all([
    tenant.store.sessions.addApp(sessionId, app.id, post.nameId, post.sessionIndex),
    tenant.store.users.signedIn(user.id, now),
    tenant.store.audit.record({
      flowId: flow.id,
      appId: app.id,
      idpId: flow.idpId ?? undefined,
      type: 'login.success',
      userId: user.id,
      at: now,
      details: {
        via: flow.data.via,
        fromSession: !!flow.data.fromSession,
        secondFactor: opts.mfaNow,
        ...(opts.device?.label && { device: opts.device.label }),
      },
    }),
  ]);
  ctx.metrics.logins.inc({ org: tenant.org.slug, outcome: 'success' });
  if (newSessionToken && opts.device && !opts.device.known && tenant.org.notifyNewDevice && ctx.mailer.enabled) {
    // In the background: the Response goes to the app now, whatever the relay does (the outcome is audited).
    const { idpId } = flow;
    const browser = opts.device.label?.slice(0, 200) || null;
    inBackground(
      ctx,
      tenant.store,
      async () => {
        const idp = idpId ? await tenant.store.identityProviders.findById(idpId) : null;
        return newDeviceMessage(ctx, tenant.org, user, {
          at: now,
          appName: app.name,
          idpName: idp?.name ?? null,
          browser,
        });
      },
      { userId: user.id },
    );
  }
  return { kind: 'respond', post, ...(newSessionToken && { newSessionToken }) };
}
