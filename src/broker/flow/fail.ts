// "Return to <app>": once an app's AuthnRequest was accepted, the app hears back however the login ends. A failure
// moves the flow to `failed` (compare-and-set) with `data.failure`; the failure page then offers a button that posts
// to /flow/:id/return, which moves the flow on to `returned` (compare-and-set again: once per flow) and answers with
// the auto-POST of a signed SAML error Response to the ACS URL stored in the flow, which was checked against the
// app's registration when the request arrived and is checked again now. Only the browser that owns the flow gets
// there (loadOwnedFlow, load.ts). Unsolicited logins (launch link, IdP-initiated) have no request to answer: their
// failure pages link back to the organisation's login page instead, and no error Response is sent.
import type { AppContext } from '../../context.ts';
import { AppError, appStatusOf, type ErrorCode } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { errorResponse, postToApp } from './downstream-response.ts';
import { expired, loadOwnedFlow } from './load.ts';
import { runHop, type Answer, type Hop, type Outcome, type ReturnOffer } from './outcome.ts';

export type { ReturnOffer };
import { STAGE, type FlowData, type FlowFailure } from './stages.ts';

/** The app sent an AuthnRequest, so it waits for an answer. */
export const appIsWaiting = (data: FlowData) => data.via === 'sp_initiated' && data.request.id !== null;

export const returnOffer = (flow: LoginFlow<FlowData>, appName: string): ReturnOffer => ({
  appName,
  answerable: appIsWaiting(flow.data),
  action: `/flow/${encodeURIComponent(flow.id)}/return`,
  loginUrl: '/login',
});

/** The failure a flow keeps for its app: the SAML status comes from the code's catalogue entry. */
export const failureOf = (code: ErrorCode, message: string): FlowFailure => ({
  code,
  message,
  subStatus: appStatusOf(code).sub,
});

/** Moves the flow, from the stage it was read at, to `failed`; null when it had already moved on (a racing request,
 *  another tab), in which case nothing is recorded and nothing may be offered. */
export function failFlow(
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  failure: FlowFailure,
): Promise<LoginFlow<FlowData> | null> {
  return tenant.store.flows.advance(flow, STAGE.failed, { data: { ...flow.data, failure } });
}

/** failFlow, then the offer for the error page this hop is about to show. Flows of an admin's test connection
 *  have no app and are left alone. */
export async function failAndOffer(
  tenant: Tenant,
  hop: Hop,
  flow: LoginFlow<FlowData>,
  failure: FlowFailure,
): Promise<void> {
  if (flow.data.via === 'test' || !flow.appId) return;
  const failed = await failFlow(tenant, flow, failure);
  if (!failed) return;
  const app = await tenant.store.applications.findById(flow.appId);
  if (app?.enabled) hop.offer(returnOffer(failed, app.name));
}

/** A failed flow's signed error Response to the app, at most once (the flow had already moved on, e.g. a second
 *  click: expired). */
export async function returnToApp(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>): Promise<Answer> {
  const failure = flow.data.failure;
  if (!failure || !appIsWaiting(flow.data))
    throw new AppError(
      'flow_not_returnable',
      'The application did not ask for this sign-in, so there is nothing to send back to it. Start again from the login page.',
    );
  const app = flow.appId ? await tenant.store.applications.findById(flow.appId) : null;
  if (!app || !app.enabled)
    throw new AppError('unknown_app', 'The application of this sign-in no longer exists or is disabled.');
  // The ACS URL was checked when the request arrived; an admin may have removed it since.
  if (!app.acsUrls.includes(flow.data.request.acsUrl))
    throw new AppError(
      'saml_acs_not_registered',
      'The application no longer accepts sign-ins at the address it asked for.',
      undefined,
      409,
    ); // a conflict with the request as accepted (catalogue: saml_acs_not_registered)
  if (!(await tenant.store.flows.advance(flow, STAGE.returned, {}))) throw expired();
  await tenant.store.audit.record({
    type: 'login.returned',
    outcome: 'failure',
    code: failure.code,
    flowId: flow.id,
    appId: app.id,
    idpId: flow.idpId ?? undefined,
    userId: flow.userId ?? undefined,
    at: ctx.clock.now(),
    details: { subStatus: failure.subStatus },
  });
  return postToApp(
    await errorResponse(ctx, tenant, app, flow.data.request, appStatusOf(failure.code), failure.message),
  );
}

/** /flow/:id/return: the "Return to <app>" button of a failed flow, pressed by the flow's own browser. */
export function returnFromFailure(
  ctx: AppContext,
  tenant: Tenant,
  input: { flowId: string; browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async (hop) =>
    returnToApp(ctx, tenant, await loadOwnedFlow(ctx, tenant, hop, input.browserToken, input.flowId, [STAGE.failed])),
  );
}
