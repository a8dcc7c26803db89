// Group commit of the hot writes on SQLite (src/store/engine/sqlite-group-commit.ts): the writes of one event-loop turn
// share one commit, and each caller still learns its own outcome only once its write is committed.
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/store/engine/sqlite-group-commit.ts';
import { TransactionGate } from '../../src/store/engine/sqlite-transaction-gate.ts';

function world(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'group-commit-'));
  const file = join(dir, 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE "Item" ("id" TEXT PRIMARY KEY, "n" INTEGER NOT NULL)');
  const other = new Database(file);
  t.teardown(() => {
    db.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const insert = db.prepare('INSERT INTO "Item" ("id", "n") VALUES (?, ?)');
  const writes = new GroupCommit(() => db, new TransactionGate());
  /** frames in the WAL (never checkpointed here): each commit appends every page it changed */
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const walFrames = () => (statSync(`${file}-wal`).size - 32) / (pageSize + 24);
  const count = () => (other.prepare('SELECT count(*) AS c FROM "Item"').get() as { c: number }).c;
  const add = (id: string, n = 1) => writes.run(() => insert, [id, n]);
  return { db, other, writes, walFrames, count, add };
}

t.test('the writes of one turn share one commit; each resolves with its own changes', async (t) => {
  const w = world(t);
  const before = w.walFrames();
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => w.add(`a${i}`)));
  t.same(results, Array(50).fill(1));
  const grouped = w.walFrames() - before;
  t.ok(grouped <= 3, `50 inserts added ${grouped} WAL frames (one commit of the table's and the key's pages)`);
  t.equal(w.count(), 50, 'another connection sees all of them');

  // The same 50 inserts awaited one by one: one commit each.
  const start = w.walFrames();
  for (let i = 0; i < 50; i++) await w.add(`b${i}`);
  t.ok(w.walFrames() - start >= 50, 'one at a time, each write is its own commit');
});

t.test('a write resolves only once committed: another connection already sees it', async (t) => {
  const w = world(t);
  const seen = await w.add('x').then(() => w.count());
  t.equal(seen, 1);
  t.notOk(w.db.inTransaction, 'no transaction is left open');
});

t.test('a failing write fails alone; the others of its batch commit', async (t) => {
  const w = world(t);
  await w.add('taken');
  const outcomes = await Promise.allSettled([w.add('c1'), w.add('taken'), w.add('c2')]);
  t.same(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  t.match((outcomes[1] as PromiseRejectedResult).reason, { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
  t.equal(w.count(), 3);
  t.notOk(w.db.inTransaction);
});

t.test(
  'a database another writer holds: every queued write fails with its own error, nothing is half-done',
  async (t) => {
    const w = world(t);
    w.db.pragma('busy_timeout = 50');
    w.other.exec('BEGIN IMMEDIATE');
    const outcomes = await Promise.allSettled([w.add('d1'), w.add('d2')]);
    t.same(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected'],
    );
    t.match((outcomes[0] as PromiseRejectedResult).reason, { code: 'SQLITE_BUSY' });
    t.notOk(w.db.inTransaction);
    w.other.exec('COMMIT');
    t.same(await Promise.all([w.add('d1'), w.add('d2')]), [1, 1], 'once released, the same writes go through');
    t.equal(w.count(), 2);
  },
);

t.test(
  'waiting for a lock another connection holds never stops the event loop; the batch commits once it is free',
  async (t) => {
    const w = world(t);
    // The other connection is in this very process: were the wait SQLite's busy handler (a synchronous sleep in the
    // call), the timer that releases the lock could not run until the busy timeout (5 s) had passed, and the writes
    // would fail with SQLITE_BUSY.
    w.other.exec('BEGIN IMMEDIATE');
    const first = [w.add('h1'), w.add('h2')];
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 1);
    const released = new Promise<number>((resolve) =>
      setTimeout(() => {
        w.other.exec('COMMIT');
        resolve(performance.now());
      }, 30),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    const joined = w.add('h3');
    const started = performance.now();
    t.same(await Promise.all([...first, joined]), [1, 1, 1], 'all three committed, the one queued while waiting too');
    clearInterval(ticking);
    t.ok((await released) >= started, 'the lock was released by a timer of this process while the writes waited');
    // At least one tick, not "about 30": on a loaded machine the process may sleep through the whole 30 ms, and the
    // interval's ticks then collapse into one. That one is due before the releasing timer, so it always runs first.
    t.ok(ticks >= 1, `other work ran meanwhile (${ticks} timer ticks)`);
    t.equal(w.count(), 3);
    t.notOk(w.db.inTransaction);
    t.equal(w.db.pragma('busy_timeout', { simple: true }), 5000, "the connection's own busy timeout is back");

    // A lone write (committed without BEGIN … COMMIT) waits the same way.
    w.other.exec('BEGIN IMMEDIATE');
    setTimeout(() => w.other.exec('COMMIT'), 20);
    t.equal(await w.add('h4'), 1, 'a lone write waits for the lock on a timer too');
    t.equal(w.count(), 4);
  },
);

t.test('drain commits what is still queued (before the connection closes)', async (t) => {
  const w = world(t);
  const pending = [w.add('e1'), w.add('e2')];
  await w.writes.drain();
  t.equal(w.count(), 2);
  t.same(await Promise.all(pending), [1, 1]);
});

t.test('a connection that is gone fails every queued write instead of leaving it waiting', async (t) => {
  const w = world(t);
  await w.add('f0');
  const closed = new GroupCommit(() => {
    throw new Error('the database connection is closed');
  }, new TransactionGate());
  const outcomes = await Promise.allSettled([
    closed.run(() => w.db.prepare('SELECT 1'), []),
    closed.run(() => w.db.prepare('SELECT 1'), []),
  ]);
  t.same(
    outcomes.map((o) => o.status),
    ['rejected', 'rejected'],
  );
  t.match((outcomes[0] as PromiseRejectedResult).reason, /connection is closed/);
});
