// The console's overview: counts with links to each section, the last 30 days as charts (overview.ts), and the
// organisation's URLs with copy buttons.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { buildOverview } from '../overview.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

export async function homePages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.get('/admin', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const [idps, apps, userCount, overview] = await Promise.all([tenant.store.identityProviders.list(), tenant.store.applications.list(), tenant.store.users.count(), buildOverview(tenant.store, ctx.clock.now())]);
    return adminPage(request, reply, 'admin/home', 'home', { title: 'Admin console', urls: tenant.urls, idpCount: idps.length, appCount: apps.length, userCount, overview });
  });
}
