// A sign-in to the account page (account/): the same login flow as for an app, through the organisation's IdP
// (`?idp=`, the only one, or the chooser), but with no app: it ends with a broker session and a redirect to
// /account (continue.ts, complete.ts `openAccount`), and never builds a Response.
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { storeFlow } from './load.ts';
import { flowUrl, redirect, runHop, type Outcome } from './outcome.ts';
import { selectIdp } from './select-idp.ts';
import { STAGE, type FlowData } from './stages.ts';
import { startUpstream, toIdp } from './to-upstream.ts';

export function startAccountLogin(
  ctx: AppContext,
  tenant: Tenant,
  arrival: { browserToken: string | undefined; idp?: string },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const data: FlowData = {
      via: 'account',
      request: { id: null, acsUrl: '', relayState: null, forceAuthn: false, isPassive: false },
      browser: hop.bindBrowser(arrival.browserToken),
    };
    const choice = await selectIdp(tenant, null, { idp: arrival.idp });
    if ('choices' in choice) {
      const stored = await storeFlow(ctx, tenant, { appId: null, stage: STAGE.received, data });
      hop.about(stored.id);
      return redirect(flowUrl(stored.id, 'idp'));
    }
    const upstream = await startUpstream(ctx, tenant, { appId: null, data }, choice.idp);
    hop.about(upstream.flowId);
    return toIdp(upstream, choice.idp.name);
  });
}
