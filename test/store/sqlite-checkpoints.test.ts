// The server's SQLite connection never checkpoints inside a commit; a worker thread copies the WAL into the database
// file in the background, and stops cleanly with the store.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, parseDatabaseUrl } from '../../src/store/engine/database.ts';
import { Store } from '../../src/store/store.ts';

/** A fresh SQLite file opened as the server opens it (checkpoints from a thread), with a table to fill. */
async function fillerDatabase(t: Test, restartFrames?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  const path = join(dir, 'b.db');
  const errors: string[] = [];
  const store = Store.open(
    await openDatabase(parseDatabaseUrl(`file:${path}`), 2, {
      checkpoints: 'thread',
      onCheckpointError: (m) => errors.push(m),
      restartFrames,
    }),
  );
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.db.$executeRawUnsafe('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)');
  return { path, store, errors };
}

t.test('WAL pages reach the database file from the background checkpointer, not from commits', async (t) => {
  const { path, store, errors } = await fillerDatabase(t);
  // A commit checkpoints by itself only when wal_autocheckpoint is above 0. (Comparing file sizes instead was flaky:
  // when the inserts took longer than the thread's interval, the thread had rightly copied pages meanwhile.)
  const [{ wal_autocheckpoint: autocheckpoint }] =
    await store.db.$queryRawUnsafe<{ wal_autocheckpoint: number | bigint }[]>('PRAGMA wal_autocheckpoint');
  t.equal(Number(autocheckpoint), 0, 'the server connection never checkpoints inside a commit');
  const before = statSync(path).size;
  const body = 'x'.repeat(2000);
  // Well past the 1,000 pages at which a connection would checkpoint by itself.
  for (let i = 0; i < 3000; i++) await store.db.$executeRawUnsafe('INSERT INTO filler (body) VALUES (?)', body);
  for (let i = 0; i < 150 && statSync(path).size - before < 5_000_000; i++)
    await new Promise((r) => setTimeout(r, 100));
  t.ok(
    statSync(path).size - before >= 5_000_000,
    'the background checkpointer copied the pages into the database file',
  );
  t.same(errors, []);
});

t.test('under writes that never pause, the WAL is restarted from its beginning instead of growing', async (t) => {
  // Restarts past 500 frames (2 MB) instead of the server's 40 MB: a few seconds of commits, on a slow machine too,
  // write well past what the log holds.
  const { path, store, errors } = await fillerDatabase(t, 500);
  // Bytes 16-23 of the WAL header are its salts: SQLite changes them each time the log starts again from its beginning.
  const salts = () => readFileSync(`${path}-wal`).subarray(16, 24).toString('hex');
  const body = 'y'.repeat(2000);
  await store.db.$executeRawUnsafe('INSERT INTO filler (body) VALUES (?)', body);
  const firstSalts = salts();
  let rows = 0;
  // Commits back to back for 8 s: there is never a moment at which every frame of the log has been copied. The log
  // still grows between two passes of the checkpointer (1 s apart), so it takes a few of them to show.
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    await store.db.$executeRawUnsafe('INSERT INTO filler (body) VALUES (?)', body);
    rows++;
  }
  const walBytes = statSync(`${path}-wal`).size;
  t.ok(rows > 1000, `${rows} commits`);
  t.not(salts(), firstSalts, 'the log was started again from its beginning during the writes');
  // Each commit appended at least one frame (a 4,096-byte page and its 24-byte header).
  t.ok(
    walBytes < rows * 4120,
    `the WAL file (${walBytes} bytes) is smaller than what was written through it (at least ${rows * 4120})`,
  );
  t.same(errors, []);
});
