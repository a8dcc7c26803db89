// The organisation's uploaded logo, served from its own host so every page (login, chooser, second factor, console)
// can show it without a third-party request. The bytes were checked at upload; the headers keep browsers from
// reading them as anything but the stored image type.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { LOGO_PATH, logoEtag } from './logo.ts';

export async function brandingRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.get(LOGO_PATH, async (request, reply) => {
    const tenant = requireTenant(request);
    const logo = await ctx.store.organizations.logo(tenant.org.id);
    if (!logo) throw new AppError('logo_not_found', 'This organisation has no uploaded logo.');
    const etag = logoEtag(logo.bytes);
    reply
      .header('etag', etag)
      // Pages link to the logo with a version in the query string, so an hour of caching never shows an old logo
      // there; a bare /branding/logo is revalidated cheaply with the ETag.
      .header('cache-control', 'public, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'");
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.header('content-type', logo.contentType).send(logo.bytes);
  });
}
