// The upstream IdP's answer at our SAML ACS (the IdP's cross-site POST) or OpenID Connect callback (a redirect):
// handed to the flow service as it came.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { returnFromUpstream } from '../flow/upstream-return.ts';
import { protocolNamed } from '../upstream/registry.ts';
import { render, str } from './render.ts';

export function acsRoutes(app: FastifyInstance, ctx: AppContext) {
  // The OpenID Connect IdP's redirect back (authorization code flow): its query, as it came, and the state (the
  // flow id we gave it). One redirect URI per organisation: the IdP is found from the flow the state names.
  app.get<{ Querystring: { state?: string } }>('/oidc/callback', async (request, reply) => {
    const tenant = requireTenant(request);
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    return render(
      ctx,
      request,
      reply,
      await returnFromUpstream(ctx, tenant, protocolNamed('oidc'), {
        message: query || undefined,
        relayState: str(request.query?.state),
      }),
    );
  });
  app.post<{ Body: { SAMLResponse?: string; RelayState?: string } }>('/saml/sp/acs', async (request, reply) => {
    const tenant = requireTenant(request);
    return render(
      ctx,
      request,
      reply,
      await returnFromUpstream(ctx, tenant, protocolNamed('saml'), {
        message: str(request.body?.SAMLResponse),
        relayState: str(request.body?.RelayState),
      }),
    );
  });
}
