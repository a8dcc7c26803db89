// /healthz: the process answers. /readyz: the database answers and its migrations are the ones this build expects;
// with REDIS_URL, Redis answers too. Each check has its own short time limit, so that a probe is answered at once
// even while a dependency is frozen, and the answer names what is wrong:
//   503 database_unreachable | database_timeout | migrations_pending (with `missing`) | redis_unreachable | redis_timeout
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import { CATALOGUE, type ErrorCode } from '../errors.ts';
import { unavailableReason } from '../store/unavailable.ts';

/** The longest a readiness check waits for one dependency (less when its own timeout setting is shorter). */
export const READY_CHECK_TIMEOUT_MS = 2000;

type Outcome<T> = { ok: true; value: T } | { ok: false; reason: 'timeout' | 'unreachable'; err?: unknown };

/** `work`, or why not within `ms`: a timer that fires first, or an error read by store/unavailable.ts (an error it
 *  does not know counts as unreachable: the check could not be done). The work itself is left to end on its own. */
async function within<T>(ms: number, work: () => Promise<T>): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: 'timeout' }), ms);
  });
  const done = work().then(
    (value): Outcome<T> => ({ ok: true, value }),
    (err: unknown): Outcome<T> => ({ ok: false, reason: unavailableReason(err) ?? 'unreachable', err }),
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const dbLimit = Math.min(READY_CHECK_TIMEOUT_MS, ctx.config.databaseStatementTimeoutMs);
  const redisLimit = Math.min(READY_CHECK_TIMEOUT_MS, ctx.config.redisCommandTimeoutMs);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    // A node that is shutting down says so here, before any dependency is asked.
    if (ctx.lifecycle?.draining)
      return reply.code(CATALOGUE.draining.status).send({ status: 'not_ready', code: 'draining' satisfies ErrorCode }); // shutting down (src/lifecycle.ts)

    const notReady = (code: string, outcome?: { err?: unknown }, extra: Record<string, unknown> = {}) => {
      request.log.warn({ err: outcome?.err, code }, 'readiness check failed');
      return reply.code(503).send({ status: 'not_ready', code, ...extra });
    };
    // Both at once: the answer never takes longer than the slower of the two limits.
    const [database, redis] = await Promise.all([
      within(dbLimit, async () => {
        await ctx.store.ping();
        return ctx.store.system.pendingMigrations();
      }),
      ctx.store.redis ? within(redisLimit, () => ctx.store.redis!.ping()) : Promise.resolve(null),
    ]);
    if (!database.ok)
      return notReady(database.reason === 'timeout' ? 'database_timeout' : 'database_unreachable', database);
    if (database.value.length) return notReady('migrations_pending', undefined, { missing: database.value });
    if (redis && !redis.ok) return notReady(redis.reason === 'timeout' ? 'redis_timeout' : 'redis_unreachable', redis);
    return { status: 'ready' };
  });
}
