// One batch of valid rows against the directory: look the batch's users and pre-links up in two queries,
// decide per row (created / updated / unchanged / rejected), then write with a few multi-row statements.
// Called inside a transaction by the import service, so a batch is written entirely or not at all.
//
// A row is "unchanged" when the stored user already equals it (every column the file gives, and the pre-link).
// That is what makes a re-run of the same file after a crash finish without duplicates, in either mode: rows the
// crashed run committed compare equal now. In create-only mode an existing user that differs is rejected, never
// changed.
import { randomUUID } from 'node:crypto';
import type { StoredUser, UserBulkSql, UserRecord } from '../../store/user-bulk.ts';
import type { Rejection } from './rows.ts';
import type { ValidRow } from './validate-row.ts';

export type ImportMode = 'create' | 'upsert';

export interface BatchResult {
  created: number;
  updated: number;
  unchanged: number;
  rejections: Rejection[];
}

/** The directory changed between this batch's reads and writes (a login created the user, say): retry it. */
export class BatchRace extends Error {
  constructor(what: string) {
    super(`the directory changed while the batch was written (${what})`);
    this.name = 'BatchRace';
  }
}

const TEXT_COLUMNS = ['username', 'firstName', 'lastName', 'phone'] as const;
const norm = (v: string | null | undefined) => v?.trim() || null;
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Decides every row of the batch and, when `write` is set, writes the decisions. */
export async function applyBatch(
  sql: UserBulkSql,
  rows: ValidRow[],
  opts: { mode: ImportMode; write: boolean; now: Date },
): Promise<BatchResult> {
  const result: BatchResult = { created: 0, updated: 0, unchanged: 0, rejections: [] };
  if (!rows.length) return result;
  const existing = new Map((await sql.findUsers(rows.map((r) => r.emailLower))).map((u) => [u.emailLower, u]));
  const linkNameIds = rows.flatMap((r) => (r.link ? [r.link.nameId] : []));
  const linkedTo = new Map((await sql.findLinks(linkNameIds)).map((l) => [`${l.idpId}\n${l.nameId}`, l.userId]));

  const creates: UserRecord[] = [];
  const updates: UserRecord[] = [];
  const links: { userId: string; idpId: string; nameId: string }[] = [];
  const reject = (row: ValidRow, column: string, reason: string) =>
    result.rejections.push({ line: row.line, column, reason, email: row.email });

  for (const row of rows) {
    const user = existing.get(row.emailLower);
    const owner = row.link && linkedTo.get(`${row.link.idpId}\n${row.link.nameId}`);
    if (row.link && owner && owner !== user?.id) {
      reject(row, 'nameId', 'this IdP identity (idp + nameId) is already linked to another user of this organisation');
      continue;
    }
    const needsLink = row.link !== undefined && !owner;
    if (!user) {
      const id = randomUUID();
      creates.push({
        id,
        email: row.email,
        emailLower: row.emailLower,
        username: row.set.username ?? null,
        firstName: row.set.firstName ?? null,
        lastName: row.set.lastName ?? null,
        phone: row.set.phone ?? null,
        groups: row.set.groups ?? [],
        status: row.set.status ?? 'active',
      });
      if (needsLink) links.push({ userId: id, ...row.link! });
      result.created++;
      continue;
    }
    const { record, changed } = merge(user, row);
    if (!changed && !needsLink) result.unchanged++;
    else if (opts.mode === 'create')
      reject(
        row,
        'email',
        'a user with this email already exists and differs from this row; create-only mode never changes existing users (use upsert mode to update them)',
      );
    else {
      if (changed) updates.push(record);
      if (needsLink) links.push({ userId: user.id, ...row.link! });
      result.updated++;
    }
  }

  if (opts.write) {
    if ((await sql.insertUsers(creates, opts.now)) !== creates.length)
      throw new BatchRace('a user to create exists now');
    await sql.updateUsers(updates, opts.now);
    if ((await sql.insertLinks(links, opts.now)) !== links.length)
      throw new BatchRace('an identity to link is linked now');
  }
  return result;
}

/** The stored user with the row applied: columns absent from the file keep their stored value exactly. */
function merge(user: StoredUser, row: ValidRow): { record: UserRecord; changed: boolean } {
  const record: UserRecord = {
    id: user.id,
    email: row.email,
    emailLower: row.emailLower,
    username: user.username,
    firstName: user.firstName,
    lastName: user.lastName,
    phone: user.phone,
    groups: user.groups,
    status: user.status === 'disabled' ? 'disabled' : 'active',
  };
  let changed = row.email !== user.email;
  for (const column of TEXT_COLUMNS) {
    const value = row.set[column];
    if (value === undefined) continue;
    if (value !== norm(user[column])) changed = true;
    record[column] = value;
  }
  if (row.set.groups && !sameList(row.set.groups, user.groups.map((g) => g.trim()).filter(Boolean))) {
    changed = true;
    record.groups = row.set.groups;
  }
  if (row.set.status && row.set.status !== user.status) {
    changed = true;
    record.status = row.set.status;
  }
  return { record, changed };
}
