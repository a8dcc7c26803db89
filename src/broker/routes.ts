// HTTP endpoints of the login flow. Thin: each loads what it needs for its stage, calls one step, and answers with
// a redirect, an auto-POST form or a branded page. Errors become branded pages through the app's error handler.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { requireTenant, type Tenant } from '../plugins/tenant.ts';
import { page } from '../plugins/view.ts';
import { browserBinding, SESSION_COOKIE, sha256 } from './flow/browser.ts';
import { appOfFlow, completeFlow, loadOwnedFlow } from './complete-flow.ts';
import { errorResponse } from './flow/downstream-response.ts';
import { allowFormTarget } from '../plugins/content-security-policy.ts';
import { answer, flowUrl, postForm, postToApp, returnNow } from './respond.ts';
import { discover, enabledIdps, selectIdp } from './flow/select-idp.ts';
import { failAndOffer, failFlow, offerReturn, returnOffer } from './flow-failure.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import { STAGE, type FlowData } from './flow/stages.ts';
import { acceptAuthnRequest, acceptLaunch, storeFlow, type AcceptedRequest } from './start-flow.ts';
import { acceptTestConnectionResponse, loadTestResult, testResultUrl } from './test-connection.ts';
import { acceptUpstreamResponse, waitingFlow } from './upstream-response.ts';
import { sendUpstream, startUpstream, type UpstreamDispatch } from './upstream-request.ts';
import { SamlError } from '../saml/errors.ts';
import { logWith } from '../plugins/request-log.ts';

type SamlParams = { SAMLRequest?: string; RelayState?: string; idp?: string; login_hint?: string };
type HintQuery = { idp?: string; login_hint?: string };
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export async function brokerRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const dispatchUpstream = (request: FastifyRequest, reply: FastifyReply, d: UpstreamDispatch, idpName: string) =>
    d.binding === 'redirect' ? reply.redirect(d.url, 302) : postForm(request, reply, d.url, d.fields, idpName);

  /** After the app's request is accepted: ride on the broker session, or pick the IdP (or show the chooser), and go
   *  upstream. The flow is stored once, at the stage this decides. */
  async function proceed(request: FastifyRequest, reply: FastifyReply, tenant: Tenant, accepted: AcceptedRequest, idpParam?: string) {
    const { app: target, request: appRequest } = accepted;
    const flow = { appId: target.id, data: { via: accepted.via, request: appRequest, browser: accepted.browser, ...(accepted.loginHint && { loginHint: accepted.loginHint }) } satisfies FlowData };
    const token = request.cookies[SESSION_COOKIE];
    const session = token && !appRequest.forceAuthn ? await tenant.store.sessions.findActive(sha256(token), ctx.clock.now()) : null;
    if (session) {
      const stored = await storeFlow(ctx, tenant, { ...flow, stage: STAGE.upstreamVerified, sessionId: session.id, idpId: session.idpId, data: { ...flow.data, fromSession: true } });
      logWith(request, { flowId: stored.id });
      return reply.redirect(flowUrl(stored.id, 'continue'), 303);
    }
    // The app asked for no page, and only a login page could serve it: answer at once, nothing to store.
    if (appRequest.isPassive) return postToApp(request, reply, await errorResponse(ctx, tenant, target, appRequest, 'NoPassive', 'No sign-in session exists and the application asked not to show any page.'));
    let choice;
    try {
      choice = await selectIdp(tenant, target, { idp: idpParam, email: accepted.loginHint });
    } catch (err) {
      // No IdP at all: the flow starts failed, so that the app hears back (NoAvailableIDP) like any other failure.
      if (err instanceof AppError && err.code === 'no_identity_provider') {
        const failed = await storeFlow(ctx, tenant, { ...flow, stage: STAGE.failed, data: { ...flow.data, failure: { code: err.code, message: err.message, subStatus: 'NoAvailableIDP' } } });
        logWith(request, { flowId: failed.id });
        offerReturn(request, returnOffer(failed, target.name));
      }
      throw err;
    }
    if ('choices' in choice) {
      const stored = await storeFlow(ctx, tenant, { ...flow, stage: STAGE.received });
      logWith(request, { flowId: stored.id });
      return reply.redirect(flowUrl(stored.id, 'idp'), 303);
    }
    const upstream = await startUpstream(ctx, tenant, flow, choice.idp);
    logWith(request, { flowId: upstream.flowId });
    return dispatchUpstream(request, reply, upstream, choice.idp.name);
  }

  // Stage 1: the app's AuthnRequest, HTTP-Redirect binding.
  app.get<{ Querystring: SamlParams }>('/saml/idp/sso', async (request, reply) => {
    const tenant = requireTenant(request);
    const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    const started = await acceptAuthnRequest(ctx, tenant, { binding: 'redirect', samlRequest: str(request.query.SAMLRequest), relayState: str(request.query.RelayState), rawQuery, browser: browserBinding(request, reply, ctx.config), loginHint: request.query.login_hint });
    return proceed(request, reply, tenant, started, str(request.query.idp));
  });

  // Stage 1: the app's AuthnRequest, HTTP-POST binding.
  app.post<{ Body: SamlParams; Querystring: HintQuery }>('/saml/idp/sso', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = request.body ?? {};
    const started = await acceptAuthnRequest(ctx, tenant, { binding: 'post', samlRequest: str(body.SAMLRequest), relayState: str(body.RelayState), browser: browserBinding(request, reply, ctx.config), loginHint: body.login_hint ?? request.query.login_hint });
    return proceed(request, reply, tenant, started, str(request.query.idp) ?? str(body.idp));
  });

  // An app's launch link: unsolicited login to that app.
  app.get<{ Params: { appId: string }; Querystring: HintQuery }>('/apps/:appId/launch', async (request, reply) => {
    const tenant = requireTenant(request);
    const started = await acceptLaunch(tenant, request.params.appId, browserBinding(request, reply, ctx.config), request.query.login_hint);
    return proceed(request, reply, tenant, started, str(request.query.idp));
  });

  // Stage 2: the IdP chooser, with home-realm discovery: a typed email goes to the IdP that owns its domain.
  async function chooserPage(request: FastifyRequest, reply: FastifyReply, tenant: Tenant, flow: LoginFlow<FlowData>, email: string, note: string | null) {
    const target = await appOfFlow(tenant, flow);
    const choices = await idpsOrFail(request, tenant, flow, target.name);
    // The chooser's form posts here, and the answer redirects (or auto-POSTs) to the chosen IdP: CSP's form-action
    // also governs that redirect, so every listed IdP's SSO origin is allowed on this page.
    for (const idp of choices) allowFormTarget(reply, idp.ssoUrl);
    return page(request, reply, 'chooser', { title: 'Choose how to sign in', flowId: flow.id, appName: target.name, email, note, choices: choices.map((i) => ({ id: i.id, name: i.name })) });
  }

  /** The organisation's enabled IdPs; none left (all disabled while the flow waited) fails the flow (NoAvailableIDP). */
  async function idpsOrFail(request: FastifyRequest, tenant: Tenant, flow: LoginFlow<FlowData>, appName: string) {
    try {
      return await enabledIdps(tenant);
    } catch (err) {
      if (err instanceof AppError && err.code === 'no_identity_provider') {
        const failed = await failFlow(tenant, flow, { code: err.code, message: err.message, subStatus: 'NoAvailableIDP' });
        if (failed) offerReturn(request, returnOffer(failed, appName));
      }
      throw err;
    }
  }

  app.get<{ Params: { id: string } }>('/flow/:id/idp', async (request, reply) => {
    const tenant = requireTenant(request);
    const flow = await loadOwnedFlow(ctx, tenant, request, reply, request.params.id, [STAGE.received]);
    return chooserPage(request, reply, tenant, flow, flow.data.loginHint ?? '', null);
  });

  app.post<{ Params: { id: string }; Body: { idpId?: string; email?: string } }>('/flow/:id/idp', async (request, reply) => {
    const tenant = requireTenant(request);
    const flow = await loadOwnedFlow(ctx, tenant, request, reply, request.params.id, [STAGE.received]);
    const idpId = str(request.body?.idpId);
    const typed = str(request.body?.email);
    let idp;
    if (!idpId && typed !== undefined) {
      // Only this organisation's enabled IdPs are candidates; the address only picks one of them.
      const found = discover(await idpsOrFail(request, tenant, flow, (await appOfFlow(tenant, flow)).name), typed);
      if (!('idp' in found)) return chooserPage(request, reply, tenant, flow, found.shown, found.note);
      idp = found.idp;
    } else {
      // Only this organisation's enabled IdPs can be chosen, whatever the form says.
      idp = idpId ? await tenant.store.identityProviders.findById(idpId) : null;
      if (!idp || !idp.enabled) throw new AppError(400, 'unknown_idp', 'Choose one of the listed sign-in options.');
    }
    return dispatchUpstream(request, reply, await sendUpstream(ctx, tenant, flow, idp), idp.name);
  });

  // Stage 4: the upstream IdP's Response.
  app.post<{ Body: { SAMLResponse?: string; RelayState?: string } }>('/saml/sp/acs', async (request, reply) => {
    const tenant = requireTenant(request);
    const samlResponse = str(request.body?.SAMLResponse);
    const relayState = str(request.body?.RelayState);
    const flow = await waitingFlow(ctx, tenant, relayState);
    if (flow) logWith(request, { flowId: flow.id });
    // An admin's "Test connection" ends on its own result page: it never signs anyone in.
    if (flow?.data.via === 'test') return reply.redirect(testResultUrl((await acceptTestConnectionResponse(ctx, tenant, flow, samlResponse)).flowId), 303);
    try {
      const result = await acceptUpstreamResponse(ctx, tenant, { samlResponse, relayState, flow });
      if (!flow) logWith(request, { flowId: result.flowId }); // an IdP-initiated login's new flow
      return reply.redirect(flowUrl(result.flowId, 'continue'), 303);
    } catch (err) {
      if (err instanceof SamlError) {
        request.log.warn({ code: err.code, diagnosis: err.diagnosis }, 'upstream response rejected'); // org: bound to the request's logger
        ctx.metrics.upstreamErrors.inc({ org: tenant.org.slug, code: err.code });
        await tenant.store.audit.record({ type: 'login.upstream_rejected', outcome: 'failure', code: err.code, at: ctx.clock.now(), details: err.diagnosis, ...(flow && { flowId: flow.id, appId: flow.appId ?? undefined, idpId: flow.idpId ?? undefined }) });
        // The flow this Response was for ends here; its browser can take the app its error Response from the page.
        if (flow) await failAndOffer(tenant, request, flow, { code: err.code, message: err.message, subStatus: 'AuthnFailed' });
      }
      throw err;
    }
  });

  // The outcome of a test connection, for the admin's browser that started it (SameSite=Lax binding cookie: the
  // Strict admin cookie does not come back on this navigation, which follows the IdP's cross-site POST).
  app.get<{ Params: { id: string } }>('/flow/:id/test-result', async (request, reply) => {
    const tenant = requireTenant(request);
    const { idp, result } = await loadTestResult(ctx, tenant, request, request.params.id);
    return page(request, reply, 'admin/idps/test-result', { title: `Test connection: ${result.outcome === 'success' ? 'success' : 'failed'}`, wide: true, idp, result });
  });

  // A failed flow's "Return to <app>" button: the app's signed error Response, once, for the flow's own browser.
  app.post<{ Params: { id: string } }>('/flow/:id/return', async (request, reply) => {
    const tenant = requireTenant(request);
    const flow = await loadOwnedFlow(ctx, tenant, request, reply, request.params.id, [STAGE.failed]);
    return returnNow(ctx, request, reply, tenant, flow);
  });

  // Stages 5–8: user, policy, response.
  app.get<{ Params: { id: string } }>('/flow/:id/continue', async (request, reply) => {
    const tenant = requireTenant(request);
    const flow = await loadOwnedFlow(ctx, tenant, request, reply, request.params.id, [STAGE.upstreamVerified]);
    return answer(ctx, request, reply, tenant, await completeFlow(ctx, tenant, flow, request));
  });
}
