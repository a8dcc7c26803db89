// Process entry: read config, migrate, listen, and close gracefully on SIGINT/SIGTERM (finish in-flight requests).
import { buildApp } from './app.ts';
import { bootstrap } from './bootstrap.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import { orgUrls } from './orgs/urls.ts';
import { promoteDueKeys } from './orgs/key-rollover.ts';
import { refreshDueMetadata } from './orgs/metadata-refresh.ts';
import { every } from './scheduler.ts';
import { purgeExpired } from './store/purge.ts';

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
  const { ctx, appliedMigrations, warnings } = await bootstrap(config, { processMetrics: true });
  const app = await buildApp(ctx);
  for (const w of warnings) app.log.warn(`\n\n  !!! ${w}\n`);
  if (appliedMigrations.length) app.log.info({ appliedMigrations }, 'database migrations applied');

  // Each task reports only when it did something, so quiet nodes keep quiet logs.
  const stopTasks = [
    every(config.purgeIntervalSeconds, 'purge', async () => {
      const removed = await purgeExpired(ctx.store.db, ctx.clock.now());
      return Object.values(removed).some((n) => n > 0) ? { removed } : null;
    }, app.log),
    every(config.lifecycleIntervalSeconds, 'key promotion', async () => {
      const promoted = await promoteDueKeys(ctx, ctx.clock.now());
      return promoted.length ? { promoted } : null;
    }, app.log),
    every(config.lifecycleIntervalSeconds, 'metadata refresh', async () => {
      const summary = await refreshDueMetadata(ctx, ctx.clock.now());
      return summary.due ? { ...summary } : null;
    }, app.log),
  ];

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const timer = setTimeout(() => { app.log.error('shutdown timed out'); process.exit(1); }, config.shutdownTimeoutMs);
    timer.unref();
    for (const stop of stopTasks) stop();
    await app.close();
    await ctx.store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ host: config.host, port: config.port });
  const orgs = await ctx.store.organizations.list();
  const root = `${config.publicScheme}://${config.baseDomain}`;
  app.log.info(orgs.length ? { organizations: orgs.map((o) => orgUrls(config, o.slug).login) } : { welcome: root }, orgs.length ? 'broker ready' : `broker ready: open ${root} to create the first organisation`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
