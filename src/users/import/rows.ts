// What the readers (CSV, JSON) hand to validation: one record with the physical line it starts on, its values by
// column, and any problems already found while reading it (unknown column, wrong number of fields).
import { AppError } from '../../errors.ts';
import type { Column } from './columns.ts';

export interface Rejection {
  /** physical line of the file where the record starts (1 = first line, the CSV header) */
  line: number;
  /** the column at fault, or null when the record as a whole is */
  column: string | null;
  reason: string;
  /** the row's email as written, when it has one: helps find the row */
  email?: string;
}

export type RawValue = string | number | boolean | null | undefined | unknown[] | Record<string, unknown>;

export interface SourceRow {
  line: number;
  /** present columns only: an absent column leaves the stored value alone, an empty one clears it */
  values: Partial<Record<Column, RawValue>>;
  problems: Rejection[];
}

export interface ReaderLimits {
  /** longest record (CSV) or array item (JSON) in characters; longer means a broken file, not a long field */
  maxRecordChars: number;
}

/** The file as a whole cannot be read: nothing is written. */
export const fileError = (code: 'import_bad_header' | 'import_bad_file', message: string, line?: number) =>
  new AppError(code, message, line === undefined ? undefined : { line });
