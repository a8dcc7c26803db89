// /healthz: the process answers. /readyz: the database answers and its migrations are the ones this build expects.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { readMigrations } from '../store/migrations.ts';
import { parseDatabaseUrl } from '../store/database.ts';

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const expected = readMigrations(parseDatabaseUrl(ctx.config.databaseUrl).provider).migrationDirectories.map((d) => d.path);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    try {
      const rows = await ctx.store.db.$queryRawUnsafe<{ migration_name: string }[]>(
        'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
      );
      const applied = new Set(rows.map((r) => r.migration_name));
      const missing = expected.filter((m) => !applied.has(m));
      if (missing.length) return reply.code(503).send({ status: 'not_ready', code: 'migrations_pending', missing });
      return { status: 'ready' };
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed');
      return reply.code(503).send({ status: 'not_ready', code: 'database_unreachable' });
    }
  });
}
