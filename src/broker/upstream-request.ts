// Stage `upstream_sent`: our AuthnRequest goes to the chosen IdP (signed when it wants signed requests); its ID
// is stored on the flow so the Response can be tied to it (InResponseTo). The flow id travels as RelayState.
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { buildUpstreamAuthnRequest } from '../saml/upstream/authn-request.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import { localSp } from './identities.ts';
import { STAGE, type FlowData } from './stages.ts';
import { upstreamIdp } from './upstream-idp.ts';

export type UpstreamDispatch = { binding: 'redirect'; url: string } | { binding: 'post'; url: string; fields: Record<string, string> };

export async function sendUpstream(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, idp: IdentityProvider): Promise<UpstreamDispatch> {
  const built = buildUpstreamAuthnRequest(await localSp(ctx, tenant), upstreamIdp(idp), { relayState: flow.id, now: ctx.clock.now(), forceAuthn: flow.data.request.forceAuthn });
  const moved = await tenant.store.flows.advance(flow, STAGE.upstreamSent, { idpId: idp.id, data: { ...flow.data, upstreamRequestId: built.id } });
  if (!moved) throw new AppError(409, 'flow_stage_mismatch', 'This sign-in was already continued elsewhere. Start again from your application.');
  return built.binding === 'redirect' ? { binding: 'redirect', url: built.url } : { binding: 'post', url: built.url, fields: built.fields };
}
