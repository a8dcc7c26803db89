// HTTP endpoints of single logout: read the request, call a hop of the logout service (logout/hops.ts), render the
// outcome. The SLO endpoints take both bindings and both message kinds.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { SESSION_COOKIE } from '../flow/browser.ts';
import type { Binding } from '../../saml/bindings.ts';
import { receiveLogoutMessage, receiveOidcLogoutReturn, sendLogoutHop, showLogoutChain } from '../logout/hops.ts';
import type { Side } from '../logout/single-logout.ts';
import { browserTokenOf, rawQueryOf, render, str } from './render.ts';

type SloParams = { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string };

export async function logoutRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function receive(
    side: Side,
    binding: Binding,
    params: SloParams,
    rawQuery: string | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    const message = {
      side,
      binding,
      samlRequest: str(params.SAMLRequest),
      samlResponse: str(params.SAMLResponse),
      relayState: str(params.RelayState),
      rawQuery,
    };
    return render(
      ctx,
      request,
      reply,
      await receiveLogoutMessage(ctx, requireTenant(request), message, {
        browserToken: browserTokenOf(request),
        sessionToken: request.cookies[SESSION_COOKIE],
      }),
    );
  }

  for (const [path, side] of [
    ['/saml/idp/slo', 'app'],
    ['/saml/sp/slo', 'idp'],
  ] as const) {
    app.get<{ Querystring: SloParams }>(path, (request, reply) =>
      receive(side, 'redirect', request.query, rawQueryOf(request), request, reply),
    );
    app.post<{ Body: SloParams }>(path, (request, reply) =>
      receive(side, 'post', request.body ?? {}, undefined, request, reply),
    );
  }

  // The chain page: the next participant in a frame, or the final answer to whoever asked.
  app.get<{ Params: { id: string } }>('/logout/:id', async (request, reply) =>
    render(
      ctx,
      request,
      reply,
      await showLogoutChain(ctx, requireTenant(request), {
        flowId: request.params.id,
        browserToken: browserTokenOf(request),
      }),
    ),
  );

  // Back from an OpenID Connect IdP's end_session_endpoint (its post_logout_redirect_uri), with our state.
  app.get<{ Querystring: { state?: string } }>('/oidc/logout-callback', async (request, reply) =>
    render(
      ctx,
      request,
      reply,
      await receiveOidcLogoutReturn(ctx, requireTenant(request), {
        state: str(request.query?.state),
        browserToken: browserTokenOf(request),
      }),
    ),
  );

  // Inside the frame: our LogoutRequest to the current participant.
  app.get<{ Params: { id: string } }>('/logout/:id/hop', async (request, reply) =>
    render(
      ctx,
      request,
      reply,
      await sendLogoutHop(ctx, requireTenant(request), {
        flowId: request.params.id,
        browserToken: browserTokenOf(request),
      }),
    ),
  );
}
