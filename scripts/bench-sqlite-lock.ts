// `npx tsx scripts/bench-sqlite-lock.ts [--processes 1,2,4] [--seconds 5] [--cpu-ms 2.5]`: how long a broker process's
// event loop stands still waiting for SQLite's write lock while another process holds it (WORKERS > 1). Each process
// does what a broker process does per login, reduced to its shape: `--cpu-ms` of JavaScript work, then one group
// commit (BEGIN IMMEDIATE, a dozen single-row writes, COMMIT) on the same kind of connection (better-sqlite3, WAL,
// busy timeout 5 s as src/store/engine/database.ts sets it). better-sqlite3 is synchronous: while BEGIN IMMEDIATE waits in
// SQLite's busy handler (which sleeps: 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms…, so a wait overshoots a
// short lock hold), nothing else in that process runs: the wait is time its event loop stands still. Figures, never assertions.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { values: args } = parseArgs({
  options: {
    processes: { type: 'string', default: '1,2,4' },
    seconds: { type: 'string', default: '5' },
    'cpu-ms': { type: 'string', default: '2.5' },
  },
});
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

interface Report {
  logins: number;
  waits: number[];
  blockedMs: number;
}

async function child(path: string, seconds: number, cpuMs: number) {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const insert = db.prepare('INSERT INTO audit (at, body) VALUES (?, ?)');
  const waits: number[] = [];
  let blockedMs = 0;
  let logins = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const work = performance.now() + cpuMs;
    while (performance.now() < work) {
      /* the login's own CPU */
    }
    const t = performance.now();
    begin.run();
    const waited = performance.now() - t;
    waits.push(waited);
    blockedMs += waited;
    for (let i = 0; i < 12; i++) insert.run(Date.now(), 'x'.repeat(200));
    commit.run();
    logins++;
    await new Promise((r) => setImmediate(r));
  }
  process.send!({ logins, waits, blockedMs } satisfies Report);
  db.close();
}

async function main() {
  const seconds = Number(args.seconds);
  console.log(
    `| processes | logins/s (all) | BEGIN IMMEDIATE wait p50 / p99 / max ms | share of wall time blocked on the lock |\n|---|---|---|---|`,
  );
  for (const n of args.processes!.split(',').map(Number)) {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-lock-'));
    const path = join(dir, 'lock.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER, body TEXT)');
    db.close();
    const reports = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<Report>((resolve, reject) => {
            const p = fork(fileURLToPath(import.meta.url), [], {
              execArgv: process.execArgv,
              env: { ...process.env, LOCK_CHILD: JSON.stringify({ path, seconds, cpuMs: Number(args['cpu-ms']) }) },
            });
            p.once('message', (m) => resolve(m as Report));
            p.once('exit', (code) => code && reject(new Error(`child exited ${code}`)));
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
    const waits = reports.flatMap((r) => r.waits);
    const logins = reports.reduce((s, r) => s + r.logins, 0);
    const blocked = reports.reduce((s, r) => s + r.blockedMs, 0) / (n * seconds * 1000);
    console.log(
      `| ${n} | ${(logins / seconds).toFixed(0)} | ${percentile(waits, 50).toFixed(2)} / ${percentile(waits, 99).toFixed(2)} / ${Math.max(...waits).toFixed(1)} | ${(100 * blocked).toFixed(1)} % |`,
    );
  }
}

if (process.env.LOCK_CHILD) {
  const c = JSON.parse(process.env.LOCK_CHILD);
  await child(c.path, c.seconds, c.cpuMs);
} else await main();
