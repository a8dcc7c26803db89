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
    const overview = await buildOverview(tenant.store, ctx.clock.now());
    const { idps: idpCount, apps: appCount, users: userCount } = overview.counts;
    return adminPage(request, reply, 'admin/home', 'home', {
      title: 'Admin console',
      urls: tenant.urls,
      idpCount,
      appCount,
      userCount,
      overview,
    });
  });
}
