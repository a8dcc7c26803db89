// A dependency that is frozen (SIGSTOP: its sockets stay open, it answers nothing, as a hung host or a partition)
// or stopped (a restart in progress) no longer holds requests: over real HTTP, against a broker on a PostgreSQL and
// a Redis of the test's own, people get the 503 "try again" page, the API a JSON 503 service_unavailable, both
// with Retry-After, within about the configured timeouts; /readyz answers at once and names the cause
// (database_timeout, database_unreachable, redis_timeout, redis_unreachable), never migrations_pending for a database
// it could not read; and everything answers again once the dependency is back.
import t from 'tap';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { bootstrap } from '../../src/bootstrap.ts';
import { configFrom } from '../../src/config/config.ts';
import type { AppContext } from '../../src/context.ts';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { createOrg, TEST_MASTER_KEY } from '../helpers/context.ts';
import { ownPostgresSkipped, startOwnPostgres, startOwnRedis, type OwnService } from '../helpers/own-services.ts';
import { redisSkipped } from '../helpers/redis.ts';

const HOST = 'piedpipers.broker.test';
/** Generous: the timeouts below are 1 s (Redis commands 0.5 s); a hung request would take as long as the freeze. */
const BOUND_MS = 5000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

function call(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  opts: { accept?: string; bearer?: string; form?: Record<string, string>; host?: string } = {},
): Promise<Answer> {
  const started = Date.now();
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host: opts.host ?? HOST,
          accept: opts.accept ?? 'text/html',
          ...(opts.bearer && { authorization: `Bearer ${opts.bearer}` }),
          ...(body && {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
          }),
        },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: text, ms: Date.now() - started }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const readyz = (port: number) => call(port, 'GET', '/readyz', { accept: 'application/json', host: 'broker.test' });

/** Polls /readyz until it says ready (a dependency that came back: the pool and the Redis client reconnect). */
async function untilReady(port: number, withinMs = 15_000): Promise<Answer> {
  const until = Date.now() + withinMs;
  let last = await readyz(port);
  while (last.status !== 200 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    last = await readyz(port);
  }
  return last;
}

async function brokerOn(
  t: Tap,
  env: Record<string, string>,
): Promise<{ ctx: AppContext; app: FastifyInstance; port: number; token: string }> {
  const config = configFrom({
    NODE_ENV: 'test',
    BASE_DOMAIN: 'broker.test',
    LOG_LEVEL: 'silent',
    DATABASE_POOL_SIZE: '3',
    // Every request reads its organisation from the database: no cached configuration hides the outage.
    CONFIG_CACHE_SECONDS: '0',
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_STATEMENT_TIMEOUT_MS: '1000',
    REDIS_CONNECT_TIMEOUT_MS: '1000',
    REDIS_COMMAND_TIMEOUT_MS: '500',
    ...env,
  });
  const { ctx } = await bootstrap(config, { masterKey: TEST_MASTER_KEY }); // migrates the database
  const org = await createOrg(ctx, 'piedpipers');
  const { token } = await createApiToken(org.store, ctx.clock, 'automation', 'test');
  const app = await buildApp(ctx, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(async () => {
    await app.close();
    await ctx.store.close();
  });
  return { ctx, app, port: (app.server.address() as AddressInfo).port, token };
}
type Tap = { teardown(fn: () => unknown): void };

function isOutagePage(
  t: { equal(...args: unknown[]): unknown; match(...args: unknown[]): unknown; ok(...args: unknown[]): unknown },
  a: Answer,
  what: string,
  retryPath?: string,
) {
  t.equal(a.status, 503, `${what}: 503`);
  t.match(String(a.headers['content-type']), /text\/html/, `${what}: a page`);
  t.match(a.body, /Temporarily unavailable/, `${what}: says the service is unavailable`);
  t.match(a.body, /try again in a moment/i, `${what}: and to try again shortly`);
  t.match(a.body, /service_unavailable/, `${what}: with the error code`);
  t.ok(Number(a.headers['retry-after']) > 0, `${what}: Retry-After`);
  if (retryPath) t.match(a.body, `href="${retryPath}"`, `${what}: a "Try again" link to the same address`);
  t.ok(a.ms < BOUND_MS, `${what}: answered in ${a.ms} ms`);
}

t.test('a frozen or stopped PostgreSQL', { skip: ownPostgresSkipped }, async (t) => {
  const pg: OwnService = await startOwnPostgres();
  t.teardown(() => pg.remove());
  const { port, token } = await brokerOn(t, { DATABASE_URL: pg.url });

  t.equal((await readyz(port)).status, 200, 'ready on a migrated database');
  t.equal((await call(port, 'GET', '/login')).status, 200, 'the login page answers');
  t.equal(
    (await call(port, 'GET', '/api/apps', { bearer: token, accept: 'application/json' })).status,
    200,
    'the API answers',
  );

  pg.freeze();
  try {
    isOutagePage(t, await call(port, 'GET', '/login?x=1'), 'login page', '/login?x=1');
    isOutagePage(
      t,
      await call(port, 'POST', '/saml/sp/acs', { form: { SAMLResponse: 'PHNhbWw+', RelayState: 'flow-1' } }),
      'ACS post',
    );
    const api = await call(port, 'GET', '/api/apps', { bearer: token, accept: 'application/json' });
    t.equal(api.status, 503, 'API: 503');
    t.equal(JSON.parse(api.body).error.code, 'service_unavailable', 'API: the code');
    t.ok(Number(api.headers['retry-after']) > 0, 'API: Retry-After');
    t.ok(api.ms < BOUND_MS, `API: answered in ${api.ms} ms`);
    const ready = await readyz(port);
    t.equal(ready.status, 503, '/readyz: not ready');
    t.equal(JSON.parse(ready.body).code, 'database_timeout', '/readyz: the database does not answer in time');
    t.ok(ready.ms < 3500, `/readyz: answered in ${ready.ms} ms`);
  } finally {
    pg.thaw();
  }
  t.equal((await untilReady(port)).status, 200, 'thawed: ready again');
  t.equal((await call(port, 'GET', '/login')).status, 200, 'thawed: the login page answers');
  t.equal(
    (await call(port, 'GET', '/api/apps', { bearer: token, accept: 'application/json' })).status,
    200,
    'thawed: the API answers',
  );

  await pg.stop();
  const stopped = await readyz(port);
  t.equal(stopped.status, 503, 'stopped: not ready');
  t.equal(JSON.parse(stopped.body).code, 'database_unreachable', 'stopped: unreachable, not migrations_pending');
  t.notOk(JSON.parse(stopped.body).missing, 'no migration listed');
  isOutagePage(t, await call(port, 'GET', '/login'), 'login page, database stopped', '/login');
  const api = await call(port, 'GET', '/api/apps', { bearer: token, accept: 'application/json' });
  t.same([api.status, JSON.parse(api.body).error.code], [503, 'service_unavailable'], 'API, database stopped');

  await pg.start();
  t.equal((await untilReady(port)).status, 200, 'started again: ready');
  t.equal((await call(port, 'GET', '/login')).status, 200, 'started again: the login page answers');
});

t.test(
  'start-up on a database it cannot reach says so, not that migrations are pending',
  { skip: ownPostgresSkipped },
  async (t) => {
    const pg: OwnService = await startOwnPostgres();
    t.teardown(() => pg.remove());
    await pg.stop();
    const config = configFrom({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: pg.url.replace('postgres@', 'postgres:secret@'),
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    const err = await bootstrap(config, { masterKey: TEST_MASTER_KEY }).then(
      () => null,
      (e: Error) => e,
    );
    t.match(
      err?.message,
      /^cannot connect to the database at postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/test \(.+\)/,
      `the reason: ${err?.message}`,
    );
    t.notMatch(err?.message, /secret/, 'the password is not shown');
  },
);

t.test('a frozen or stopped Redis', { skip: ownPostgresSkipped || redisSkipped }, async (t) => {
  const [pg, redis] = await Promise.all([startOwnPostgres(), startOwnRedis()]);
  t.teardown(async () => {
    redis.thaw();
    await Promise.all([pg.remove(), redis.remove()]);
  });
  const { port, token } = await brokerOn(t, {
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'frozen-test:',
  });
  t.equal((await readyz(port)).status, 200, 'ready');

  redis.freeze();
  try {
    // The flow named by RelayState is read from Redis.
    isOutagePage(
      t,
      await call(port, 'POST', '/saml/sp/acs', { form: { SAMLResponse: 'PHNhbWw+', RelayState: 'flow-1' } }),
      'ACS post, Redis frozen',
    );
    const ready = await readyz(port);
    t.same(
      [ready.status, JSON.parse(ready.body).code],
      [503, 'redis_timeout'],
      '/readyz: Redis does not answer in time',
    );
    t.ok(ready.ms < 3500, `/readyz: answered in ${ready.ms} ms`);
    t.equal(
      (await call(port, 'GET', '/api/apps', { bearer: token, accept: 'application/json' })).status,
      200,
      'what needs only the database still works',
    );
  } finally {
    redis.thaw();
  }
  t.equal((await untilReady(port)).status, 200, 'thawed: ready again');

  await redis.stop();
  const stopped = await readyz(port);
  t.same([stopped.status, JSON.parse(stopped.body).code], [503, 'redis_unreachable'], 'stopped: unreachable');
  isOutagePage(
    t,
    await call(port, 'POST', '/saml/sp/acs', { form: { SAMLResponse: 'PHNhbWw+', RelayState: 'flow-1' } }),
    'ACS post, Redis stopped',
  );

  await redis.start();
  t.equal((await untilReady(port)).status, 200, 'started again: ready (the client reconnected)');
});
