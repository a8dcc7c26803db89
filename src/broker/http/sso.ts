// Where a login starts: an app's AuthnRequest (HTTP-Redirect or HTTP-POST binding), an app's launch link, or an
// OpenID Connect IdP's third-party initiated login.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { SESSION_COOKIE } from '../flow/browser.ts';
import { startFromInitiate } from '../flow/oidc-initiate.ts';
import { startFromLaunch, startFromRequest } from '../flow/start.ts';
import { browserTokenOf, rawQueryOf, render, str } from './render.ts';

type SamlParams = { SAMLRequest?: string; RelayState?: string; idp?: string; login_hint?: string };
type HintQuery = { idp?: string; login_hint?: string };
type InitiateParams = { iss?: string; target_link_uri?: string; login_hint?: string };

export function ssoRoutes(app: FastifyInstance, ctx: AppContext) {
  app.get<{ Querystring: SamlParams }>('/saml/idp/sso', async (request, reply) => {
    const tenant = requireTenant(request);
    const q = request.query;
    return render(
      ctx,
      request,
      reply,
      await startFromRequest(
        ctx,
        tenant,
        {
          binding: 'redirect',
          samlRequest: str(q.SAMLRequest),
          relayState: str(q.RelayState),
          rawQuery: rawQueryOf(request),
        },
        {
          browserToken: browserTokenOf(request),
          sessionToken: request.cookies[SESSION_COOKIE],
          idp: str(q.idp),
          loginHint: q.login_hint,
        },
      ),
    );
  });

  app.post<{ Body: SamlParams; Querystring: HintQuery }>('/saml/idp/sso', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = request.body ?? {};
    return render(
      ctx,
      request,
      reply,
      await startFromRequest(
        ctx,
        tenant,
        { binding: 'post', samlRequest: str(body.SAMLRequest), relayState: str(body.RelayState) },
        {
          browserToken: browserTokenOf(request),
          sessionToken: request.cookies[SESSION_COOKIE],
          idp: str(request.query.idp) ?? str(body.idp),
          loginHint: body.login_hint ?? request.query.login_hint,
        },
      ),
    );
  });

  // An app's launch link: unsolicited login to that app.
  app.get<{ Params: { appId: string }; Querystring: HintQuery }>('/apps/:appId/launch', async (request, reply) => {
    const tenant = requireTenant(request);
    return render(
      ctx,
      request,
      reply,
      await startFromLaunch(ctx, tenant, request.params.appId, {
        browserToken: browserTokenOf(request),
        sessionToken: request.cookies[SESSION_COOKIE],
        idp: str(request.query.idp),
        loginHint: request.query.login_hint,
      }),
    );
  });

  // Third-party initiated login (OpenID Connect Core 4): the IdP names itself and the app; a normal login starts.
  app.get<{ Querystring: InitiateParams }>('/oidc/initiate', async (request, reply) => {
    const q = request.query ?? {};
    return render(
      ctx,
      request,
      reply,
      await startFromInitiate(
        ctx,
        requireTenant(request),
        { iss: q.iss, targetLinkUri: q.target_link_uri, loginHint: q.login_hint },
        { browserToken: browserTokenOf(request) },
      ),
    );
  });
  app.post<{ Body: InitiateParams }>('/oidc/initiate', async (request, reply) => {
    const b = request.body ?? {};
    return render(
      ctx,
      request,
      reply,
      await startFromInitiate(
        ctx,
        requireTenant(request),
        { iss: b.iss, targetLinkUri: b.target_link_uri, loginHint: b.login_hint },
        { browserToken: browserTokenOf(request) },
      ),
    );
  });
}
