// Bulk-import jobs of one organisation. A job row is both the pollable status of an import and its lock: while a
// non-dry-run job is `running` and alive, no second import into the organisation may start.
//
// Why the check-and-insert is race-safe without a partial unique index (Prisma cannot declare one): `begin` first
// writes to the organisation's own row (a no-op UPDATE) inside the transaction. On PostgreSQL that row lock queues
// every other `begin` for the same organisation behind ours until we commit, and READ COMMITTED then lets the next
// one see our new job. On SQLite the UPDATE takes the database write lock as the transaction's first statement, so a
// second process waits (busy timeout) instead of interleaving. Other organisations are not blocked.
//
// Liveness: a running job carries a heartbeat (in `report` while it runs, see ImportJobState); a job without a
// heartbeat for `staleAfterMs` (IMPORT_STALE_AFTER_SECONDS) is treated as dead (its process crashed) and is marked
// failed (phase "abandoned") by the next `begin`, which returns it so that the caller can say so and audit it.
// One exception on PostgreSQL: a job row locked by an open transaction belongs to a live import (an all-or-nothing
// import writes everything in one transaction, and its heartbeats inside it are invisible until it commits), so it
// is never taken over (`FOR UPDATE SKIP LOCKED` finds it locked; `begin` does not wait for that lock). On SQLite
// such a transaction holds the database's single write lock, so `begin` cannot run until it ends.
// Marking it is a compare-and-set on the exact `report` text we read, so a job that heartbeats in the meantime is
// not taken over; and the owner's writes each start with `claim`, which fails once the job is no longer running.
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';
import type { Dialect } from './engine/sql.ts';

type Row = Awaited<ReturnType<Db['importJob']['findUniqueOrThrow']>>;
export type ImportJobStatus = 'running' | 'done' | 'failed';

/** What a running job keeps in `report` until it finishes (then `report` holds the final report). */
export interface ImportJobState {
  phase: string;
  heartbeatAt: string;
  [key: string]: unknown;
}

export interface ImportJob extends Omit<Row, 'report' | 'status'> {
  status: ImportJobStatus;
  report: Record<string, unknown>;
  /** last sign of life: the heartbeat of a running job, else finishedAt/createdAt */
  heartbeatAt: Date;
  dryRun: boolean;
}

/** Job modes containing this flag never hold the organisation's import lock (they write no users). */
export const DRY_RUN_FLAG = 'dry-run';

const fromRow = (row: Row): ImportJob => {
  const report = parseJson<Record<string, unknown>>(row.report, {});
  const beat = typeof report.heartbeatAt === 'string' ? new Date(report.heartbeatAt) : null;
  return {
    ...row,
    status: row.status as ImportJobStatus,
    report,
    heartbeatAt: beat && !Number.isNaN(beat.getTime()) ? beat : (row.finishedAt ?? row.createdAt),
    dryRun: row.mode.split(',').includes(DRY_RUN_FLAG),
  };
};

export type BeginResult = { job: ImportJob; abandoned: ImportJob[] } | { blockedBy: ImportJob };

export class ImportJobRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
    private readonly dialect: Dialect = 'sqlite',
  ) {}

  /**
   * Creates a running job. Unless the mode is a dry run, refuses (returns `blockedBy`) while another live
   * non-dry-run job of this organisation is running; running jobs (dry runs too) silent for `staleAfterMs` are
   * marked failed (returned in `abandoned`) and do not block.
   */
  async begin(
    input: { mode: string; fileHash?: string; state: Omit<ImportJobState, 'heartbeatAt'> },
    now: Date,
    staleAfterMs: number,
  ): Promise<BeginResult> {
    const state = toJson({ ...input.state, heartbeatAt: now.toISOString() });
    const data = {
      orgId: this.orgId,
      status: 'running',
      mode: input.mode,
      fileHash: input.fileHash ?? '',
      report: state,
      createdAt: now,
    };
    if (input.mode.split(',').includes(DRY_RUN_FLAG))
      return { job: fromRow(await this.db.importJob.create({ data })), abandoned: [] };

    return inTransaction(this.db, async (tx) => {
      // The lock: see the header comment. "name" = "name" changes nothing but takes the row's write lock.
      const locked = await tx.$executeRaw`UPDATE "Organization" SET "name" = "name" WHERE "id" = ${this.orgId}`;
      if (locked !== 1) throw new Error(`organisation ${this.orgId} does not exist`);
      const running = await tx.importJob.findMany({
        where: { orgId: this.orgId, status: 'running' },
        orderBy: { createdAt: 'asc' },
      });
      const abandoned: ImportJob[] = [];
      for (const row of running) {
        const job = fromRow(row);
        const live =
          now.getTime() - job.heartbeatAt.getTime() <= staleAfterMs || (await this.lockedByLiveTransaction(tx, row.id));
        if (live) {
          if (job.dryRun) continue; // a live dry run writes no users: it does not block
          return { blockedBy: job };
        }
        const report = toJson({
          ...job.report,
          phase: 'abandoned',
          error: {
            code: 'import_abandoned',
            message: `The import stopped without finishing (no sign of life since ${job.heartbeatAt.toISOString()}); a later import took over.`,
          },
        });
        const marked = await tx.importJob.updateMany({
          where: { id: row.id, status: 'running', report: row.report },
          data: { status: 'failed', finishedAt: now, report },
        });
        if (marked.count !== 1 && !job.dryRun) return { blockedBy: job }; // it showed a sign of life after all
        abandoned.push({ ...job, status: 'failed', finishedAt: now });
      }
      return { job: fromRow(await tx.importJob.create({ data })), abandoned };
    });
  }

  /** PostgreSQL: the row is locked by another open transaction (its import is alive). Otherwise locks it for us. */
  private async lockedByLiveTransaction(tx: Db, id: string): Promise<boolean> {
    if (this.dialect !== 'postgresql') return false;
    const rows = await tx.$queryRaw<
      { id: string }[]
    >`SELECT "id" FROM "ImportJob" WHERE "id" = ${id} FOR UPDATE SKIP LOCKED`;
    return rows.length === 0;
  }

  /**
   * Records progress and a heartbeat, but only while the job is still running (not taken over as abandoned).
   * Run it first in each write transaction: it proves ownership, and on SQLite it takes the write lock up front.
   */
  async claim(
    id: string,
    progress: { state: ImportJobState; doneRows?: number; totalRows?: number; errorCount?: number; fileHash?: string },
  ): Promise<boolean> {
    const { state, ...columns } = progress;
    const updated = await this.db.importJob.updateMany({
      where: { id, orgId: this.orgId, status: 'running' },
      data: { ...columns, report: toJson(state) },
    });
    return updated.count === 1;
  }

  /** Ends a running job with its final report; false if it was no longer running. */
  async finish(
    id: string,
    status: Exclude<ImportJobStatus, 'running'>,
    result: {
      report: Record<string, unknown>;
      doneRows?: number;
      totalRows?: number;
      errorCount?: number;
      fileHash?: string;
    },
    now: Date,
  ): Promise<boolean> {
    const { report, ...columns } = result;
    const updated = await this.db.importJob.updateMany({
      where: { id, orgId: this.orgId, status: 'running' },
      data: { ...columns, status, report: toJson(report), finishedAt: now },
    });
    return updated.count === 1;
  }

  async findById(id: string) {
    const row = await this.db.importJob.findFirst({ where: { id, orgId: this.orgId } });
    return row && fromRow(row);
  }

  async list(opts: { take?: number } = {}) {
    const rows = await this.db.importJob.findMany({
      where: { orgId: this.orgId },
      orderBy: { createdAt: 'desc' },
      take: Math.min(opts.take ?? 20, 200),
    });
    return rows.map(fromRow);
  }

  /** The latest earlier job for the same file that did not finish (crashed, abandoned or failed), if any. */
  async findUnfinished(fileHash: string, excludeId: string) {
    const row = await this.db.importJob.findFirst({
      where: {
        orgId: this.orgId,
        fileHash,
        status: { in: ['failed', 'running'] },
        id: { not: excludeId },
        NOT: { mode: { contains: DRY_RUN_FLAG } },
      },
      orderBy: { createdAt: 'desc' },
    });
    return row && fromRow(row);
  }
}

/** Runs `work` in a transaction, or directly when `db` is already a transaction client (it has no $transaction). */
function inTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  if (typeof (db as { $transaction?: unknown }).$transaction !== 'function') return work(db);
  return db.$transaction((tx) => work(tx as unknown as Db), { maxWait: 10_000, timeout: 30_000 });
}
