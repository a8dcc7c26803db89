// The end of a test connection (start.ts): what the IdP sent back (or why it was refused) is stored on the flow and
// shown only to the browser that started the test, while the admin session that started it is still signed in.
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { SamlError } from '../../saml/errors.ts';
import { isUpstreamRefusal } from '../upstream/protocol.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { sameBrowser } from '../flow/browser.ts';
import { page, redirect, runHop, type Answer, type Outcome } from '../flow/outcome.ts';
import { STAGE, type FlowData } from '../flow/stages.ts';
import type { TestConnectionResult } from './types.ts';
import type { UpstreamReturn } from '../upstream/protocol.ts';
import { protocolOf } from '../upstream/registry.ts';
import { diagnose } from './diagnosis.ts';

export const testResultUrl = (flowId: string) => `/flow/${encodeURIComponent(flowId)}/test-result`;

/** At the upstream endpoint, for a test flow waiting for its IdP (the flow the answer's state names): verify the
 *  answer, keep the outcome on the flow, audit it, and send the browser to the result page. */
export async function receiveTestAnswer(
  ctx: AppContext,
  tenant: Tenant,
  flow: LoginFlow<FlowData>,
  returned: UpstreamReturn,
): Promise<Answer> {
  const now = ctx.clock.now();
  if (flow.data.via !== 'test' || !flow.data.test)
    throw new Error('receiveTestAnswer called for a flow that is not a test');
  const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;

  let result: TestConnectionResult;
  let diagnosis: Record<string, unknown> = {};
  try {
    if (!idp) throw new SamlError('saml_wrong_issuer', 'The identity provider was deleted while the test was running.');
    if (!returned.message) throw new SamlError('saml_malformed', 'No SAMLResponse was posted.');
    const protocol = protocolOf(idp);
    const login = await protocol.finish(
      ctx,
      tenant,
      idp,
      { ...returned, message: returned.message },
      flow.data.upstreamRequestId ?? '',
    );
    await protocol.consume(ctx, tenant, idp, login, now);
    const a = login.result;
    result = {
      outcome: 'success',
      at: now.toISOString(),
      success: {
        nameId: a.nameId,
        nameIdFormat: a.nameIdFormat ?? null,
        sessionIndex: a.sessionIndex ?? null,
        attributes: a.attributes,
        profile: login.profile,
        responseSigned: login.signed.response,
        assertionSigned: login.signed.assertion,
        ...(login.groupsOverage && { groupsOverage: login.groupsOverage }),
      },
    };
  } catch (err) {
    if (!isUpstreamRefusal(err)) throw err;
    diagnosis = err.diagnosis;
    result = {
      outcome: 'failure',
      at: now.toISOString(),
      failure: diagnose(err, {
        spEntityId: tenant.urls.spEntityId,
        acsUrl: tenant.urls.spAcs,
        skewSeconds: ctx.config.clockSkewSeconds,
        idpEntityId: idp?.entityId ?? '',
        redirectUri: tenant.urls.oidcCallback,
        nowSeconds: Math.floor(now.getTime() / 1000),
      }),
    };
  }
  const moved = await tenant.store.flows.advance(flow, result.outcome === 'success' ? STAGE.completed : STAGE.failed, {
    data: { ...flow.data, test: { ...flow.data.test, result } },
  });
  if (!moved) throw new SamlError('saml_replayed', 'This test response was already received.');
  await tenant.store.audit.record({
    type: 'idp.test_connection',
    outcome: result.outcome,
    code: result.failure?.code,
    actor: flow.data.test.actor,
    idpId: flow.idpId ?? undefined,
    flowId: flow.id,
    at: now,
    details: result.success
      ? { nameId: result.success.nameId, attributes: Object.keys(result.success.attributes) }
      : { title: result.failure!.title, ...diagnosis },
  });
  return redirect(testResultUrl(flow.id));
}

/** /flow/:id/test-result: the stored outcome, for the browser that started the test while its admin session lasts
 *  (SameSite=Lax binding cookie: the Strict admin cookie does not come back on this navigation, which follows the
 *  IdP's cross-site POST). Anyone else gets the same "not found" as for a flow that does not exist. */
export function showTestResult(
  ctx: AppContext,
  tenant: Tenant,
  visit: { flowId: string; browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async () => {
    const now = ctx.clock.now();
    const missing = () =>
      new AppError(
        'test_result_not_found',
        "This test result does not exist or has expired. Run the test again from the identity provider's page in the admin console.",
      );
    const flow = await tenant.store.flows.findAtStage<FlowData>(visit.flowId, [STAGE.completed, STAGE.failed], now);
    const test = flow?.data.via === 'test' ? flow.data.test : undefined;
    if (!flow || !test?.result || !sameBrowser(visit.browserToken, flow.data.browser)) throw missing();
    if (!(await tenant.store.adminSessions.findActive(test.adminSessionId, now))) throw missing();
    const idpRow = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;
    const idp = idpRow && { id: idpRow.id, name: idpRow.name };
    const result = test.result;
    return page('admin/idps/test-result', {
      title: `Test connection: ${result.outcome === 'success' ? 'success' : 'failed'}`,
      wide: true,
      idp,
      result,
    });
  });
}
