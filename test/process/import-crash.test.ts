// A CLI import killed (SIGKILL) half-way and re-run at once: the re-run does not wait minutes for the dead job, says it
// resumes it, the audit shows the abandoned run, and the directory ends with exactly the file's users.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'broker-import-crash-'));
const dbFile = join(dir, 'broker.db');
const ROWS = 20_000; // 10 write batches of 2,000
// node --import tsx (not the tsx wrapper): SIGKILL must reach the importing process itself.
const env = {
  PATH: process.env.PATH!,
  DATABASE_URL: `file:${dbFile}`,
  MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  LOG_LEVEL: 'warn',
  IMPORT_HEARTBEAT_SECONDS: '1',
  IMPORT_STALE_AFTER_SECONDS: '2',
};
const cliArgs = (args: string[]) => ['--import', 'tsx', 'src/cli/index.ts', ...args];

t.test('SIGKILL mid-import, re-run at once: resumes the abandoned job, audits it, no duplicates', async (t) => {
  const created = spawnSync(
    process.execPath,
    cliArgs(['org', 'create', '--slug', 'crash', '--name', 'Crash', '--admin-email', 'a@crash.example']),
    { cwd: root, env, encoding: 'utf8' },
  );
  t.equal(created.status, 0, created.stderr);
  const file = join(dir, 'users.csv');
  writeFileSync(
    file,
    ['email,firstName', ...Array.from({ length: ROWS }, (_, i) => `user${i}@crash.example,User ${i}`)].join('\n') +
      '\n',
  );

  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  const count = () => (db.prepare('SELECT COUNT(*) AS n FROM "User"').get() as { n: number }).n;

  const first = spawn(process.execPath, cliArgs(['users', 'import', file, '--org', 'crash']), {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (first.exitCode === null) first.kill('SIGKILL');
  });
  const exited = new Promise((resolve) => first.on('exit', resolve));
  const deadline = Date.now() + 120_000;
  while (count() < 2_000) {
    if (Date.now() > deadline || first.exitCode !== null) throw new Error('the first import did not get going');
    await new Promise((r) => setTimeout(r, 20));
  }
  first.kill('SIGKILL');
  await exited;
  const killedAt = count();
  t.ok(killedAt >= 2_000 && killedAt < ROWS, `killed mid-way, at ${killedAt} users`);
  t.ok(killedAt % 2_000 === 0, 'whole batches only');

  // A dead job counts as abandoned once it has been silent for IMPORT_STALE_AFTER_SECONDS (2 s here): a re-run that
  // starts sooner is rightly refused as "another import is running", so wait that long (CLI start-up alone may be
  // quicker on a quiet machine).
  await new Promise((r) => setTimeout(r, 2_500));
  const started = Date.now();
  const rerun = spawnSync(process.execPath, cliArgs(['users', 'import', file, '--org', 'crash']), {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  const took = Date.now() - started;
  t.equal(rerun.status, 0, rerun.stderr);
  t.ok(took < 60_000, `the re-run did not wait minutes (${took} ms, CLI start-up included)`);
  t.match(rerun.stderr, new RegExp(`import job \\S+ was abandoned at ${killedAt} of ${ROWS} rows`));
  t.match(rerun.stderr, new RegExp(`resuming import job \\S+ abandoned at ${killedAt} of ${ROWS} rows`));
  t.match(rerun.stdout, `created ${ROWS - killedAt}  updated 0  unchanged ${killedAt}`);
  t.match(rerun.stdout, /completes the unfinished import/);

  t.equal(count(), ROWS, "exactly the file's users");
  t.equal(
    (db.prepare('SELECT COUNT(DISTINCT "emailLower") AS n FROM "User"').get() as { n: number }).n,
    ROWS,
    'no duplicate',
  );
  const audit = db
    .prepare('SELECT "type", "outcome" FROM "AuditEvent" WHERE "type" LIKE \'users.import%\' ORDER BY "at"')
    .all();
  t.same(
    audit,
    [
      { type: 'users.import.abandoned', outcome: 'failure' },
      { type: 'users.import', outcome: 'success' },
    ],
    'the abandoned run is in the audit, before the run that completed it',
  );
  const jobs = db.prepare('SELECT "status", "doneRows" FROM "ImportJob" ORDER BY "createdAt"').all();
  t.same(jobs, [
    { status: 'failed', doneRows: killedAt },
    { status: 'done', doneRows: ROWS },
  ]);
});
