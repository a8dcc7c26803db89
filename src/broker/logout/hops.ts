// Single logout as hops of the flow service (plain values in, an Outcome out, see flow/outcome.ts); the chain itself
// is single-logout.ts. The SLO endpoints take both bindings and both message kinds: a LogoutRequest starts a
// chain, a LogoutResponse answers the step the chain is waiting for. The chain page shows progress and loads the
// current participant in a hidden frame, with a refresh at its time limit; the participant's answer lands in that
// frame and sends the top page on.
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { OutgoingMessage } from '../../saml/bindings.ts';
import { SamlError } from '../../saml/errors.ts';
import { SESSION_COOKIE, sameBrowser } from '../flow/browser.ts';
import { sha256 } from '../../crypto/hash.ts';
import { MAX_RELAY_STATE } from '../flow/load.ts';
import { page, post, redirect, runHop, type Answer, type Outcome } from '../flow/outcome.ts';
import { OidcError } from '../upstream/oidc-errors.ts';
import { SingleLogout, type IncomingLogoutMessage, type LogoutStep } from './single-logout.ts';

const logoutUrl = (flowId: string) => `/logout/${encodeURIComponent(flowId)}`;

/** A logout message on its way to a peer: a redirect, or an auto-POST form naming `to`. */
const send = (message: OutgoingMessage, to: string): Answer =>
  message.binding === 'redirect'
    ? redirect(message.url, 302)
    : post({ action: message.url, fields: message.fields, target: to });

/** The browser's cookies, as presented. */
export interface LogoutVisit {
  browserToken: string | undefined;
  sessionToken: string | undefined;
}

/** /saml/idp/slo (from an app) or /saml/sp/slo (from the IdP): a LogoutRequest or a LogoutResponse. A refused
 *  message is audited and counted here. */
export function receiveLogoutMessage(
  ctx: AppContext,
  tenant: Tenant,
  input: IncomingLogoutMessage,
  visit: LogoutVisit,
): Promise<Outcome> {
  return runHop(async (hop) => {
    const { side, binding, relayState } = input;
    const slo = new SingleLogout(ctx, tenant);
    if (relayState && relayState.length > MAX_RELAY_STATE)
      throw new AppError('relay_state_too_long', `The RelayState is longer than ${MAX_RELAY_STATE} characters.`);
    let received;
    try {
      received = await slo.receive(input);
    } catch (err) {
      if (err instanceof SamlError) {
        ctx.metrics.upstreamErrors.inc({ org: tenant.org.slug, code: err.code });
        await tenant.store.audit.record({
          type: 'logout.rejected',
          outcome: 'failure',
          code: err.code,
          at: ctx.clock.now(),
          details: { from: side, ...err.diagnosis },
        });
      }
      throw err;
    }
    const { message, peer } = received;

    if (message.kind === 'response') {
      // A participant's answer, inside the chain page's frame: record it and send the top page on.
      const flowId = await slo.recordAnswer(relayState, side, message, peer.id);
      hop.allowSameOriginFraming();
      return page('logout-hop-done', { title: 'Signed out', next: logoutUrl(flowId), name: peer.name });
    }

    const started = await slo.start(side, message, peer, {
      binding,
      relayState: relayState ?? null,
      browser: hop.bindBrowser(visit.browserToken),
    });
    if (!started) {
      const answer = await slo.responseTo(
        { side, id: peer.id, name: peer.name, requestId: message.id, relayState: relayState ?? null, binding },
        'UnknownPrincipal',
        'No session of this user matches the request.',
      );
      if (answer) return send(answer, peer.name);
      return page('logout', { title: 'Signed out', finished: true, partial: false, participants: [] });
    }
    const cookie = visit.sessionToken;
    if (cookie && started.endedSessions.some((s) => s.id === sha256(cookie)))
      hop.cookies.push({ name: SESSION_COOKIE, clear: true });
    return redirect(logoutUrl(started.flow.id));
  });
}

async function ownedChain(ctx: AppContext, tenant: Tenant, browserToken: string | undefined, flowId: string) {
  const slo = new SingleLogout(ctx, tenant);
  const flow = await slo.load(flowId);
  if (!sameBrowser(browserToken, flow.data.browser))
    throw new AppError('logout_browser_mismatch', 'This sign-out was started in another browser.');
  return slo;
}

/** /logout/:id, the chain page: the next participant in a frame, or the final answer to whoever asked. */
export function showLogoutChain(
  ctx: AppContext,
  tenant: Tenant,
  visit: { flowId: string; browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const slo = await ownedChain(ctx, tenant, visit.browserToken, visit.flowId);
    const step: LogoutStep = await slo.step(visit.flowId, ctx.config.sloHopTimeoutSeconds);
    if (step.kind === 'hop' && step.hop.protocol === 'oidc') {
      // RP-initiated logout: the whole page goes to the IdP (a frame would lack its cookies); it sends the browser
      // back to /oidc/logout-callback, which brings it here for the rest of the chain.
      return redirect(await slo.oidcLogoutUrl(step.flowId), 303);
    }
    if (step.kind === 'hop') {
      // The frame opens our hop URL, which redirects to the participant's SLO URL: the frame may go there.
      const peer =
        step.hop.side === 'app'
          ? await tenant.store.applications.findById(step.hop.id)
          : await tenant.store.identityProviders.findById(step.hop.id);
      hop.allowFrame(peer?.sloUrl);
      return page('logout', {
        title: 'Signing you out',
        finished: false,
        hopName: step.hop.name,
        frame: `${logoutUrl(step.flowId)}/hop`,
        done: step.done,
        total: step.total,
        refresh: `${step.remainingSeconds};url=${logoutUrl(step.flowId)}`,
        next: logoutUrl(step.flowId),
      });
    }
    if (step.message) return send(step.message, step.chain.origin.name);
    const participants = step.chain.hops.map((h) => ({
      name: h.name,
      ok: h.outcome === 'success',
      detail: h.detail ?? null,
    }));
    return page('logout', {
      title: 'Signed out',
      finished: true,
      partial: step.status === 'PartialLogout',
      participants,
    });
  });
}

/** /oidc/logout-callback: back from an OpenID Connect IdP's end_session_endpoint; the chain page takes it on. */
export function receiveOidcLogoutReturn(
  ctx: AppContext,
  tenant: Tenant,
  visit: { state: string | undefined; browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async () => {
    const slo = new SingleLogout(ctx, tenant);
    try {
      return redirect(
        logoutUrl(
          await slo.recordOidcLogoutReturn(visit.state, (chainBrowser) =>
            sameBrowser(visit.browserToken, chainBrowser),
          ),
        ),
      );
    } catch (err) {
      if (err instanceof OidcError) {
        ctx.metrics.upstreamErrors.inc({ org: tenant.org.slug, code: err.code });
        await tenant.store.audit.record({
          type: 'logout.rejected',
          outcome: 'failure',
          code: err.code,
          at: ctx.clock.now(),
          details: { from: 'idp', ...err.diagnosis },
        });
      }
      throw err;
    }
  });
}

/** /logout/:id/hop, inside the frame: our LogoutRequest to the current participant. */
export function sendLogoutHop(
  ctx: AppContext,
  tenant: Tenant,
  visit: { flowId: string; browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const slo = await ownedChain(ctx, tenant, visit.browserToken, visit.flowId);
    hop.allowSameOriginFraming();
    return send(await slo.hopRequest(visit.flowId), 'the application');
  });
}
