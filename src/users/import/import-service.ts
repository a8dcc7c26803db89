// Bulk import of users into one organisation's directory: parse -> validate -> write in batches, with a report.
//
// The file is read in passes, streaming each time (memory does not grow with the file):
//   1. validate: every row checked without touching users; counts rows, hashes the file, enforces the row limit
//      and remembers every email the file names. Nothing is written before this pass has succeeded.
//   2. check (dry run; all-or-nothing): each batch is compared with the directory, nothing is written.
//   3. write: each batch in its own transaction (all-or-nothing: every batch in one transaction, after a clean
//      check), then, with disable-missing, active users the file does not name are disabled.
// The job row (src/store/import-jobs.ts) is the organisation's import lock and what an API polls; each write
// transaction first re-claims it, so a job that was given up as dead can never write again.
//
// Restart: re-running the same file after a crash redoes every row; the rows the dead run committed now compare
// equal to the directory and count as unchanged, so nothing is duplicated and create-only mode rejects nothing
// that it created itself. The report names the dead run (`resumedFrom`).
//
// Liveness (issue 24): while it runs, an import writes a heartbeat every `heartbeatMs` (IMPORT_HEARTBEAT_SECONDS)
// from a timer, so a slow step (a slow file, a slow directory read, a caller's hook) does not make it look dead. The
// timer writes only outside transactions, on the pool's own connection: inside a write transaction the job row is
// the transaction's (claimed first), and a second write to it would wait for the commit (PostgreSQL: row lock;
// SQLite: the single writer) and could then overwrite newer progress with older. Each write transaction records a
// heartbeat itself when it starts and when it commits; a transaction that runs longer than the stale limit (an
// all-or-nothing import) is recognised as alive by its lock (see src/store/import-jobs.ts). A job silent for
// `staleJobAfterMs` (IMPORT_STALE_AFTER_SECONDS) is dead: the next import marks it abandoned, audits that at once
// (users.import.abandoned), says so (`onNotice`, `StartedImport.abandoned`), and resumes the file.
import type { Config } from '../../config/config.ts';
import { createHash } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { AppError } from '../../errors.ts';
import { DRY_RUN_FLAG, type ImportJob, type ImportJobState } from '../../store/import-jobs.ts';
import type { Store, TenantStore } from '../../store/store.ts';
import { applyBatch, BatchRace, type BatchResult, type ImportMode } from './apply-batch.ts';
import { readCsv } from './csv-reader.ts';
import { readJson } from './json-reader.ts';
import type { ImportCounts, ImportJobView, ImportPhase, ImportProgress, ImportReport } from './report.ts';
import type { Rejection, SourceRow } from './rows.ts';
import { openSource, type ImportFormat, type ImportSource, type OpenedSource } from './source.ts';
import { RowValidator, type ValidRow } from './validate-row.ts';

export interface UserImportServiceOptions {
  /** largest accepted file, in bytes (default 50 MB) */
  maxFileBytes?: number;
  /** most data rows accepted (default 200,000) */
  maxRows?: number;
  /** rows per write transaction (default 2,000) */
  batchSize?: number;
  /** a running job with no heartbeat for this long is considered dead and no longer blocks (default 30 s) */
  staleJobAfterMs?: number;
  /** how often a running import writes its heartbeat (default 5 s); keep it well under staleJobAfterMs */
  heartbeatMs?: number;
  /** longest CSV record / JSON item in characters; longer means a broken file (default 64 KB) */
  maxRecordChars?: number;
  /** rejections kept in the stored job report (the returned report has all) (default 10,000) */
  maxStoredRejections?: number;
  /** the single transaction of an all-or-nothing import (default 10 minutes) */
  allOrNothingTimeoutMs?: number;
  /** test seam: runs after each committed write batch; throwing or never settling simulates a crash */
  afterBatch?: (info: { jobId: string; batch: number; rowsDone: number }) => void | Promise<void>;
}

export interface ImportOptions {
  /** create: only add new users (default); upsert: add new users and update existing ones (matched by email) */
  mode?: ImportMode;
  /** default: from the file name (.json) or the first character ([ means JSON) */
  format?: ImportFormat;
  /** disable active users the file does not name */
  disableMissing?: boolean;
  /** validate and compare, write nothing, return the same report */
  dryRun?: boolean;
  /** one rejected row means nothing is written */
  allOrNothing?: boolean;
  /** who runs it, for the audit log (e.g. "cli", an admin's email) */
  actor?: string;
  onProgress?: (progress: ImportProgress) => void;
  /** one-line messages worth showing to whoever runs the import (an abandoned job taken over, resuming it) */
  onNotice?: (message: string) => void;
}

export interface StartedImport {
  jobId: string;
  /** settles when the import ends: the report, or the error that stopped it (also stored on the job) */
  done: Promise<ImportReport>;
  /** earlier jobs of this organisation found dead (no heartbeat) and marked abandoned by this start */
  abandoned: ImportJobView[];
}

/** The service's liveness settings from the configuration (IMPORT_HEARTBEAT_SECONDS, IMPORT_STALE_AFTER_SECONDS). */
export function importLiveness(
  config: Pick<Config, 'importHeartbeatSeconds' | 'importStaleAfterSeconds'>,
): Pick<UserImportServiceOptions, 'heartbeatMs' | 'staleJobAfterMs'> {
  return { heartbeatMs: config.importHeartbeatSeconds * 1000, staleJobAfterMs: config.importStaleAfterSeconds * 1000 };
}

/** The largest import file, in the console and the API alike (their upload limits follow it). */
export const MAX_IMPORT_FILE_BYTES = 50 * 1024 * 1024;

const DEFAULTS = {
  maxFileBytes: MAX_IMPORT_FILE_BYTES,
  maxRows: 200_000,
  batchSize: 2_000,
  staleJobAfterMs: 30_000,
  heartbeatMs: 5_000,
  maxRecordChars: 64 * 1024,
  maxStoredRejections: 10_000,
  allOrNothingTimeoutMs: 10 * 60_000,
};
const BATCH_ATTEMPTS = 3;

interface Tally {
  rowsDone: number;
  rejectedRows: number;
  created: number;
  updated: number;
  unchanged: number;
  rejections: Rejection[];
}

/** Thrown inside the all-or-nothing transaction to roll it back when rows were rejected after all. */
class RollBack extends Error {}

export class UserImportService {
  private readonly opts: typeof DEFAULTS & Pick<UserImportServiceOptions, 'afterBatch'>;

  constructor(
    private readonly deps: { store: Store; clock: Clock },
    options: UserImportServiceOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    if (!(this.opts.batchSize >= 1)) throw new Error('batchSize must be at least 1');
  }

  /** Imports and waits for the report. */
  async run(orgId: string, source: ImportSource, options: ImportOptions = {}): Promise<ImportReport> {
    return (await this.start(orgId, source, options)).done;
  }

  /**
   * Checks the file size, takes the organisation's import lock (a running job), and goes on in the background.
   * Fails at once with 413 import_too_large or 409 import_in_progress, so an API can answer before the work.
   */
  async start(orgId: string, source: ImportSource, options: ImportOptions = {}): Promise<StartedImport> {
    const mode = options.mode ?? 'create';
    if (mode !== 'create' && mode !== 'upsert')
      throw new AppError('import_bad_mode', `Unknown import mode "${mode}": use create or upsert.`);
    if (!(await this.deps.store.organizations.findById(orgId)))
      throw new AppError('org_not_found', 'No such organisation.');
    const store = this.deps.store.forOrg(orgId);
    const file = await openSource(source, options.format);
    let job: ImportJob;
    let begun: Awaited<ReturnType<TenantStore['importJobs']['begin']>>;
    try {
      if (file.size > this.opts.maxFileBytes) {
        throw new AppError(
          'import_too_large',
          `The file is ${mb(file.size)}; the limit is ${mb(this.opts.maxFileBytes)}. Split it into smaller files.`,
        );
      }
      const flags = [
        mode,
        options.disableMissing && 'disable-missing',
        options.allOrNothing && 'all-or-nothing',
        options.dryRun && DRY_RUN_FLAG,
      ]
        .filter(Boolean)
        .join(',');
      begun = await store.importJobs.begin(
        { mode: flags, state: { phase: 'starting', format: file.format, file: file.name, bytes: file.size } },
        this.deps.clock.now(),
        this.opts.staleJobAfterMs,
      );
      if ('blockedBy' in begun) {
        const other = begun.blockedBy;
        throw new AppError(
          'import_in_progress',
          `Another import into this organisation is running (job ${other.id}, started ${other.createdAt.toISOString()}, ${other.doneRows} of ${other.totalRows || '?'} rows done, last sign of life ${other.heartbeatAt.toISOString()}). Wait for it to finish, then try again; if its process died, it counts as abandoned ${Math.round(this.opts.staleJobAfterMs / 1000)} s after its last sign of life.`,
          { jobId: other.id },
        );
      }
      job = begun.job;
      for (const dead of begun.abandoned) await this.recordAbandoned(store, dead, job, options);
    } catch (err) {
      await file.close();
      throw err;
    }
    const done = new ImportRun(this.deps, this.opts, store, job, file, { ...options, mode })
      .execute()
      .finally(() => file.close());
    done.catch(() => {}); // the caller may only poll; the outcome is on the job either way
    return { jobId: job.id, done, abandoned: 'abandoned' in begun ? begun.abandoned.map(jobView) : [] };
  }

  /** Said and audited as soon as it is known, not when this import ends. */
  private async recordAbandoned(store: TenantStore, dead: ImportJob, by: ImportJob, options: ImportOptions) {
    const rows = `${dead.doneRows} of ${dead.totalRows || '?'} rows`;
    options.onNotice?.(
      `import job ${dead.id} was abandoned at ${rows}: no sign of life since ${dead.heartbeatAt.toISOString()}; marked failed`,
    );
    try {
      await store.audit.record({
        type: 'users.import.abandoned',
        outcome: 'failure',
        actor: options.actor,
        details: {
          jobId: dead.id,
          mode: dead.mode,
          file: dead.report.file ?? null,
          rowsDone: dead.doneRows,
          rowsTotal: dead.totalRows || null,
          startedAt: dead.createdAt.toISOString(),
          lastHeartbeatAt: dead.heartbeatAt.toISOString(),
          takenOverBy: by.id,
        },
      });
    } catch {
      // the job row says it too; a lost audit line must not stop the new import
    }
  }

  /** A job of this organisation for polling (null if there is none with that id). */
  async getJob(orgId: string, jobId: string): Promise<ImportJobView | null> {
    const job = await this.deps.store.forOrg(orgId).importJobs.findById(jobId);
    return job && jobView(job);
  }

  async listJobs(orgId: string, take = 20): Promise<ImportJobView[]> {
    return (await this.deps.store.forOrg(orgId).importJobs.list({ take })).map(jobView);
  }
}

/** One import, from validation to the final report. */
class ImportRun {
  private readonly tally: Tally = {
    rowsDone: 0,
    rejectedRows: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    rejections: [],
  };
  private phase: ImportPhase = 'starting';
  private rowsTotal: number | null = null;
  private fileHash = '';
  private readonly started = performance.now();
  private readonly startedAt: Date;
  /** wall-clock start, compared with users' createdAt (set by the database layer's wall clock) */
  private readonly wallStart = new Date();
  private lastBeat = 0;
  /** write transactions open now: the heartbeat timer keeps quiet meanwhile (see the header) */
  private transactionsOpen = 0;
  private timerBeat: Promise<void> | null = null;

  constructor(
    private readonly deps: { store: Store; clock: Clock },
    private readonly opts: typeof DEFAULTS & Pick<UserImportServiceOptions, 'afterBatch'>,
    private readonly store: TenantStore,
    private readonly job: ImportJob,
    private readonly file: OpenedSource,
    private readonly options: ImportOptions & { mode: ImportMode },
  ) {
    this.startedAt = job.createdAt;
  }

  async execute(): Promise<ImportReport> {
    const stopHeartbeat = this.startHeartbeat();
    try {
      return await this.executeInner();
    } finally {
      stopHeartbeat();
      await this.timerBeat;
    }
  }

  /** Every `heartbeatMs`, outside transactions, unless a step wrote a heartbeat meanwhile. */
  private startHeartbeat() {
    const timer = setInterval(() => {
      if (this.transactionsOpen > 0 || this.timerBeat || Date.now() - this.lastBeat < this.opts.heartbeatMs / 2) return;
      this.lastBeat = Date.now();
      // A failure here (the job was taken over, the database is away) shows at the next write, which claims the job.
      this.timerBeat = this.claimOrThrow(this.store, {})
        .catch(() => {})
        .finally(() => {
          this.timerBeat = null;
        });
    }, this.opts.heartbeatMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async executeInner(): Promise<ImportReport> {
    try {
      const validator = new RowValidator(await this.store.identityProviders.list());
      await this.validate(validator);
      const namedEmails = validator.emails;
      const previous = await this.store.importJobs.findUnfinished(this.fileHash, this.job.id);
      if (previous) {
        const abandoned = (previous.report.error as { code?: string } | undefined)?.code === 'import_abandoned';
        this.options.onNotice?.(
          `${abandoned ? 'resuming import job' : 'completing the unfinished import job'} ${previous.id} ${abandoned ? 'abandoned' : 'stopped'} at ${previous.doneRows} of ${previous.totalRows || '?'} rows (rows it wrote count as unchanged)`,
        );
      }
      if (this.options.disableMissing && this.rowsTotal === 0) {
        throw new AppError(
          'import_empty_file',
          'The file has no rows; with "disable users missing from the file" that would disable everyone, so nothing was done.',
        );
      }

      let disabled = 0;
      let written = !this.options.dryRun;
      if (this.options.dryRun) {
        await this.classify(validator, (rows) => this.checkBatch(rows), 'checking');
        if (this.options.disableMissing) disabled = await this.disableMissing(namedEmails, null);
      } else if (this.options.allOrNothing) {
        await this.classify(validator, (rows) => this.checkBatch(rows), 'checking');
        if (this.tally.rejectedRows === 0) {
          this.resetTally();
          try {
            disabled = await this.transaction(this.opts.allOrNothingTimeoutMs, async (tx) => {
              await this.classify(validator, (rows, rowsRead) => this.writeBatchIn(tx, rows, rowsRead), 'writing');
              if (this.tally.rejectedRows > 0) throw new RollBack('rejected rows: roll back');
              return this.options.disableMissing ? this.disableMissing(namedEmails, tx) : 0;
            });
          } catch (err) {
            if (!(err instanceof RollBack)) throw err;
          }
        }
        if (this.tally.rejectedRows > 0) {
          written = false;
          Object.assign(this.tally, { created: 0, updated: 0, unchanged: 0 });
          disabled = 0;
        }
      } else {
        await this.classify(validator, (rows, rowsRead) => this.writeBatch(rows, rowsRead), 'writing');
        if (this.options.disableMissing) disabled = await this.disableMissing(namedEmails, null);
      }

      const report = this.report(
        {
          created: this.tally.created,
          updated: this.tally.updated,
          unchanged: this.tally.unchanged,
          disabled,
          rejected: this.tally.rejectedRows,
        },
        written,
        previous?.id ?? null,
      );
      this.phase = 'done';
      const stored = {
        ...report,
        rejections: report.rejections.slice(0, this.opts.maxStoredRejections),
        ...(report.rejections.length > this.opts.maxStoredRejections && {
          rejectionsOmitted: report.rejections.length - this.opts.maxStoredRejections,
        }),
      };
      if (
        !(await this.store.importJobs.finish(
          this.job.id,
          'done',
          {
            report: stored as unknown as Record<string, unknown>,
            doneRows: this.tally.rowsDone,
            totalRows: report.rows,
            errorCount: report.counts.rejected,
            fileHash: this.fileHash,
          },
          this.deps.clock.now(),
        ))
      ) {
        throw superseded();
      }
      this.progress();
      await this.audit('success', { counts: report.counts, written, dryRun: report.dryRun, rows: report.rows });
      return report;
    } catch (err) {
      this.phase = 'failed';
      const error = {
        code: err instanceof AppError ? err.code : 'import_failed',
        message: err instanceof AppError ? err.message : `The import stopped: ${(err as Error).message}`,
      };
      await this.store.importJobs
        .finish(
          this.job.id,
          'failed',
          {
            report: { ...this.state(), phase: 'failed', error },
            doneRows: this.tally.rowsDone,
            errorCount: this.tally.rejectedRows,
          },
          this.deps.clock.now(),
        )
        .catch(() => {});
      await this.audit('failure', { error });
      throw err;
    }
  }

  /** Pass 1: every row validated, nothing written; the validator remembers every email the file names. */
  private async validate(validator: RowValidator) {
    this.phase = 'validating';
    const hash = createHash('sha256');
    const file = this.file;
    const hashed = (async function* () {
      for await (const chunk of file.chunks()) {
        hash.update(chunk);
        yield chunk;
      }
    })();
    let rows = 0;
    let rejected = 0;
    for await (const chunk of this.rows(hashed)) {
      rows += chunk.length;
      if (rows > this.opts.maxRows) {
        throw new AppError(
          'import_too_many_rows',
          `The file has more than ${this.opts.maxRows.toLocaleString('en')} rows (the limit); nothing was imported. Split it into smaller files.`,
        );
      }
      for (const row of chunk) if (!validator.check(row).ok) rejected++;
      this.tally.rowsDone = rows;
      this.tally.rejectedRows = rejected;
      await this.beat();
    }
    this.fileHash = hash.digest('hex');
    this.rowsTotal = rows;
    this.resetTally();
    await this.claimOrThrow(this.store, { totalRows: rows, fileHash: this.fileHash });
    this.lastBeat = Date.now();
  }

  /**
   * Pass 2: rows checked again by the pass-1 validator (same answers) and handed to `runBatch` in batches.
   * `runBatch` reads the directory and writes (or not) and returns what it decided.
   */
  private async classify(
    validator: RowValidator,
    runBatch: (rows: ValidRow[], rowsRead: number) => Promise<BatchResult>,
    phase: ImportPhase,
  ) {
    this.phase = phase;
    let batch: ValidRow[] = [];
    let rows = 0;
    let batchNo = 0;
    const flush = async () => {
      if (!batch.length) return;
      const result = await runBatch(batch, rows);
      batch = [];
      this.tally.created += result.created;
      this.tally.updated += result.updated;
      this.tally.unchanged += result.unchanged;
      this.tally.rejectedRows += result.rejections.length;
      this.tally.rejections.push(...result.rejections);
      this.tally.rowsDone = rows;
      this.progress();
      if (phase === 'writing' && this.opts.afterBatch)
        await this.opts.afterBatch({ jobId: this.job.id, batch: ++batchNo, rowsDone: rows });
    };
    for await (const chunk of this.rows(this.file.chunks())) {
      for (const row of chunk) {
        rows++;
        const checked = validator.check(row);
        if (checked.ok) batch.push(checked.row);
        else {
          this.tally.rejectedRows++;
          this.tally.rejections.push(...checked.rejections);
        }
        if (batch.length >= this.opts.batchSize) await flush();
      }
    }
    await flush();
    this.tally.rowsDone = rows;
    this.progress();
    if (rows !== this.rowsTotal)
      throw new AppError('import_file_changed', 'The file changed while it was being imported; run the import again.');
    this.tally.rejections.sort((a, b) => a.line - b.line);
  }

  /** Dry run / all-or-nothing check: compare with the directory, write nothing. */
  private async checkBatch(rows: ValidRow[]) {
    const result = await applyBatch(this.store.userBulk, rows, {
      mode: this.options.mode,
      write: false,
      now: new Date(),
    });
    await this.beat();
    return result;
  }

  /** One batch, one transaction; retried when the directory changed under it (e.g. a login created a user). */
  private async writeBatch(rows: ValidRow[], rowsRead: number): Promise<BatchResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(60_000, (tx) => this.writeBatchIn(tx, rows, rowsRead));
      } catch (err) {
        if (!(err instanceof BatchRace) || attempt >= BATCH_ATTEMPTS) throw err;
      }
    }
  }

  private async writeBatchIn(tx: Store, rows: ValidRow[], rowsRead: number): Promise<BatchResult> {
    const store = tx.forOrg(this.store.orgId);
    // First statement: proves we still own the job (and on SQLite takes the write lock before any read).
    await this.claimOrThrow(store, {});
    try {
      const result = await applyBatch(store.userBulk, rows, { mode: this.options.mode, write: true, now: new Date() });
      // Progress committed with the rows it counts: a poller never sees rows done that are not in the directory.
      await this.claimOrThrow(store, {
        doneRows: rowsRead,
        errorCount: this.tally.rejectedRows + result.rejections.length,
      });
      return result;
    } catch (err) {
      if (err instanceof BatchRace && this.options.allOrNothing) {
        throw new AppError(
          'import_conflict',
          'The directory changed while the import was being written, so nothing was written. Run the import again.',
        );
      }
      throw err;
    }
  }

  /** Active users that existed when the import started and that the file does not name; disabled unless counting. */
  private async disableMissing(named: Map<string, number>, tx: Store | null): Promise<number> {
    this.phase = 'disabling';
    this.progress();
    const reader = tx ? tx.forOrg(this.store.orgId) : this.store;
    let afterId: string | undefined;
    let disabled = 0;
    for (;;) {
      const page = await reader.users.activePage({ afterId, take: 5_000, createdBefore: this.wallStart });
      if (!page.length) break;
      afterId = page[page.length - 1].id;
      const missing = page.filter((u) => !named.has(u.emailLower)).map((u) => u.id);
      if (this.options.dryRun) disabled += missing.length;
      else if (tx) disabled += await reader.userBulk.disableUsers(missing, new Date());
      else {
        for (let i = 0; i < missing.length; i += this.opts.batchSize) {
          const ids = missing.slice(i, i + this.opts.batchSize);
          disabled += await this.transaction(60_000, async (t) => {
            const inTx = t.forOrg(this.store.orgId);
            await this.claimOrThrow(inTx, {});
            return inTx.userBulk.disableUsers(ids, new Date());
          });
        }
      }
      if (!tx) await this.beat(); // inside the transaction, other connections wait for us: no side writes
    }
    return disabled;
  }

  private rows(chunks: AsyncIterable<Buffer>): AsyncGenerator<SourceRow[]> {
    const limits = { maxRecordChars: this.opts.maxRecordChars };
    return this.file.format === 'json' ? readJson(chunks, limits) : readCsv(chunks, limits);
  }

  private async transaction<T>(timeout: number, work: (tx: Store) => Promise<T>): Promise<T> {
    this.transactionsOpen++;
    try {
      await this.timerBeat; // a timer heartbeat in flight finishes before the transaction claims the job
      return await this.deps.store.transaction(work, { maxWaitMs: 30_000, timeoutMs: timeout });
    } finally {
      this.transactionsOpen--;
    }
  }

  private state(): ImportJobState {
    return {
      phase: this.phase,
      heartbeatAt: this.deps.clock.now().toISOString(),
      format: this.file.format,
      file: this.file.name,
      rowsDone: this.tally.rowsDone,
      rowsTotal: this.rowsTotal,
      errors: this.tally.rejectedRows,
    };
  }

  private async claimOrThrow(
    store: TenantStore,
    columns: { totalRows?: number; fileHash?: string; doneRows?: number; errorCount?: number },
  ) {
    const progress = { doneRows: this.tally.rowsDone, errorCount: this.tally.rejectedRows, ...columns };
    const state = { ...this.state(), rowsDone: progress.doneRows, errors: progress.errorCount };
    const ok = await store.importJobs.claim(this.job.id, { state, ...progress });
    if (!ok) throw superseded();
  }

  /** Progress to the caller; heartbeat + progress to the job row at most every heartbeatMs outside transactions. */
  private async beat() {
    this.progress();
    if (Date.now() - this.lastBeat < this.opts.heartbeatMs || this.timerBeat) return;
    this.lastBeat = Date.now();
    await this.claimOrThrow(this.store, {});
  }

  private progress() {
    this.options.onProgress?.({
      jobId: this.job.id,
      phase: this.phase,
      rowsDone: this.tally.rowsDone,
      rowsTotal: this.rowsTotal,
      errors: this.tally.rejectedRows,
    });
  }

  private resetTally() {
    Object.assign(this.tally, { rowsDone: 0, rejectedRows: 0, created: 0, updated: 0, unchanged: 0, rejections: [] });
  }

  private report(counts: ImportCounts, written: boolean, resumedFrom: string | null): ImportReport {
    const finishedAt = this.deps.clock.now();
    return {
      jobId: this.job.id,
      format: this.file.format,
      mode: this.options.mode,
      dryRun: !!this.options.dryRun,
      allOrNothing: !!this.options.allOrNothing,
      disableMissing: !!this.options.disableMissing,
      written,
      rows: this.rowsTotal ?? 0,
      counts,
      rejections: this.tally.rejections,
      resumedFrom,
      fileHash: this.fileHash,
      startedAt: this.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: Math.round(performance.now() - this.started),
    };
  }

  private async audit(outcome: 'success' | 'failure', details: Record<string, unknown>) {
    try {
      await this.store.audit.record({
        type: 'users.import',
        outcome,
        actor: this.options.actor,
        details: { jobId: this.job.id, mode: this.options.mode, file: this.file.name, ...details },
      });
    } catch {
      // the import's outcome is on the job row; a lost audit line must not turn it into an error
    }
  }
}

function superseded() {
  return new AppError(
    'import_superseded',
    'This import stopped: it was silent for too long and another import of this organisation took over.',
  );
}

function mb(bytes: number) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function jobView(job: ImportJob): ImportJobView {
  const r = job.report as Record<string, unknown>;
  const finished = job.status !== 'running';
  const report = job.status === 'done' && typeof r.jobId === 'string' ? (r as unknown as ImportReport) : null;
  const phase = (job.status === 'done' ? 'done' : job.status === 'failed' ? 'failed' : r.phase) as ImportPhase;
  return {
    id: job.id,
    status: job.status,
    phase,
    mode: job.mode,
    dryRun: job.dryRun,
    rowsDone: finished ? job.doneRows : Number(r.rowsDone ?? job.doneRows),
    rowsTotal: job.totalRows || (typeof r.rowsTotal === 'number' ? r.rowsTotal : null),
    errors: finished ? job.errorCount : Number(r.errors ?? job.errorCount),
    createdAt: job.createdAt,
    finishedAt: job.finishedAt,
    heartbeatAt: job.heartbeatAt,
    report,
    error: (r.error as ImportJobView['error']) ?? null,
  };
}
