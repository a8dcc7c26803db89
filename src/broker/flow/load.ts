// Stored flows: created at the stage they start from, and loaded only at the stages a hop expects, for the browser
// that owns them.
import { pooledRandomBytes } from '../../crypto/random-ids.ts';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { Application } from '../../store/applications.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { sameBrowser } from './browser.ts';
import type { Hop } from './outcome.ts';
import type { FlowData } from './stages.ts';

export const MAX_RELAY_STATE = 1024; // generous: SAML says 80 bytes, real SPs send more

export const newFlowId = () => pooledRandomBytes(16).toString('base64url');

export const expired = () =>
  new AppError(
    'flow_not_found',
    'This sign-in has expired or was already completed. Go back to your application and sign in again.',
  );

export interface NewFlow {
  /** default: a new random id */
  id?: string;
  stage: string;
  appId: string | null;
  idpId?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  data: FlowData;
}

/** Stores a flow at the stage it starts from, expiring FLOW_TTL_SECONDS from now. */
export function storeFlow(ctx: AppContext, tenant: Tenant, flow: NewFlow): Promise<LoginFlow<FlowData>> {
  const now = ctx.clock.now();
  return tenant.store.flows.create<FlowData>({
    ...flow,
    id: flow.id ?? newFlowId(),
    expiresAt: new Date(now.getTime() + ctx.config.flowTtlSeconds * 1000),
  });
}

/** Loads a flow for the browser that owns it (`browserToken`: its binding cookie as presented). IdP-initiated flows
 *  have no owner yet: the first browser claims it. */
export async function loadOwnedFlow(
  ctx: AppContext,
  tenant: Tenant,
  hop: Hop,
  browserToken: string | undefined,
  flowId: string,
  stages: readonly string[],
): Promise<LoginFlow<FlowData>> {
  const now = ctx.clock.now();
  const flow = await tenant.store.flows.findAtStage<FlowData>(flowId, stages, now);
  if (!flow) throw expired();
  if (flow.data.browser === null && flow.data.via === 'idp_initiated') {
    // The IdP's POST could not carry our cookie; the first browser to arrive here (the one the ACS redirected)
    // claims the flow, atomically, and nobody else can continue it afterwards.
    const binding = hop.bindBrowser(browserToken);
    const claimed = await tenant.store.flows.advance(flow, flow.stage, { data: { ...flow.data, browser: binding } });
    if (!claimed) throw expired();
    return claimed;
  }
  if (!sameBrowser(browserToken, flow.data.browser))
    throw new AppError(
      'flow_browser_mismatch',
      'This sign-in was started in another browser. Start again from your application.',
    );
  return flow;
}

export async function appOfFlow(tenant: Tenant, flow: LoginFlow<FlowData>): Promise<Application> {
  const app = flow.appId ? await tenant.store.applications.findById(flow.appId) : null;
  if (!app || !app.enabled)
    throw new AppError('unknown_app', 'The application of this sign-in no longer exists or is disabled.');
  return app;
}

/** What the login opens, as pages name it: the app, or the user's account page (an account flow has no app). */
export async function targetNameOf(tenant: Tenant, flow: LoginFlow<FlowData>): Promise<string> {
  return flow.data.via === 'account' ? 'your account' : (await appOfFlow(tenant, flow)).name;
}
