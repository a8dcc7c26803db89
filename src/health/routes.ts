// /healthz: the process answers. /readyz: the database answers and its migrations are the ones this build expects;
// with REDIS_URL, Redis answers too.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { pendingMigrations } from '../store/migrations.ts';
import { parseDatabaseUrl } from '../store/database.ts';

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const provider = parseDatabaseUrl(ctx.config.databaseUrl).provider;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    if (ctx.lifecycle?.draining) return reply.code(503).send({ status: 'not_ready', code: 'draining' }); // shutting down (src/lifecycle.ts)
    try {
      await ctx.store.ping();
      const missing = await pendingMigrations(ctx.store.db, provider);
      if (missing.length) return reply.code(503).send({ status: 'not_ready', code: 'migrations_pending', missing });
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed');
      return reply.code(503).send({ status: 'not_ready', code: 'database_unreachable' });
    }
    try {
      await ctx.store.redis?.ping();
      return { status: 'ready' };
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed');
      return reply.code(503).send({ status: 'not_ready', code: 'redis_unreachable' });
    }
  });
}
