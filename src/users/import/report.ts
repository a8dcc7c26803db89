// What an import tells the admin (CLI output, API response, stored on the job for polling).
import type { ImportMode } from './apply-batch.ts';
import type { Rejection } from './rows.ts';
import type { ImportFormat } from './source.ts';

export type ImportPhase = 'starting' | 'validating' | 'checking' | 'writing' | 'disabling' | 'done' | 'failed';

export interface ImportCounts {
  created: number;
  updated: number;
  unchanged: number;
  disabled: number;
  /** rows rejected (a row with several problems counts once; `rejections` lists every problem) */
  rejected: number;
}

export interface ImportReport {
  jobId: string;
  format: ImportFormat;
  mode: ImportMode;
  dryRun: boolean;
  allOrNothing: boolean;
  disableMissing: boolean;
  /** false for a dry run, and for an all-or-nothing import refused because of rejected rows (then nothing changed) */
  written: boolean;
  /** data rows in the file (blank lines not counted) */
  rows: number;
  /** what was done; in a dry run, what would be done; in a refused all-or-nothing import, all zero but `rejected` */
  counts: ImportCounts;
  /** every problem, in file order */
  rejections: Rejection[];
  /** set on stored copies when `rejections` was cut to the storage limit: how many were left out */
  rejectionsOmitted?: number;
  /** an earlier, unfinished import of the same file that this run completed */
  resumedFrom: string | null;
  fileHash: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

export interface ImportProgress {
  jobId: string;
  phase: ImportPhase;
  /** rows read so far (validating) or handled so far (checking, writing) */
  rowsDone: number;
  /** known once the file has been validated */
  rowsTotal: number | null;
  /** rejected rows so far */
  errors: number;
}

/** A job as an API would show it while polling. */
export interface ImportJobView {
  id: string;
  status: 'running' | 'done' | 'failed';
  phase: ImportPhase;
  mode: string;
  dryRun: boolean;
  rowsDone: number;
  rowsTotal: number | null;
  errors: number;
  createdAt: Date;
  finishedAt: Date | null;
  heartbeatAt: Date;
  report: ImportReport | null;
  error: { code: string; message: string } | null;
}
