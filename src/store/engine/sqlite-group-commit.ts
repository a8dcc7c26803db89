// Group commit for the hot writes on SQLite. A login makes about a dozen single-row writes; as separate commits, each
// appends every page it touched to the WAL again (the audit table's last leaf page, the flow's row, their index
// pages) and updates the WAL index: about half the broker's database time went there. Writes that arrive within one
// turn of the event loop are queued and run at the end of it (setImmediate) inside one BEGIN IMMEDIATE … COMMIT, so a
// page several of them touch is written once.
//
// What a caller sees is unchanged: its promise settles after the commit that holds its write, with the number of rows
// it changed, or with its own error. A statement that fails inside the batch (a constraint) is undone alone, as SQLite
// does for a statement in a transaction, and the others commit. If the transaction itself fails (I/O, say), it is
// rolled back and every write runs again on its own, each settling with its own outcome.
//
// The write lock is held only for the synchronous run of one batch, never across an await, so another process of the
// node (WORKERS) waits no longer than it would for the same writes committed one by one. Waiting for the lock never
// stops the event loop: better-sqlite3 is synchronous, so SQLite's own busy handler (which sleeps 1, 2, 5, 10 … 100 ms
// inside the call, overshooting a hold of a fraction of a millisecond) would stand the whole process still while
// another process commits. So BEGIN IMMEDIATE is tried with a busy timeout of 0; when the lock is taken, the batch
// waits on a timer (1 ms, the other process's commit takes less) while the process serves other requests, writes
// arriving meanwhile join it, and it fails with SQLITE_BUSY only once the connection's own busy timeout has passed,
// as it would have before. `npx tsx scripts/bench-sqlite-lock.ts` measures the difference. Reads are not queued: a read
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
/** Another connection holds the write lock (nothing was run): how long the batch may wait for it in all. */
interface Busy {
  busyForMs: number;
}

/** How long a batch waits on a timer before it tries the write lock again (the first retry comes sooner). */
const RETRY_MS = 1;

interface Control {
  begin: SqliteStatement;
  commit: SqliteStatement;
  rollback: SqliteStatement;
  /** the connection's own busy timeout (ms), read when the connection is first used: how long a batch may wait for
   *  the lock in all */
  busyTimeoutMs: number;
  restoreBusyTimeout: string;
}

export class GroupCommit {
  private queue: QueuedWrite[] = [];
  /** the batch being committed, or waiting for the gate or the lock (writes arriving meanwhile join it): one at a
   *  time */
  private flushing: Promise<void> | null = null;
  private readonly control = new WeakMap<SqliteDatabase, Control>();

  constructor(
    private readonly connection: () => SqliteDatabase,
    private readonly gate: TransactionGate,
  ) {}

  /** Queues a write for the commit at the end of this event-loop turn; resolves with the rows it changed. */
  run(prepared: () => SqliteStatement, params: unknown[]): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.queue.push({ prepared, params, resolve, reject }) === 1 && !this.flushing) setImmediate(this.flush);
    });
  }

  /** Commits what is queued now (before the connection closes). */
  async drain(): Promise<void> {
    while (this.queue.length || this.flushing) await this.flush();
  }

  private readonly flush = (): Promise<void> =>
    (this.flushing ??= this.commitQueued().finally(() => {
      this.flushing = null;
      if (this.queue.length) setImmediate(this.flush);
    }));

  private async commitQueued(): Promise<void> {
    let waitedSince: number | undefined;
    for (let attempt = 0; ; attempt++) {
      // An open Prisma transaction holds the connection: the batch would become part of it (sqlite-transaction-gate.ts).
      // Writes arriving meanwhile join this batch.
      if (this.gate.closed) await this.gate.pass();
      const batch = this.queue;
      if (!batch.length) return;
      let outcomes: Outcome[] | Busy;
      try {
        outcomes = this.tryCommit(batch);
      } catch (error) {
        // Nothing ran (the connection is gone, say): every caller hears of it rather than waiting for ever.
        outcomes = batch.map(() => ({ error }));
      }
      if ('busyForMs' in outcomes) {
        waitedSince ??= performance.now();
        if (performance.now() - waitedSince < outcomes.busyForMs) {
          await new Promise((resolve) => (attempt === 0 ? setImmediate(resolve) : setTimeout(resolve, RETRY_MS)));
          continue;
        }
        // As long as SQLite's busy handler would have waited: the same error it gives.
        outcomes = batch.map(() => ({ error: busyError() }));
      }
      this.queue = [];
      outcomes.forEach((outcome, i) =>
        'error' in outcome ? batch[i].reject(outcome.error) : batch[i].resolve(outcome.changes),
      );
      return;
    }
  }

  /** Commits the batch in one transaction, or says it is busy (nothing run) when another connection holds the lock. */
  private tryCommit(batch: QueuedWrite[]): Outcome[] | Busy {
    const db = this.connection();
    const control = this.controlStatements(db);
    if (batch.length === 1) {
      // One write is a transaction of its own (a statement that fails busy has changed nothing): no BEGIN and COMMIT
      // around it, which cost a lone write about a quarter more (measured).
      const outcome = withoutWaiting(db, control, () => runAlone(batch[0]));
      return 'error' in outcome && isBusy(outcome.error) ? { busyForMs: control.busyTimeoutMs } : [outcome];
    }
    try {
      withoutWaiting(db, control, () => control.begin.run());
    } catch (err) {
      if (isBusy(err)) return { busyForMs: control.busyTimeoutMs };
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

  private controlStatements(db: SqliteDatabase): Control {
    let control = this.control.get(db);
    if (!control) {
      const busyTimeoutMs = Number(db.pragma('busy_timeout', { simple: true }));
      control = {
        begin: db.prepare('BEGIN IMMEDIATE'),
        commit: db.prepare('COMMIT'),
        rollback: db.prepare('ROLLBACK'),
        busyTimeoutMs,
        restoreBusyTimeout: `PRAGMA busy_timeout = ${busyTimeoutMs}`,
      };
      this.control.set(db, control);
    }
    return control;
  }
}

/** Runs `fn` with the connection's busy timeout at 0: a statement that needs the write lock another connection holds
 *  fails at once with SQLITE_BUSY instead of sleeping in SQLite's busy handler. SQLite applies a busy_timeout pragma
 *  when the statement is prepared, not when it runs, so a prepared one cannot be run again; exec() sets it without
 *  building a statement object (0.6 µs a setting here, against 3–4 µs through db.pragma(), measured). */
function withoutWaiting<T>(db: SqliteDatabase, control: Control, fn: () => T): T {
  db.exec('PRAGMA busy_timeout = 0');
  try {
    return fn();
  } finally {
    db.exec(control.restoreBusyTimeout);
  }
}

const isBusy = (err: unknown) => String((err as { code?: string }).code).startsWith('SQLITE_BUSY');

/** What SQLite's busy handler throws once its timeout has passed. */
function busyError() {
  return Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
}

function runAlone(write: QueuedWrite): Outcome {
  try {
    return { changes: write.prepared().run(...write.params).changes };
  } catch (error) {
    return { error };
  }
}
