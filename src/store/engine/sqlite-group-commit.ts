// Group commit for the hot writes on SQLite. A login makes about a dozen single-row writes; as separate commits, each
// appends every page it touched to the WAL again (the audit table's last leaf page, the flow's row, their index
// pages) and updates the WAL index: about half the broker's database time went there. Writes that arrive within one
// turn of the event loop are queued and run at the end of it (setImmediate) inside one BEGIN IMMEDIATE … COMMIT, so a
// page several of them touch is written once.
//
// What a caller sees is unchanged: its promise settles after the commit that holds its write, with the number of rows
// it changed, or with its own error. A statement that fails inside the batch (a constraint) is undone alone, as SQLite
// does for a statement in a transaction, and the others commit. If the transaction itself fails (busy past the
// timeout, I/O), it is rolled back and every write runs again on its own, each settling with its own outcome.
//
// The write lock is held only for the synchronous run of one batch, never across an await, so another process of the
// node (WORKERS) waits no longer than it would for the same writes committed one by one. Reads are not queued: a read
// that overtakes a queued write of another request sees the database as it was before that write, which is the order
// the two requests could have arrived in anyway; a request that awaits its own write reads it afterwards.
import type { Database as SqliteDatabase, Statement as SqliteStatement } from 'better-sqlite3';
import type { TransactionGate } from './sqlite-transaction-gate.ts';

interface QueuedWrite {
  prepared: () => SqliteStatement;
  params: unknown[];
  resolve: (changes: number) => void;
  reject: (err: unknown) => void;
}

type Outcome = { changes: number } | { error: unknown };

export class GroupCommit {
  private queue: QueuedWrite[] = [];
  private readonly control = new WeakMap<
    SqliteDatabase,
    { begin: SqliteStatement; commit: SqliteStatement; rollback: SqliteStatement }
  >();

  constructor(
    private readonly connection: () => SqliteDatabase,
    private readonly gate: TransactionGate,
  ) {}

  /** Queues a write for the commit at the end of this event-loop turn; resolves with the rows it changed. */
  run(prepared: () => SqliteStatement, params: unknown[]): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.queue.push({ prepared, params, resolve, reject }) === 1) setImmediate(this.flush);
    });
  }

  /** Commits what is queued now (before the connection closes). */
  async drain(): Promise<void> {
    while (this.queue.length) await this.flush();
  }

  private readonly flush = async (): Promise<void> => {
    // An open Prisma transaction holds the connection: the batch would become part of it (sqlite-transaction-gate.ts).
    // Writes arriving meanwhile join this batch.
    if (this.gate.closed) await this.gate.pass();
    const batch = this.queue;
    if (!batch.length) return;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = batch.length === 1 ? [runAlone(batch[0])] : this.runTogether(batch);
    } catch (error) {
      // Nothing ran (the connection is gone, say): every caller hears of it rather than waiting for ever.
      outcomes = batch.map(() => ({ error }));
    }
    outcomes.forEach((outcome, i) =>
      'error' in outcome ? batch[i].reject(outcome.error) : batch[i].resolve(outcome.changes),
    );
  };

  private runTogether(batch: QueuedWrite[]): Outcome[] {
    const db = this.connection();
    const control = this.controlStatements(db);
    try {
      control.begin.run();
    } catch {
      return batch.map(runAlone);
    }
    const outcomes: Outcome[] = [];
    for (const write of batch) {
      const outcome = runAlone(write);
      if ('error' in outcome && !db.inTransaction) {
        // The failure took the transaction with it (SQLite rolls back by itself on some errors, I/O or memory): the
        // writes before it were undone and run again on their own, and so do the ones after it.
        const done = outcomes.length;
        return [...batch.slice(0, done).map(runAlone), outcome, ...batch.slice(done + 1).map(runAlone)];
      }
      outcomes.push(outcome);
    }
    try {
      control.commit.run();
      return outcomes;
    } catch {
      if (db.inTransaction) control.rollback.run();
      return batch.map(runAlone);
    }
  }

  private controlStatements(db: SqliteDatabase) {
    let control = this.control.get(db);
    if (!control) {
      control = {
        begin: db.prepare('BEGIN IMMEDIATE'),
        commit: db.prepare('COMMIT'),
        rollback: db.prepare('ROLLBACK'),
      };
      this.control.set(db, control);
    }
    return control;
  }
}

function runAlone(write: QueuedWrite): Outcome {
  try {
    return { changes: write.prepared().run(...write.params).changes };
  } catch (error) {
    return { error };
  }
}
