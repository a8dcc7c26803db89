// "Test connection" for an upstream IdP: a real SP-initiated login from the broker (the same AuthnRequest, signed
// the same way, and the same verification of the Response at the same ACS), run by an admin. It stops after the
// verification: no user is looked up or created, no broker session starts, no app gets a response. What came back
// (or why it was refused) is stored on the flow and shown only to the browser that started the test, while the
// admin session that started it is still signed in.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { SamlError } from '../saml/errors.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import { sameBrowser } from './flow/browser.ts';
import { mapProfile, type Profile } from './upstream/profile.ts';
import { STAGE, type FlowData, type TestConnectionResult } from './flow/stages.ts';
import { diagnose, type Diagnosis } from './test-connection/diagnosis.ts';
import { startUpstream, type UpstreamDispatch } from './upstream-request.ts';
import { consumeAssertion, verifyFromIdp } from './upstream-response.ts';

export const testResultUrl = (flowId: string) => `/flow/${encodeURIComponent(flowId)}/test-result`;

/** Creates the test flow (bound to the admin's browser) and sends the AuthnRequest the way a login would. A disabled
 *  IdP can be tested: that is how an admin checks a new IdP before letting users reach it. */
export function startTestConnection(ctx: AppContext, tenant: Tenant, idp: IdentityProvider, by: { adminSessionId: string; actor: string; browser: string }): Promise<UpstreamDispatch> {
  return startUpstream(ctx, tenant, {
    appId: null,
    data: {
      via: 'test',
      request: { id: null, acsUrl: '', relayState: null, forceAuthn: false, isPassive: false },
      browser: by.browser,
      test: { adminSessionId: by.adminSessionId, actor: by.actor },
    },
  }, idp);
}

/** At the ACS, for a test flow waiting for its IdP (the flow the Response's RelayState names, see waitingFlow):
 *  verify the Response, keep the outcome on the flow, audit it, and return the flow id (the caller redirects to the
 *  result page). */
export async function acceptTestConnectionResponse(ctx: AppContext, tenant: Tenant, flow: LoginFlow<FlowData>, samlResponse: string | undefined): Promise<{ flowId: string }> {
  const now = ctx.clock.now();
  if (flow.data.via !== 'test' || !flow.data.test) throw new Error('acceptTestConnectionResponse called for a flow that is not a test');
  const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;

  let result: TestConnectionResult;
  let diagnosis: Record<string, unknown> = {};
  try {
    if (!idp) throw new SamlError('saml_wrong_issuer', 'The identity provider was deleted while the test was running.');
    if (!samlResponse) throw new SamlError('saml_malformed', 'No SAMLResponse was posted.');
    const a = await verifyFromIdp(ctx, tenant, idp, samlResponse, flow.data.upstreamRequestId ?? '', now);
    await consumeAssertion(ctx, tenant, idp, a, now);
    result = {
      outcome: 'success', at: now.toISOString(),
      success: {
        nameId: a.nameId, nameIdFormat: a.nameIdFormat ?? null, sessionIndex: a.sessionIndex ?? null, attributes: a.attributes,
        profile: mapProfile(idp, a), responseSigned: a.responseSigned, assertionSigned: a.assertionSigned,
      },
    };
  } catch (err) {
    if (!(err instanceof SamlError)) throw err;
    diagnosis = err.diagnosis;
    result = {
      outcome: 'failure', at: now.toISOString(),
      failure: diagnose(err, { spEntityId: tenant.urls.spEntityId, acsUrl: tenant.urls.spAcs, skewSeconds: ctx.config.clockSkewSeconds, idpEntityId: idp?.entityId ?? '' }),
    };
  }
  const moved = await tenant.store.flows.advance(flow, result.outcome === 'success' ? STAGE.completed : STAGE.failed, { data: { ...flow.data, test: { ...flow.data.test, result } } });
  if (!moved) throw new SamlError('saml_replayed', 'This test response was already received.');
  await tenant.store.audit.record({
    type: 'idp.test_connection', outcome: result.outcome, code: result.failure?.code, actor: flow.data.test.actor, idpId: flow.idpId ?? undefined, flowId: flow.id, at: now,
    details: result.success ? { nameId: result.success.nameId, attributes: Object.keys(result.success.attributes) } : { title: result.failure!.title, ...diagnosis },
  });
  return { flowId: flow.id };
}

/** The stored outcome, for the browser that started the test while its admin session lasts. Anyone else gets
 *  the same "not found" as for a flow that does not exist. */
export async function loadTestResult(ctx: AppContext, tenant: Tenant, request: FastifyRequest, flowId: string): Promise<{ idp: { id: string; name: string } | null; result: TestConnectionResult }> {
  const now = ctx.clock.now();
  const missing = () => new AppError(404, 'test_result_not_found', 'This test result does not exist or has expired. Run the test again from the identity provider\'s page in the admin console.');
  const flow = await tenant.store.flows.findAtStage<FlowData>(flowId, [STAGE.completed, STAGE.failed], now);
  const test = flow?.data.via === 'test' ? flow.data.test : undefined;
  if (!flow || !test?.result || !sameBrowser(request, flow.data.browser)) throw missing();
  if (!(await tenant.store.adminSessions.findActive(test.adminSessionId, now))) throw missing();
  const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;
  return { idp: idp && { id: idp.id, name: idp.name }, result: test.result };
}
