// The upstream IdP's answer at our SAML ACS (the IdP's cross-site POST): handed to the flow service as it came.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { returnFromUpstream } from '../flow/upstream-return.ts';
import { protocolNamed } from '../upstream/registry.ts';
import { render, str } from './render.ts';

export function acsRoutes(app: FastifyInstance, ctx: AppContext) {
  app.post<{ Body: { SAMLResponse?: string; RelayState?: string } }>('/saml/sp/acs', async (request, reply) => {
    const tenant = requireTenant(request);
    return render(ctx, request, reply, await returnFromUpstream(ctx, tenant, protocolNamed('saml'), { message: str(request.body?.SAMLResponse), relayState: str(request.body?.RelayState) }));
  });
}
