// The organisation's login page: branding, the admin's message, and the apps a user can start a login to.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { page } from '../../plugins/view.ts';

export async function portalRoutes(app: FastifyInstance, _opts: { ctx: AppContext }) {
  app.get('/login', async (request, reply) => {
    const tenant = requireTenant(request);
    const apps = (await tenant.store.applications.list()).filter((a) => a.enabled).map((a) => ({ name: a.name, launchUrl: tenant.urls.appLaunch(a.id) }));
    return page(request, reply, 'login', { apps });
  });
}
