// HTTP endpoints of single logout (see logout/single-logout.ts for the chain). The SLO endpoints take both bindings and
// both message kinds: a LogoutRequest starts a chain, a LogoutResponse answers the step the chain is waiting for.
// The chain page shows progress and loads the current participant in a hidden frame, with a refresh at its time
// limit; the participant's answer lands in that frame and sends the top page on.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { requireTenant, type Tenant } from '../../plugins/tenant.ts';
import { page } from '../../plugins/view.ts';
import { allowFrame, allowSameOriginFraming } from '../../plugins/content-security-policy.ts';
import type { Binding, OutgoingMessage } from '../../saml/bindings.ts';
import { SamlError } from '../../saml/errors.ts';
import { cookieOptions, sameBrowser, SESSION_COOKIE, sha256 } from '../flow/browser.ts';
import { browserBinding, browserTokenOf, postForm, rawQueryOf, str } from './render.ts';
import { SingleLogout, type LogoutStep, type Side } from '../logout/single-logout.ts';
import { MAX_RELAY_STATE } from '../flow/load.ts';

type SloParams = { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string };
const logoutUrl = (flowId: string) => `/logout/${encodeURIComponent(flowId)}`;

export async function logoutRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  function send(request: FastifyRequest, reply: FastifyReply, message: OutgoingMessage, to: string) {
    return message.binding === 'redirect' ? reply.redirect(message.url, 302) : postForm(request, reply, message.url, message.fields, to);
  }

  async function handle(side: Side, binding: Binding, params: SloParams, rawQuery: string | undefined, request: FastifyRequest, reply: FastifyReply) {
    const tenant = requireTenant(request);
    const slo = new SingleLogout(ctx, tenant);
    const relayState = str(params.RelayState);
    if (relayState && relayState.length > MAX_RELAY_STATE) throw new AppError(400, 'relay_state_too_long', `The RelayState is longer than ${MAX_RELAY_STATE} characters.`);
    let received;
    try {
      received = await slo.receive({ side, binding, samlRequest: str(params.SAMLRequest), samlResponse: str(params.SAMLResponse), relayState, rawQuery });
    } catch (err) {
      if (err instanceof SamlError) {
        ctx.metrics.upstreamErrors.inc({ org: tenant.org.slug, code: err.code });
        await tenant.store.audit.record({ type: 'logout.rejected', outcome: 'failure', code: err.code, at: ctx.clock.now(), details: { from: side, ...err.diagnosis } });
      }
      throw err;
    }
    const { message, peer } = received;

    if (message.kind === 'response') {
      // A participant's answer, inside the chain page's frame: record it and send the top page on.
      const flowId = await slo.recordAnswer(relayState, side, message, peer.id);
      allowSameOriginFraming(reply);
      return page(request, reply, 'logout-hop-done', { title: 'Signed out', next: logoutUrl(flowId), name: peer.name });
    }

    const started = await slo.start(side, message, peer, { binding, relayState: relayState ?? null, browser: browserBinding(request, reply, ctx.config) });
    if (!started) {
      const answer = await slo.responseTo({ side, id: peer.id, name: peer.name, requestId: message.id, relayState: relayState ?? null, binding }, 'UnknownPrincipal', 'No session of this user matches the request.');
      if (answer) return send(request, reply, answer, peer.name);
      return page(request, reply, 'logout', { title: 'Signed out', finished: true, partial: false, participants: [] });
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (cookie && started.endedSessions.some((s) => s.id === sha256(cookie))) reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx.config));
    return reply.redirect(logoutUrl(started.flow.id), 303);
  }

  for (const [path, side] of [['/saml/idp/slo', 'app'], ['/saml/sp/slo', 'idp']] as const) {
    app.get<{ Querystring: SloParams }>(path, (request, reply) => handle(side, 'redirect', request.query, rawQueryOf(request), request, reply));
    app.post<{ Body: SloParams }>(path, (request, reply) => handle(side, 'post', request.body ?? {}, undefined, request, reply));
  }

  async function ownedChain(tenant: Tenant, request: FastifyRequest, flowId: string) {
    const slo = new SingleLogout(ctx, tenant);
    const flow = await slo.load(flowId);
    if (!sameBrowser(browserTokenOf(request), flow.data.browser)) throw new AppError(403, 'logout_browser_mismatch', 'This sign-out was started in another browser.');
    return slo;
  }

  // The chain page: the next participant in a frame, or the final answer to whoever asked.
  app.get<{ Params: { id: string } }>('/logout/:id', async (request, reply) => {
    const tenant = requireTenant(request);
    const slo = await ownedChain(tenant, request, request.params.id);
    const step: LogoutStep = await slo.step(request.params.id, ctx.config.sloHopTimeoutSeconds);
    if (step.kind === 'hop') {
      // The frame opens our hop URL, which redirects to the participant's SLO URL: the frame may go there.
      const peer = step.hop.side === 'app' ? await tenant.store.applications.findById(step.hop.id) : await tenant.store.identityProviders.findById(step.hop.id);
      allowFrame(reply, peer?.sloUrl);
      return page(request, reply, 'logout', {
        title: 'Signing you out', finished: false, hopName: step.hop.name, frame: `${logoutUrl(step.flowId)}/hop`,
        done: step.done, total: step.total, refresh: `${step.remainingSeconds};url=${logoutUrl(step.flowId)}`, next: logoutUrl(step.flowId),
      });
    }
    if (step.message) return send(request, reply, step.message, step.chain.origin.name);
    const participants = step.chain.hops.map((h) => ({ name: h.name, ok: h.outcome === 'success', detail: h.detail ?? null }));
    return page(request, reply, 'logout', { title: 'Signed out', finished: true, partial: step.status === 'PartialLogout', participants });
  });

  // Inside the frame: our LogoutRequest to the current participant.
  app.get<{ Params: { id: string } }>('/logout/:id/hop', async (request, reply) => {
    const tenant = requireTenant(request);
    const slo = await ownedChain(tenant, request, request.params.id);
    allowSameOriginFraming(reply);
    return send(request, reply, await slo.hopRequest(request.params.id), 'the application');
  });
}
