// GET /metrics (any host): Prometheus text format. Optionally behind a bearer token (METRICS_TOKEN).
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { safeEqual } from '../admin/admin-session.ts';
import { FLOW_STAGES } from '../plugins/request-log.ts';

// fastify-plugin: the timing hook must see the routes of every module, not only this one's.
export const metricsPlugin = fp(async (app: FastifyInstance, { ctx }: { ctx: AppContext }) => {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route && FLOW_STAGES.has(route))
      ctx.metrics.stageSeconds.observe({ stage: `${request.method} ${route}` }, reply.elapsedTime / 1000);
  });

  app.get('/metrics', async (request, reply) => {
    const token = ctx.config.metricsToken;
    if (token && !safeEqual(String(request.headers.authorization ?? ''), `Bearer ${token}`))
      throw new AppError('metrics_unauthorized', 'A bearer token is required for /metrics.');
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.exposition();
  });
});
