// Stage `upstream_sent`: our AuthnRequest goes to the chosen IdP (signed when it wants signed requests); its ID
// is stored on the flow so the Response can be tied to it (InResponseTo). The flow id travels as RelayState.
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { buildUpstreamAuthnRequest } from '../saml/upstream/authn-request.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import { localSp } from './identities.ts';
import { STAGE, type FlowData } from './flow/stages.ts';
import { newFlowId, storeFlow, type NewFlow } from './start-flow.ts';
import { upstreamIdp } from './upstream-idp.ts';

export type UpstreamDispatch = { binding: 'redirect'; url: string } | { binding: 'post'; url: string; fields: Record<string, string> };

const dispatch = (built: ReturnType<typeof buildUpstreamAuthnRequest>): UpstreamDispatch =>
  built.binding === 'redirect' ? { binding: 'redirect', url: built.url } : { binding: 'post', url: built.url, fields: built.fields };

async function authnRequestFor(ctx: AppContext, tenant: Tenant, flowId: string, idp: IdentityProvider, forceAuthn: boolean) {
  return buildUpstreamAuthnRequest(await localSp(ctx, tenant), upstreamIdp(idp), { relayState: flowId, now: ctx.clock.now(), forceAuthn });
}

/** A new flow that goes straight to `idp`: stored once, already at `upstream_sent`. */
export async function startUpstream(ctx: AppContext, tenant: Tenant, flow: Omit<NewFlow, 'stage' | 'idpId'>, idp: IdentityProvider): Promise<UpstreamDispatch & { flowId: string }> {
  const id = newFlowId();
  const built = await authnRequestFor(ctx, tenant, id, idp, flow.data.request.forceAuthn);
  await storeFlow(ctx, tenant, { ...flow, id, stage: STAGE.upstreamSent, idpId: idp.id, data: { ...flow.data, upstreamRequestId: built.id } });
  return { ...dispatch(built), flowId: id };
}

/** A stored flow (waiting on the chooser) goes to the IdP the user picked. */
export async function sendUpstream(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, idp: IdentityProvider): Promise<UpstreamDispatch> {
  const built = await authnRequestFor(ctx, tenant, flow.id, idp, flow.data.request.forceAuthn);
  const moved = await tenant.store.flows.advance(flow, STAGE.upstreamSent, { idpId: idp.id, data: { ...flow.data, upstreamRequestId: built.id } });
  if (!moved) throw new AppError(409, 'flow_stage_mismatch', 'This sign-in was already continued elsewhere. Start again from your application.');
  return dispatch(built);
}
