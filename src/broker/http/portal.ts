// The organisation's login page (flow/portal.ts).
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { portalPage } from '../flow/portal.ts';
import { render } from './render.ts';

export async function portalRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.get('/login', async (request, reply) => render(ctx, request, reply, await portalPage(requireTenant(request))));
}
