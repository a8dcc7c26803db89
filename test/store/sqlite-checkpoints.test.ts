// The server's SQLite connection never checkpoints inside a commit; a worker thread copies the WAL into the database
// file in the background, and stops cleanly with the store.
import t from 'tap';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, parseDatabaseUrl } from '../../src/store/database.ts';
import { Store } from '../../src/store/store.ts';

t.test('WAL pages reach the database file from the background checkpointer, not from commits', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'b.db');
  const errors: string[] = [];
  const database = await openDatabase(parseDatabaseUrl(`file:${path}`), 2, { backgroundCheckpoints: true, onCheckpointError: (m) => errors.push(m) });
  const store = Store.open(database);
  t.teardown(() => store.close());
  await store.db.$executeRawUnsafe('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)');
  const before = statSync(path).size;
  const body = 'x'.repeat(2000);
  // Well past the 1,000 pages at which a connection would checkpoint by itself.
  for (let i = 0; i < 3000; i++) await store.db.$executeRawUnsafe('INSERT INTO filler (body) VALUES (?)', body);
  t.ok(statSync(`${path}-wal`).size > 4_000_000, 'the commits went to the WAL');
  t.ok(statSync(path).size - before < 1_000_000, 'no commit checkpointed into the database file');
  for (let i = 0; i < 50 && statSync(path).size - before < 5_000_000; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(statSync(path).size - before >= 5_000_000, 'the background checkpointer copied the pages into the database file');
  t.same(errors, []);
});
