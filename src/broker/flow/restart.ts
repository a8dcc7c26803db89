// The browser's Back button during a login: the upstream IdP's answer (its auto-POST page, or the OIDC redirect)
// comes again for a flow that has already moved on (verified, at the second factor, completed, failed). The answer
// is refused as every replay is (nothing of it is read or used), but it is not treated as an unsolicited login
// ("IdP-initiated SSO is off"), which left people on a page with no way out. The ACS cannot see our browser
// cookie (the IdP's POST is cross-site), so it only records the refusal and sends the browser to
// /flow/:id/restart; there, for the browser that owns the flow, the page says what happened in plain words and
// offers "Start again": the app's launch link, or the organisation's sign-in page when no app is known.
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { sameBrowser } from './browser.ts';
import { expired, MAX_RELAY_STATE } from './load.ts';
import { redirect, runHop, type Answer, type Hop, type Outcome } from './outcome.ts';
import { STAGE, type FlowData } from './stages.ts';

/** The stages of a login flow that its IdP has already answered (or that went back to the chooser): an answer
 *  naming such a flow is a re-post, not a new login. */
const MOVED_ON = [
  STAGE.received,
  STAGE.upstreamVerified,
  STAGE.mfaEnrol,
  STAGE.mfaVerify,
  STAGE.mfaDone,
  STAGE.completed,
  STAGE.failed,
  STAGE.returned,
];

/** The login flow of this organisation that an answer's state names and that has moved past waiting for it, or
 *  null (an admin's test connection keeps its own handling). */
export async function movedOnFlow(
  ctx: AppContext,
  tenant: Tenant,
  relayState: string | undefined,
): Promise<LoginFlow<FlowData> | null> {
  if (!relayState || relayState.length > MAX_RELAY_STATE) return null;
  const flow = await tenant.store.flows.findAtStage<FlowData>(relayState, MOVED_ON, ctx.clock.now());
  return flow && flow.data.via !== 'test' ? flow : null;
}

/** The ACS's answer to a re-posted answer: refused (audited and counted like every refused answer), then the
 *  browser goes to the restart page. */
export async function refuseRepost(
  ctx: AppContext,
  tenant: Tenant,
  hop: Hop,
  flow: LoginFlow<FlowData>,
): Promise<Answer> {
  hop.about(flow.id);
  hop.warn(
    { code: 'flow_already_used', stage: flow.stage },
    'upstream answer posted again for a flow that has moved on',
  );
  ctx.metrics.upstreamErrors.inc({ org: tenant.org.slug, code: 'flow_already_used' });
  await tenant.store.audit.record({
    type: 'login.upstream_rejected',
    outcome: 'failure',
    code: 'flow_already_used',
    at: ctx.clock.now(),
    flowId: flow.id,
    appId: flow.appId ?? undefined,
    idpId: flow.idpId ?? undefined,
    details: { stage: flow.stage },
  });
  return redirect(`/flow/${encodeURIComponent(flow.id)}/restart`);
}

/** GET /flow/:id/restart: for the browser that owns the flow, "already completed or restarted" and Start again;
 *  anyone else gets the usual "expired" page (a flow id alone tells nothing). */
export function showRestart(
  ctx: AppContext,
  tenant: Tenant,
  input: { flowId: string; browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await tenant.store.flows.findAtStage<FlowData>(input.flowId, MOVED_ON, ctx.clock.now());
    if (!flow || flow.data.via === 'test' || !sameBrowser(input.browserToken, flow.data.browser)) throw expired();
    hop.about(flow.id);
    hop.offer({
      appName: '',
      answerable: false,
      action: '',
      loginUrl: '/login',
      startAgainUrl: await startAgainUrl(tenant, flow),
    });
    throw new AppError(
      'flow_already_used',
      "This sign-in was already completed or restarted, so the answer from your identity provider cannot be used again (this happens after the browser's Back button). Start again to sign in.",
    );
  });
}

/** Where "Start again" goes: the app's launch link (an unsolicited login to the same app), the account page for
 *  an account sign-in, else the organisation's sign-in page. Paths on this organisation's own host only. */
async function startAgainUrl(tenant: Tenant, flow: LoginFlow<FlowData>): Promise<string> {
  if (flow.data.via === 'account') return '/account';
  const app = flow.appId ? await tenant.store.applications.findById(flow.appId) : null;
  return app?.enabled ? `/apps/${encodeURIComponent(app.id)}/launch` : '/login';
}
