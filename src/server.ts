// Process entry: read config, migrate, listen, and close gracefully on SIGINT/SIGTERM (drain, then finish in-flight
// requests: src/lifecycle.ts).
// With WORKERS > 1 this process is the primary of a node.js cluster: it migrates, runs the background tasks and
// keeps WORKERS broker processes listening on the shared port (the kernel hands connections out among them). The
// workers hold no state of their own beyond the configuration cache, exactly like separate nodes on one database.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { pino } from 'pino';
import { buildApp } from './app.ts';
import { bootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig, type Config } from './config/config.ts';
import type { AppContext } from './context.ts';
import { orgUrls } from './orgs/urls.ts';
import { promoteDueKeys } from './orgs/hosted/key-rollover.ts';
import { refreshDueMetadata } from './orgs/remote/metadata-refresh.ts';
import { closeConnectionsWhileDraining, shutdownOnSignals } from './lifecycle.ts';
import { every, type TaskLog } from './scheduler.ts';

/** Asked by a worker's /metrics, answered by the primary with the sum over every worker. */
type MetricsMessage = { type: 'broker:metrics'; id: number; text?: string; error?: string };

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  return runNode(config, cluster.isWorker);
}

/** Each task reports only when it did something, so quiet nodes keep quiet logs. */
function backgroundTasks(ctx: AppContext, log: TaskLog) {
  const { config } = ctx;
  return [
    every(
      config.purgeIntervalSeconds,
      'purge',
      async () => {
        const removed = await ctx.store.system.purgeExpired(ctx.clock.now());
        return Object.values(removed).some((n) => n > 0) ? { removed } : null;
      },
      log,
    ),
    every(
      config.lifecycleIntervalSeconds,
      'key promotion',
      async () => {
        const promoted = await promoteDueKeys(ctx, ctx.clock.now());
        return promoted.length ? { promoted } : null;
      },
      log,
    ),
    every(
      config.lifecycleIntervalSeconds,
      'metadata refresh',
      async () => {
        const summary = await refreshDueMetadata(ctx, ctx.clock.now());
        return summary.due ? { ...summary } : null;
      },
      log,
    ),
  ];
}

async function readyMessage(ctx: AppContext) {
  const orgs = await ctx.store.organizations.list();
  const root = `${ctx.config.publicScheme}://${ctx.config.baseDomain}`;
  return orgs.length
    ? ([{ organizations: orgs.map((o) => orgUrls(ctx.config, o.slug).login) }, 'broker ready'] as const)
    : ([{ welcome: root }, `broker ready: open ${root} to create the first organisation`] as const);
}

/** One broker process: the whole node (WORKERS=1), or a cluster worker (the primary migrated and runs the tasks). */
async function runNode(config: Config, worker: boolean) {
  // A single process checkpoints SQLite from its own thread; in a cluster the primary does it for every worker.
  const { ctx, appliedMigrations, warnings } = await bootstrap(config, {
    processMetrics: true,
    skipMigrations: worker,
    checkpoints: worker ? 'elsewhere' : 'thread',
  });
  if (worker) collectFromPrimary(ctx);
  const app = await buildApp(ctx);
  if (!worker) for (const w of warnings) app.log.warn(`\n\n  !!! ${w}\n`);
  if (appliedMigrations.length) app.log.info({ appliedMigrations }, 'database migrations applied');
  const stopTasks = worker ? [] : backgroundTasks(ctx, app.log);

  // Drain on SIGTERM/SIGINT, then close (src/lifecycle.ts). In a cluster each worker drains the same way: the
  // primary forwards the signal.
  closeConnectionsWhileDraining(app, ctx.lifecycle!);
  shutdownOnSignals({
    app,
    lifecycle: ctx.lifecycle!,
    log: app.log,
    drainMs: config.shutdownDrainMs,
    timeoutMs: config.shutdownTimeoutMs,
    stopTasks: () => {
      for (const stop of stopTasks) stop();
    },
    closeStore: () => ctx.store.close(),
  });

  await app.listen({ host: config.host, port: config.port });
  if (!worker) {
    const [fields, message] = await readyMessage(ctx);
    app.log.info(fields, message);
  }
}

/** In a worker, /metrics shows the whole node: the worker asks the primary, which sums every worker's registry. */
function collectFromPrimary(ctx: AppContext) {
  // Constructing an AggregatorRegistry is what makes prom-client answer the primary's requests in this worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([ctx.metrics.registry]);
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let next = 0;
  process.on('message', (m: MetricsMessage) => {
    if (m?.type !== 'broker:metrics') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.text !== undefined) w?.resolve(m.text);
    else w?.reject(new Error(m.error ?? 'the primary did not answer'));
  });
  ctx.metrics.exposition = () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      // A primary that never answers must not hold the scrape (and its entry here) forever.
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer within 10 s'));
      }, 10_000);
      const settle =
        <T>(fn: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          fn(v);
        };
      waiting.set(id, { resolve: settle(resolve), reject: settle(reject) });
      process.send!({ type: 'broker:metrics', id } satisfies MetricsMessage);
    });
}

async function runPrimary(config: Config) {
  const log = pino({ level: config.logLevel });
  const { ctx, appliedMigrations, warnings } = await bootstrap(config, { checkpoints: 'thread' });
  for (const w of warnings) log.warn(`\n\n  !!! ${w}\n`);
  if (appliedMigrations.length) log.info({ appliedMigrations }, 'database migrations applied');
  const stopTasks = backgroundTasks(ctx, log);
  const aggregator = new AggregatorRegistry();
  let closing = false;

  const start = () => {
    const worker = cluster.fork();
    worker.on('message', (m: MetricsMessage) => {
      if (m?.type !== 'broker:metrics') return;
      aggregator.clusterMetrics().then(
        (text) =>
          worker.isConnected() && worker.send({ type: 'broker:metrics', id: m.id, text } satisfies MetricsMessage),
        (err: Error) =>
          worker.isConnected() &&
          worker.send({ type: 'broker:metrics', id: m.id, error: err.message } satisfies MetricsMessage),
      );
    });
    return worker;
  };
  // A worker that dies is replaced (after a pause, so a worker that cannot start does not spin).
  cluster.on('exit', (worker: Worker, code, signal) => {
    if (closing) return;
    log.error({ worker: worker.process.pid, code, signal }, 'broker worker exited; starting another');
    setTimeout(() => !closing && start(), 1000).unref();
  });
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === config.workers)
      void readyMessage(ctx).then(([o, m]) => log.info({ ...o, workers: config.workers }, m));
  });
  for (let i = 0; i < config.workers; i++) start();

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info(
      { signal, drainSeconds: config.shutdownDrainMs / 1000 },
      'shutting down: each worker drains, then finishes its in-flight requests',
    );
    const timer = setTimeout(() => {
      log.error('shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs + 1000);
    timer.unref();
    for (const stop of stopTasks) stop();
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    await ctx.store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
