// Checks one record against the rules that need no database lookup of users: email syntax, lengths, status,
// groups, pre-link (IdP of this organisation, by entity ID, id or name, + NameID), and duplicates inside the file (emails compared without
// regard to case; the first occurrence wins, later ones are rejected). Re-checking a row gives the same answer,
// so an import validates the whole file in one pass and then feeds the same validator the file again while it
// writes (the second pass reuses the first pass's memory of emails instead of building it twice).
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { idpResolver, type IdpReference } from '../idp-reference.ts';
import { MAX_GROUPS, MAX_LENGTH, type Column } from './columns.ts';
import type { RawValue, Rejection, SourceRow } from './rows.ts';

export type UserStatus = 'active' | 'disabled';

/** A valid row: `set` holds only the columns the file gives (an absent column leaves stored values alone). */
export interface ValidRow {
  line: number;
  email: string;
  emailLower: string;
  set: {
    username?: string | null;
    firstName?: string | null;
    lastName?: string | null;
    phone?: string | null;
    groups?: string[];
    status?: UserStatus;
  };
  link?: { idpId: string; nameId: string };
}

export type CheckResult = { ok: true; row: ValidRow } | { ok: false; rejections: Rejection[] };

// Pragmatic address check: one @, no whitespace, a dotted domain without empty labels, RFC length limits.
const EMAIL = /^[^\s@]{1,64}@(?=.{1,253}$)[^\s@.]+(\.[^\s@.]+)+$/;
// C0 controls other than tab, CR and LF, and DEL: PostgreSQL refuses NUL, and none belongs in a directory field.
export const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const TEXT_FIELDS = ['username', 'firstName', 'lastName', 'phone'] as const;
const GROUP_SEPARATOR = /[;|]/;

export class RowValidator {
  /** every email the file names (lower-cased, even when the row is rejected) -> line of its first occurrence */
  readonly emails = new Map<string, number>();
  private readonly links = new Map<string, number>();
  private readonly idpOf: (reference: string) => IdpReference;

  constructor(identityProviders: IdentityProvider[]) {
    this.idpOf = idpResolver(identityProviders);
  }

  check(src: SourceRow): CheckResult {
    const { line, values } = src;
    const problems = src.problems; // the reader's, extended (each row object is checked once)
    const fail = (column: Column | null, reason: string) => problems.push({ line, column, reason });

    const emailText = this.text(values.email, 'email', fail);
    const email = emailText ?? '';
    const emailLower = email.toLowerCase();
    if (emailText === '') fail('email', 'email is required');
    else if (emailText !== undefined) {
      const first = this.emails.get(emailLower);
      if (first === undefined) this.emails.set(emailLower, line);
      else if (first !== line)
        fail('email', `duplicate inside the file: line ${first} has the same email (compared without regard to case)`);
      if (email.length > MAX_LENGTH.email) fail('email', `longer than ${MAX_LENGTH.email} characters`);
      else if (!EMAIL.test(email)) fail('email', 'not a valid email address');
    }

    const set: ValidRow['set'] = {};
    for (const column of TEXT_FIELDS) {
      if (!(column in values)) continue;
      const value = this.text(values[column], column, fail);
      if (value === undefined) continue;
      if (value.length > MAX_LENGTH[column]) fail(column, `longer than ${MAX_LENGTH[column]} characters`);
      set[column] = value || null;
    }

    if ('groups' in values) {
      const groups = this.groups(values.groups, fail);
      if (groups) set.groups = groups;
    }

    if ('status' in values) {
      const status = this.text(values.status, 'status', fail)?.toLowerCase();
      if (status === 'active' || status === 'disabled') set.status = status;
      else if (status) fail('status', `status must be "active" or "disabled", not "${status.slice(0, 40)}"`);
    }

    let link: ValidRow['link'];
    const idpName = 'idp' in values ? this.text(values.idp, 'idp', fail) : '';
    const nameId = 'nameId' in values ? this.text(values.nameId, 'nameId', fail) : '';
    if (idpName === undefined || nameId === undefined) {
      // already rejected as not text
    } else if (idpName && !nameId) fail('nameId', 'a pre-link needs both idp and nameId; nameId is empty');
    else if (nameId && !idpName) fail('idp', 'a pre-link needs both idp and nameId; idp is empty');
    else if (idpName && nameId) {
      const found = idpName.length > MAX_LENGTH.idp ? null : this.idpOf(idpName);
      const idp = found?.ok ? found.idp : undefined;
      if (!found) fail('idp', `longer than ${MAX_LENGTH.idp} characters`);
      else if (!found.ok) fail('idp', found.reason);
      if (nameId.length > MAX_LENGTH.nameId) fail('nameId', `longer than ${MAX_LENGTH.nameId} characters`);
      else if (idp) {
        const key = `${idp.id}\n${nameId}`;
        const first = this.links.get(key);
        if (first === undefined) this.links.set(key, line);
        if (first !== undefined && first !== line)
          fail('nameId', `duplicate inside the file: line ${first} pre-links the same IdP identity`);
        else link = { idpId: idp.id, nameId };
      }
    }

    if (problems.length) return { ok: false, rejections: problems.map((p) => (email ? { ...p, email } : p)) };
    return { ok: true, row: { line, email, emailLower, set, ...(link && { link }) } };
  }

  /** A cell as trimmed text ('' when empty); numbers are accepted as text (JSON phone numbers). */
  private text(value: RawValue, column: Column, fail: (c: Column, r: string) => void): string | undefined {
    if (value === null || value === undefined) return '';
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value !== 'string') {
      fail(column, `${column} must be text`);
      return undefined;
    }
    const text = value.trim();
    if (CONTROL.test(text)) {
      fail(column, 'contains a control character');
      return undefined;
    }
    if (text.includes('\ufffd')) {
      fail(column, 'contains bytes that are not valid UTF-8 (save the file as "CSV UTF-8")');
      return undefined;
    }
    return text;
  }

  private groups(value: RawValue, fail: (c: Column, r: string) => void): string[] | undefined {
    let names: string[];
    if (Array.isArray(value)) {
      if (!value.every((g) => typeof g === 'string')) {
        fail('groups', 'groups must be a list of text values');
        return undefined;
      }
      names = value.map((g) => g.trim());
      if (names.some((g) => GROUP_SEPARATOR.test(g))) {
        fail('groups', 'a group name cannot contain ";" or "|" (they separate groups in CSV files)');
        return undefined;
      }
    } else {
      const text = this.text(value, 'groups', fail);
      if (text === undefined) return undefined;
      names = splitGroups(text);
    }
    if (names.length > MAX_GROUPS * 2) return void fail('groups', `more than ${MAX_GROUPS} groups`);
    const unique: string[] = [];
    for (const name of names) {
      const g = name.trim();
      if (g && !unique.includes(g)) unique.push(g);
    }
    for (const g of unique) {
      if (CONTROL.test(g) || g.includes('\ufffd'))
        return void fail('groups', 'a group name contains a control character or invalid UTF-8');
      if (g.length > MAX_LENGTH.groups)
        return void fail('groups', `group "${g.slice(0, 40)}…" is longer than ${MAX_LENGTH.groups} characters`);
    }
    if (unique.length > MAX_GROUPS) return void fail('groups', `more than ${MAX_GROUPS} groups`);
    return unique;
  }
}

/** "a; b|c" -> ["a", " b", "c"]: split on ; and | without a regular expression (this runs for every row). */
function splitGroups(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3b || c === 0x7c) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (text) out.push(text.slice(start));
  return out;
}
