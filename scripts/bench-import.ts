// Bulk-import benchmark (issue 6): `npm run bench:import [-- --pg] [-- --rows 100000]`.
// Generates a CSV of N users in a temporary directory, imports it into a fresh SQLite database and, when
// DATABASE_URL points at PostgreSQL or --pg is given, into a throw-away PostgreSQL database; prints rows/s,
// duration and peak memory, then the median time of user searches (email prefix, last-name prefix) at that size.
// Targets: 100,000 rows < 10 s (SQLite) / < 20 s (PostgreSQL) on 2 cores, peak RSS < 300 MB, search < 50 ms.
// Each database is measured in its own child process, so one run's memory does not inflate the other's figures.
// The database is created and migrated beforehand, as a deployment's is when an admin runs the CLI import.
// Options: --rows N, --pg, --pg-url <server url>, --batch-size N, --heap-mb N (the import process's
// --max-old-space-size; by default the CLI's own, from package.json).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { bootstrap } from '../src/bootstrap.ts';
import { configFrom } from '../src/config/config.ts';
import type { AppContext } from '../src/context.ts';
import type { DbProvider } from '../src/store/engine/database.ts';
import { exportUsersCsv } from '../src/users/export-csv.ts';
import { UserImportService } from '../src/users/import/import-service.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    pg: { type: 'boolean' },
    rows: { type: 'string' },
    'pg-url': { type: 'string' },
    'batch-size': { type: 'string' },
    'heap-mb': { type: 'string' },
    child: { type: 'string' },
    csv: { type: 'string' },
    db: { type: 'string' },
  },
});
/** The import process's heap limit: the one `npm run cli` runs with (see package.json), unless --heap-mb says otherwise. */
const HEAP_MB = Number(
  values['heap-mb'] ??
    /--max-old-space-size=(\d+)/.exec(
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.cli,
    )?.[1] ??
    4096,
);
const ROWS = Number(values.rows ?? 100_000);
const envUrl = process.env.DATABASE_URL ?? '';
const usePg = values.pg || /^postgres(ql)?:\/\//.test(envUrl);
const pgServer =
  values['pg-url'] ??
  (/^postgres(ql)?:\/\//.test(envUrl)
    ? envUrl
    : (process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'));

const LAST = [
  'Smith',
  'Jones',
  'Taylor',
  'Brown',
  'Williams',
  'Wilson',
  'Johnson',
  'Davies',
  'Robinson',
  'Wright',
  'Thompson',
  'Evans',
  'Walker',
  'White',
  'Roberts',
  'Green',
  'Hall',
  'Wood',
  'Jackson',
  'Clarke',
  'Müller',
  'García',
  'Nguyen',
  "O'Brien",
];
const FIRST = [
  'Ann',
  'Bob',
  'Carla',
  'Dev',
  'Eve',
  'Femi',
  'Grace',
  'Hiro',
  'Ines',
  'Jon',
  'Kai',
  'Lena',
  'Mo',
  'Noor',
  'Olu',
  'Priya',
];

async function generateCsv(path: string, rows: number) {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('email,username,firstName,lastName,phone,groups,status\r\n');
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const first = FIRST[i % FIRST.length];
    const last = `${LAST[(i * 7) % LAST.length]}${i % 1000}`;
    chunk += `user${i}@customer${i % 50}.example,user${i},${first},"${last}",+1 555 ${String(i).padStart(7, '0')},portal|customers${i % 3 ? '' : '|vip'},active\r\n`;
    if (chunk.length > 256 * 1024) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await once(out, 'finish');
}

class RssSampler {
  peak = 0;
  private timer = setInterval(() => this.sample(), 50);
  sample() {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }
  stop() {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** A fresh, migrated database (in this parent process: the import process then finds nothing to migrate and
 *  never loads the schema engine, as when the CLI imports into a running deployment's database). */
async function freshDatabase(provider: DbProvider): Promise<{ url: string; drop(): Promise<void> }> {
  let url: string;
  let drop: () => Promise<void>;
  if (provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-import-db-'));
    url = `file:${join(dir, 'bench.db')}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const name = `bench_import_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgServer });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(pgServer);
    u.pathname = `/${name}`;
    url = u.toString();
    drop = async () => {
      const c = new pg.Client({ connectionString: pgServer });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const { ctx } = await bootstrap(benchConfig(url), { masterKey: randomBytes(32) });
  await ctx.store.close();
  return { url, drop };
}

const benchConfig = (url: string) =>
  configFrom({ NODE_ENV: 'production', DATABASE_URL: url, BASE_DOMAIN: 'bench.example', LOG_LEVEL: 'silent' });

async function bench(provider: DbProvider, csvPath: string, databaseUrl: string) {
  const { ctx } = await bootstrap(benchConfig(databaseUrl), { masterKey: randomBytes(32) });
  try {
    // A bare organisation row: the full OrganizationService.create also hashes an admin password with argon2,
    // whose ~60 MB of native memory would stay in this process's RSS and blur the import's own figure.
    const org = await ctx.store.db.organization.create({ data: { slug: 'bench', name: 'Bench' } });
    const service = new UserImportService(ctx, {
      ...(values['batch-size'] && { batchSize: Number(values['batch-size']) }),
    });

    const before = process.memoryUsage();
    const sampler = new RssSampler();
    let t = performance.now();
    const first = await service.run(org.id, { path: csvPath }, { mode: 'upsert', actor: 'bench' });
    const importMs = performance.now() - t;
    const peak = sampler.stop();
    if (first.counts.created !== ROWS) throw new Error(`expected ${ROWS} created, got ${JSON.stringify(first.counts)}`);

    const sampler2 = new RssSampler();
    t = performance.now();
    const again = await service.run(org.id, { path: csvPath }, { mode: 'upsert', actor: 'bench' });
    const reimportMs = performance.now() - t;
    const peak2 = sampler2.stop();
    if (again.counts.unchanged !== ROWS)
      throw new Error(`expected ${ROWS} unchanged, got ${JSON.stringify(again.counts)}`);

    t = performance.now();
    const sink = createWriteStream('/dev/null');
    const exported = await exportUsersCsv(ctx.store.forOrg(org.id), sink);
    sink.end();
    const exportMs = performance.now() - t;

    const users = ctx.store.forOrg(org.id).users;
    const timeSearch = async (terms: string[]) => {
      const times: number[] = [];
      let hits = 0;
      for (const q of terms) {
        const s = performance.now();
        hits += (await users.list({ search: q })).length;
        times.push(performance.now() - s);
      }
      return { median: median(times), max: Math.max(...times), hits };
    };
    await users.list({ search: 'warm' });
    const emailSearch = await timeSearch(Array.from({ length: 50 }, (_, i) => `user${(i * 1973) % ROWS}`));
    const lastSearch = await timeSearch(
      Array.from({ length: 50 }, (_, i) => `${LAST[i % LAST.length]}${(i * 37) % 1000}`),
    );

    console.log(
      `\n${provider}: ${ROWS.toLocaleString('en')} rows (RSS before import ${mb(before.rss)}, of which JS heap ${mb(before.heapTotal)})`,
    );
    console.log(
      `  import (all new):      ${(importMs / 1000).toFixed(2)} s  ${Math.round(ROWS / (importMs / 1000)).toLocaleString('en')} rows/s  peak RSS ${mb(peak)}`,
    );
    console.log(
      `  re-import (unchanged): ${(reimportMs / 1000).toFixed(2)} s  ${Math.round(ROWS / (reimportMs / 1000)).toLocaleString('en')} rows/s  peak RSS ${mb(peak2)}`,
    );
    console.log(`  export:                ${(exportMs / 1000).toFixed(2)} s  ${exported.toLocaleString('en')} users`);
    console.log(
      `  search email prefix:   median ${emailSearch.median.toFixed(1)} ms, max ${emailSearch.max.toFixed(1)} ms (50 queries, ${emailSearch.hits} hits)`,
    );
    console.log(
      `  search last-name prefix: median ${lastSearch.median.toFixed(1)} ms, max ${lastSearch.max.toFixed(1)} ms (50 queries, ${lastSearch.hits} hits)`,
    );
    await explain(ctx, provider, org.id);
  } finally {
    await ctx.store.close();
  }
}

/**
 * The plan of the search query in the shape Prisma generates for UserRepository.list (captured from its query
 * log): `LIKE (<param> || '%')` on the three columns, ordered by emailLower.
 */
async function explain(ctx: AppContext, provider: DbProvider, orgId: string) {
  const p = (n: number) => (provider === 'sqlite' ? '?' : `$${n}`);
  const sql = `SELECT "id" FROM "User" WHERE "orgId" = ${p(1)} AND ("emailLower" LIKE (${p(2)} || '%') OR "firstName" LIKE (${p(3)} || '%') OR "lastName" LIKE (${p(4)} || '%')) ORDER BY "emailLower" ASC LIMIT 50`;
  const rows = await ctx.store.db.$queryRawUnsafe<Record<string, unknown>[]>(
    provider === 'sqlite' ? `EXPLAIN QUERY PLAN ${sql}` : `EXPLAIN ${sql}`,
    orgId,
    'user123',
    'Smith12',
    'Smith12',
  );
  console.log(`  search plan: ${rows.map((r) => String(r.detail ?? r['QUERY PLAN']).trim()).join(' | ')}`);
}

/** Runs `bench(provider)` in a child process (same Node flags and loader as this one). */
async function inChild(provider: DbProvider, csvPath: string) {
  const db = await freshDatabase(provider);
  const args = [
    ...process.execArgv,
    `--max-old-space-size=${HEAP_MB}`,
    fileURLToPath(import.meta.url),
    '--child',
    provider,
    '--csv',
    csvPath,
    '--rows',
    String(ROWS),
    '--db',
    db.url,
  ];
  if (values['batch-size']) args.push('--batch-size', values['batch-size']);
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const [code] = await once(child, 'exit');
  await db.drop();
  if (code !== 0) throw new Error(`${provider} benchmark failed (exit ${code})`);
}

if (values.child) {
  await bench(values.child as DbProvider, values.csv!, values.db!);
  console.log(`  process max RSS (whole child, bootstrap included): ${mb(process.resourceUsage().maxRSS * 1024)}`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'bench-import-'));
  try {
    const csvPath = join(dir, 'users.csv');
    const t = performance.now();
    await generateCsv(csvPath, ROWS);
    console.log(
      `generated ${csvPath}: ${ROWS.toLocaleString('en')} rows, ${mb(statSync(csvPath).size)} in ${((performance.now() - t) / 1000).toFixed(1)} s; the import process runs with --max-old-space-size=${HEAP_MB}, as the CLI does`,
    );
    await inChild('sqlite', csvPath);
    if (usePg) await inChild('postgresql', csvPath);
    else console.log('\n(PostgreSQL skipped: pass --pg or set DATABASE_URL=postgresql://...)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
