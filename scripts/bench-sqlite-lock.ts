// `npx tsx scripts/bench-sqlite-lock.ts [--processes 1,2,4] [--seconds 5] [--cpu-ms 2.5] [--concurrency 4]`: how long
// a broker process's event loop stands still waiting for SQLite's write lock while another process holds it
// (WORKERS > 1), before and now. Each process does what a broker process does per login, reduced to its shape:
// `--concurrency` logins at a time, each `--cpu-ms` of JavaScript work, then a dozen single-row writes, on the same kind
// of connection (better-sqlite3, WAL, busy timeout 5 s as src/store/engine/database.ts sets it).
// - `blocking` (before): the writes in one BEGIN IMMEDIATE … COMMIT with SQLite's busy handler, which sleeps inside
//   the call (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms…, so a wait overshoots a short lock hold): nothing else in
//   that process runs meanwhile.
// - `group-commit` (now): the writes through src/store/engine/sqlite-group-commit.ts, which tries the lock without
//   waiting and, when it is taken, waits on a timer while the process's other logins go on.
// The "event loop held" columns time every BEGIN IMMEDIATE call (the only statement that waits for the lock); the
// write latency is from the first write queued to the commit. Figures, never assertions.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/store/engine/sqlite-group-commit.ts';
import { TransactionGate } from '../src/store/engine/sqlite-transaction-gate.ts';
import { percentile } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    processes: { type: 'string', default: '1,2,4' },
    seconds: { type: 'string', default: '5' },
    'cpu-ms': { type: 'string', default: '2.5' },
    concurrency: { type: 'string', default: '4' },
  },
});
const MODES = ['blocking', 'group-commit'] as const;
type Mode = (typeof MODES)[number];

interface Report {
  logins: number;
  /** each BEGIN IMMEDIATE call's duration (ms): the event loop stands still for it */
  held: number[];
  /** each login's writes, from queued to committed (ms) */
  latency: number[];
}

interface ChildJob {
  path: string;
  seconds: number;
  cpuMs: number;
  concurrency: number;
  mode: Mode;
}

async function child({ path, seconds, cpuMs, concurrency, mode }: ChildJob) {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const held: number[] = [];
  const latency: number[] = [];
  // Times the BEGIN IMMEDIATE calls, whoever makes them.
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const stmt = prepare(source);
    if (source !== 'BEGIN IMMEDIATE') return stmt;
    const run = stmt.run.bind(stmt);
    stmt.run = (...params: unknown[]) => {
      const t = performance.now();
      try {
        return run(...params);
      } finally {
        held.push(performance.now() - t);
      }
    };
    return stmt;
  }) as typeof db.prepare;
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const insert = db.prepare('INSERT INTO audit (at, body) VALUES (?, ?)');
  const writes = new GroupCommit(() => db, new TransactionGate());
  const body = 'x'.repeat(200);

  async function writeLogin() {
    if (mode === 'blocking') {
      begin.run();
      for (let i = 0; i < 12; i++) insert.run(Date.now(), body);
      commit.run();
    } else {
      await Promise.all(Array.from({ length: 12 }, () => writes.run(() => insert, [Date.now(), body])));
    }
  }

  let logins = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const work = performance.now() + cpuMs;
        while (performance.now() < work) {
          /* the login's own CPU */
        }
        const t = performance.now();
        await writeLogin();
        latency.push(performance.now() - t);
        logins++;
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  process.send!({ logins, held, latency } satisfies Report);
  db.close();
}

function run(mode: Mode, n: number, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sqlite-lock-'));
  const path = join(dir, 'lock.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER, body TEXT)');
  db.close();
  const job = (): ChildJob => ({
    path,
    seconds,
    cpuMs: Number(args['cpu-ms']),
    concurrency: Number(args.concurrency),
    mode,
  });
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Report>((resolve, reject) => {
          const p = fork(fileURLToPath(import.meta.url), [], {
            execArgv: process.execArgv,
            env: { ...process.env, LOCK_CHILD: JSON.stringify(job()) },
          });
          p.once('message', (m) => resolve(m as Report));
          p.once('exit', (code) => code && reject(new Error(`child exited ${code}`)));
        }),
    ),
  ).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function main() {
  const seconds = Number(args.seconds);
  console.log(
    `| processes | writes | logins/s (all) | event loop held in BEGIN IMMEDIATE p50 / p99 / max ms | share of wall time held | write latency p50 / p99 ms |\n|---|---|---|---|---|---|`,
  );
  for (const n of args.processes!.split(',').map(Number)) {
    // Both modes one after the other for each count, so that they see the machine in the same minute.
    for (const mode of MODES) {
      const reports = await run(mode, n, seconds);
      const held = reports.flatMap((r) => r.held);
      const latency = reports.flatMap((r) => r.latency);
      const logins = reports.reduce((s, r) => s + r.logins, 0);
      const share = held.reduce((s, x) => s + x, 0) / (n * seconds * 1000);
      console.log(
        `| ${n} | ${mode} | ${(logins / seconds).toFixed(0)} | ${percentile(held, 50).toFixed(2)} / ${percentile(held, 99).toFixed(2)} / ${Math.max(...held).toFixed(1)} | ${(100 * share).toFixed(1)} % | ${percentile(latency, 50).toFixed(2)} / ${percentile(latency, 99).toFixed(2)} |`,
      );
    }
  }
}

if (process.env.LOCK_CHILD) await child(JSON.parse(process.env.LOCK_CHILD) as ChildJob);
else await main();
