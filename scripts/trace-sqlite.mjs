// Counts every SQLite statement a broker process runs, for "how many reads and writes does a login cost":
//   BENCH_NODE_ARGS="--import ./scripts/trace-sqlite.mjs" npm run bench -- --users 3000 --seconds 3 --concurrency 4
// Loaded first into each broker process, it wraps better-sqlite3's statement methods (run, get, all, iterate) and
// `exec`, and when the process ends writes `sqlite-trace-<pid>.json` (SQL text → count, most frequent first) into
// SQLITE_TRACE_DIR (default: the operating system's temporary folder). Divide by the flows inserted for a per-login
// figure. A development tool only: nothing in src/ loads it, and the wrappers cost a little CPU of their own.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The broker's own copy of the driver (the one it will load), found from the directory it runs in.
const Database = createRequire(join(process.cwd(), 'package.json'))('better-sqlite3');

const counts = new Map();
const count = (sql) => {
  const key = sql.replace(/\s+/g, ' ').trim();
  counts.set(key, (counts.get(key) ?? 0) + 1);
};

// Statements are native objects whose class better-sqlite3 does not export: wrap their prototype at the first one.
let wrapped = false;
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (...args) {
  const statement = prepare.apply(this, args);
  if (!wrapped) {
    wrapped = true;
    const proto = Object.getPrototypeOf(statement);
    for (const method of ['run', 'get', 'all', 'iterate']) {
      const original = proto[method];
      proto[method] = function (...params) {
        count(this.source);
        return original.apply(this, params);
      };
    }
  }
  return statement;
};
const exec = Database.prototype.exec;
Database.prototype.exec = function (sql) {
  count(sql);
  return exec.call(this, sql);
};

const write = () => {
  const file = join(process.env.SQLITE_TRACE_DIR || tmpdir(), `sqlite-trace-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])), null, 1));
};
process.on('exit', write);
// The benchmark stops its broker processes with SIGTERM; the broker drains first, then exits, which runs `write`.
