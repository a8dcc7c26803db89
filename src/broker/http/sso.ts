// Where a login starts: an app's AuthnRequest (HTTP-Redirect or HTTP-POST binding), or an app's launch link.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { SESSION_COOKIE } from '../flow/browser.ts';
import { startFromLaunch, startFromRequest } from '../flow/start.ts';
import { browserTokenOf, rawQueryOf, render, str } from './render.ts';

type SamlParams = { SAMLRequest?: string; RelayState?: string; idp?: string; login_hint?: string };
type HintQuery = { idp?: string; login_hint?: string };

export function ssoRoutes(app: FastifyInstance, ctx: AppContext) {
  app.get<{ Querystring: SamlParams }>('/saml/idp/sso', async (request, reply) => {
    const tenant = requireTenant(request);
    const q = request.query;
    return render(ctx, request, reply, await startFromRequest(ctx, tenant,
      { binding: 'redirect', samlRequest: str(q.SAMLRequest), relayState: str(q.RelayState), rawQuery: rawQueryOf(request) },
      { browserToken: browserTokenOf(request), sessionToken: request.cookies[SESSION_COOKIE], idp: str(q.idp), loginHint: q.login_hint }));
  });

  app.post<{ Body: SamlParams; Querystring: HintQuery }>('/saml/idp/sso', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = request.body ?? {};
    return render(ctx, request, reply, await startFromRequest(ctx, tenant,
      { binding: 'post', samlRequest: str(body.SAMLRequest), relayState: str(body.RelayState) },
      { browserToken: browserTokenOf(request), sessionToken: request.cookies[SESSION_COOKIE], idp: str(request.query.idp) ?? str(body.idp), loginHint: body.login_hint ?? request.query.login_hint }));
  });

  // An app's launch link: unsolicited login to that app.
  app.get<{ Params: { appId: string }; Querystring: HintQuery }>('/apps/:appId/launch', async (request, reply) => {
    const tenant = requireTenant(request);
    return render(ctx, request, reply, await startFromLaunch(ctx, tenant, request.params.appId,
      { browserToken: browserTokenOf(request), sessionToken: request.cookies[SESSION_COOKIE], idp: str(request.query.idp), loginHint: request.query.login_hint }));
  });
}
