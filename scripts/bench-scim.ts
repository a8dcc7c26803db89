// SCIM filter benchmark (issue 22, "large tenants"): `npm run bench:scim [-- --users 100000] [-- --requests 200] [-- --no-pg]`.
// Seeds N SCIM-provisioned users of one IdP (User + UserIdentity source 'scim', as POST /Users leaves them) into a
// fresh SQLite file and a throw-away PostgreSQL database (TEST_PG_URL or --pg-url; skipped with --no-pg), starts the
// application on a local port and times GET /scim/v2/<idpId>/Users?filter=… over real HTTP, one request at a time:
// `userName eq` (another case than stored), `externalId eq`, `emails.value eq`, `emails[value eq …]`, and a miss.
// Prints p50/p99 per filter and the query plan of the userName look-up. Figures go to docs/scim.md
// ("Large directories"); tests never assert timings.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { buildApp } from '../src/app.ts';
import { bootstrap } from '../src/bootstrap.ts';
import { configFrom } from '../src/config/config.ts';
import type { AppContext } from '../src/context.ts';
import { createScimToken } from '../src/scim/tokens.ts';
import type { DbProvider } from '../src/store/engine/database.ts';
import { freshPostgres } from '../test/helpers/context.ts';
import { percentile as pct } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '200' },
    'no-pg': { type: 'boolean' },
    batch: { type: 'string', default: '2000' },
  },
});
const USERS = Number(values.users);
const REQUESTS = Number(values.requests);
const BATCH = Number(values.batch);
const BASE_DOMAIN = 'bench.example';
const HOST = `bench.${BASE_DOMAIN}`;

const config = (url: string) =>
  configFrom({
    NODE_ENV: 'production',
    DATABASE_URL: url,
    BASE_DOMAIN,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_API_PER_MINUTE: '0',
    RATE_LIMIT_ORG_PER_MINUTE: '0',
  });

async function seed(ctx: AppContext, orgId: string, idpId: string) {
  const bar = new SingleBar(
    {
      noTTYOutput: true,
      notTTYSchedule: 5000,
      format: 'seeding {bar} {percentage}% | {value}/{total} users | {rate}/s',
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(USERS, 0, { rate: 0 });
  const base = Date.now() - USERS * 1000;
  for (let i = 0; i < USERS; i += BATCH) {
    const n = Math.min(BATCH, USERS - i);
    const users = Array.from({ length: n }, (_, k) => {
      const j = i + k;
      const email = `User${j}@customer${j % 50}.example`;
      const at = new Date(base + j * 1000);
      return {
        id: randomUUID(),
        orgId,
        email,
        emailLower: email.toLowerCase(),
        firstName: 'Ann',
        lastName: `Lee${j}`,
        groups: '[]',
        status: 'active',
        source: 'scim',
        createdAt: at,
        updatedAt: at,
      };
    });
    await ctx.store.db.user.createMany({ data: users });
    await ctx.store.db.userIdentity.createMany({
      data: users.map((u, k) => ({
        id: randomUUID(),
        orgId,
        userId: u.id,
        idpId,
        nameId: u.email,
        source: 'scim',
        externalId: `00u${(i + k).toString(36)}`,
        createdAt: u.createdAt,
      })),
    });
    bar.update(i + n, { rate: Math.round((i + n) / ((performance.now() - started) / 1000)) });
  }
  bar.stop();
  return (performance.now() - started) / 1000;
}

function get(port: number, agent: Agent, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        headers: { host: HOST, authorization: `Bearer ${token}`, accept: 'application/scim+json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function bench(provider: DbProvider, url: string) {
  const { ctx } = await bootstrap(config(url), { masterKey: randomBytes(32) });
  const app = await buildApp(ctx, { logger: false });
  try {
    const org = await ctx.organizations.create(
      { slug: 'bench', name: 'Bench', adminEmail: 'admin@bench.example', adminPassword: 'correct horse battery' },
      'bench',
    );
    const store = ctx.store.forOrg(org.org.id);
    const idp = await store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/bench',
      ssoUrl: 'https://bench.okta.example/sso',
      linkingMode: 'any-email',
    });
    const token = (await createScimToken(store, ctx.clock, idp.id, 'bench', 'bench')).token;
    console.log(`\n${provider}: seeding ${USERS.toLocaleString('en')} SCIM-provisioned users`);
    const seconds = await seed(ctx, org.org.id, idp.id);
    console.log(`  seeded in ${seconds.toFixed(1)} s`);
    // what autovacuum does on a live server after such a load; without it the planner's row estimates are those of an empty table
    if (provider === 'postgresql') await ctx.store.db.$executeRawUnsafe('ANALYZE');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const pick = (i: number) => (i * 7919) % USERS;
    const filters: [string, (i: number) => string][] = [
      ['userName eq (other case)', (i) => `userName eq "user${pick(i)}@CUSTOMER${pick(i) % 50}.example"`],
      ['externalId eq', (i) => `externalId eq "00u${pick(i).toString(36)}"`],
      ['emails.value eq', (i) => `emails.value eq "user${pick(i)}@customer${pick(i) % 50}.example"`],
      ['emails[value eq …]', (i) => `emails[value eq "user${pick(i)}@customer${pick(i) % 50}.example"]`],
      ['userName eq (no such user)', (i) => `userName eq "nobody${i}@customer1.example"`],
      // answered in SQL over the IdP's links (no index narrows a substring): the cost of a full scan of 100,000
      ['userName sw', (i) => `userName sw "user${pick(i)}@"`],
      ['userName co', (i) => `userName co "r${pick(i)}@customer"`],
      [
        'emails.value co or externalId eq',
        (i) => `emails.value co "user${pick(i)}@" or externalId eq "00u${pick(i).toString(36)}"`,
      ],
    ];
    for (const [label, filter] of filters) {
      const times: number[] = [];
      for (let i = -10; i < REQUESTS; i++) {
        const path = `/scim/v2/${idp.id}/Users?filter=${encodeURIComponent(filter(Math.abs(i)))}&startIndex=1&count=100`;
        const t = performance.now();
        const res = await get(port, agent, path, token);
        const ms = performance.now() - t;
        if (res.status !== 200) throw new Error(`${label}: ${res.status} ${res.body.slice(0, 300)}`);
        const total = JSON.parse(res.body).totalResults;
        if (total !== (label.includes('no such') ? 0 : 1)) throw new Error(`${label}: totalResults ${total}`);
        if (i >= 0) times.push(ms);
      }
      console.log(
        `  ${label.padEnd(28)} p50 ${pct(times, 50).toFixed(2)} ms  p99 ${pct(times, 99).toFixed(2)} ms  (${REQUESTS} GETs)`,
      );
    }
    agent.destroy();
    const sql = 'SELECT "id" FROM "UserIdentity" WHERE "orgId" = $1 AND "idpId" = $2 AND lower("nameId") = lower($3)';
    const plan = await ctx.store.db.$queryRawUnsafe<Record<string, unknown>[]>(
      provider === 'sqlite' ? `EXPLAIN QUERY PLAN ${sql.replace(/\$\d/g, '?')}` : `EXPLAIN ${sql}`,
      org.org.id,
      idp.id,
      'user1@customer1.example',
    );
    console.log(`  userName plan: ${plan.map((r) => String(r.detail ?? r['QUERY PLAN']).trim()).join(' | ')}`);
  } finally {
    await app.close();
    await ctx.store.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-scim-'));
try {
  await bench('sqlite', `file:${join(dir, 'bench.db')}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (!values['no-pg']) {
  const db = await freshPostgres();
  try {
    await bench('postgresql', db.url);
  } finally {
    await db.drop();
  }
}
