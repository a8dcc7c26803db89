// Stage `upstream_sent`: the flow goes to the chosen IdP, by the IdP's protocol (upstream/registry.ts); the id of
// the request is stored on the flow so the answer can be tied to it (SAML: InResponseTo).
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import type { UpstreamDispatch } from '../upstream/protocol.ts';
import { protocolOf } from '../upstream/registry.ts';
import { newFlowId, storeFlow, type NewFlow } from './load.ts';
import { post, redirect, type Answer } from './outcome.ts';
import { STAGE, type FlowData } from './stages.ts';

/** The browser's way to the IdP: a redirect, or an auto-POST form naming it. */
export const toIdp = (d: UpstreamDispatch, idpName: string): Answer =>
  d.binding === 'redirect' ? redirect(d.url, 302) : post({ action: d.url, fields: d.fields, target: idpName });

/** A new flow that goes straight to `idp`: stored once, already at `upstream_sent`. */
export async function startUpstream(
  ctx: AppContext,
  tenant: Tenant,
  flow: Omit<NewFlow, 'stage' | 'idpId'>,
  idp: IdentityProvider,
): Promise<UpstreamDispatch & { flowId: string }> {
  const id = newFlowId();
  const sent = await protocolOf(idp).start(ctx, tenant, idp, {
    flowId: id,
    forceAuthn: flow.data.request.forceAuthn,
    loginHint: flow.data.loginHint,
  });
  await storeFlow(ctx, tenant, {
    ...flow,
    id,
    stage: STAGE.upstreamSent,
    idpId: idp.id,
    data: { ...flow.data, upstreamRequestId: sent.requestId },
  });
  return { ...sent.dispatch, flowId: id };
}

/** A stored flow (waiting on the chooser) goes to the IdP the user picked; `typedEmail`: the address that picked it. */
export async function sendUpstream(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  idp: IdentityProvider,
  typedEmail?: string,
): Promise<UpstreamDispatch> {
  const sent = await protocolOf(idp).start(ctx, tenant, idp, {
    flowId: flow.id,
    forceAuthn: flow.data.request.forceAuthn,
    loginHint: typedEmail ?? flow.data.loginHint,
  });
  const moved = await tenant.store.flows.advance(flow, STAGE.upstreamSent, {
    idpId: idp.id,
    data: { ...flow.data, upstreamRequestId: sent.requestId },
  });
  if (!moved)
    throw new AppError(
      'flow_stage_mismatch',
      'This sign-in was already continued elsewhere. Start again from your application.',
    );
  return sent.dispatch;
}
