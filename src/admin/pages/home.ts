// The console's overview: counts with links to each section, and the organisation's URLs with copy buttons.
import type { FastifyInstance } from 'fastify';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

export async function homePages(app: FastifyInstance) {
  app.get('/admin', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const [idps, apps, userCount] = await Promise.all([tenant.store.identityProviders.list(), tenant.store.applications.list(), tenant.store.users.count()]);
    return adminPage(request, reply, 'admin/home', 'home', { title: 'Admin console', urls: tenant.urls, idpCount: idps.length, appCount: apps.length, userCount });
  });
}
