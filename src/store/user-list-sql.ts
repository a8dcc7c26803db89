// The directory list with filters and a chosen sort, as one SQL statement for SQLite and PostgreSQL: status (or a
// second-factor lockout), group, linked IdP, second-factor kind, a prefix search, and keyset pages on (sort key, id)
// so that a page boundary never moves while users are added or changed elsewhere in the list. Each sort key is the
// exact expression of an index of the user_list_sort migration (SQLite only uses an expression index when the query
// repeats it word for word). The SQL texts are finite (a few thousand combinations at most), so each is built once
// and kept: PostgreSQL then prepares it once per connection.
import { sql, type Dialect, type Statement } from './engine/sql.ts';

export const USER_SORTS = ['email', 'name', 'lastLogin', 'created'] as const;
export type UserSort = (typeof USER_SORTS)[number];
export const USER_STATUS_FILTERS = ['active', 'disabled', 'locked'] as const;
export type UserStatusFilter = (typeof USER_STATUS_FILTERS)[number];
export const SECOND_FACTOR_FILTERS = ['none', 'totp', 'passkey', 'both'] as const;
export type SecondFactorFilter = (typeof SECOND_FACTOR_FILTERS)[number];

export interface UserListFilter {
  /** start of an email (without regard to case), first name or last name */
  search?: string;
  /** active / disabled: the account's status; locked: the second factor is locked after wrong codes (now) */
  status?: UserStatusFilter;
  /** exact group name */
  group?: string;
  /** an identity provider of the organisation: users with a linked identity there */
  idpId?: string;
  /** none / totp (an enrolled authenticator app only) / passkey (passkeys only) / both */
  secondFactor?: SecondFactorFilter;
}

/** A position in the list: the sort key of a user (text, or ms since the epoch for times) and their id. */
export interface UserCursor {
  key: string | number;
  id: string;
}

export interface UserListQuery extends UserListFilter {
  sort: UserSort;
  order: 'asc' | 'desc';
  after?: UserCursor;
  before?: UserCursor;
  /** offset paging (the API's `skip`); keyset cursors are preferred */
  skip?: number;
  take: number;
}

const NAME_KEY = `lower(COALESCE("User"."lastName", '') || ' ' || COALESCE("User"."firstName", ''))`;
/** The sort key's SQL; never NULL (a user who never signed in sorts as if at the epoch), so keyset comparisons hold. */
function sortKey(sort: UserSort, dialect: Dialect): string {
  switch (sort) {
    case 'email':
      return '"User"."emailLower"';
    case 'name':
      return NAME_KEY;
    case 'created':
      return '"User"."createdAt"';
    case 'lastLogin':
      return dialect === 'sqlite'
        ? 'COALESCE("User"."lastLoginAt", 0)'
        : `COALESCE("User"."lastLoginAt", TIMESTAMP '1970-01-01 00:00:00')`;
  }
}
/** Email is unique within the organisation; the other keys are made unique by the id. */
const withId = (sort: UserSort) => sort !== 'email';
/** Time keys travel in cursors as ms since the epoch. */
export const isTimeKey = (sort: UserSort) => sort === 'created' || sort === 'lastLogin';

/**
 * The smallest string above every string that starts with `prefix` (code point order), so that a prefix search
 * becomes a range on an indexed column. Undefined when no such bound exists (then only the lower bound is used).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) return points.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
  }
  return undefined;
}

interface Built {
  text: string;
  params: unknown[];
}

/** WHERE clause (after the organisation) and its parameters; `now` decides what counts as locked. */
function where(f: UserListFilter, orgId: string, now: Date): Built {
  const parts = ['"User"."orgId" = ?'];
  const params: unknown[] = [orgId];
  const q = f.search?.trim();
  if (q) {
    // A range for the index and an exact prefix test whatever the collation (PostgreSQL's may not be code point order).
    const prefix = (column: string, value: string) => {
      const end = prefixEnd(value);
      params.push(value, ...(end !== undefined ? [end] : []), Array.from(value).length, value);
      return `(${column} >= ?${end !== undefined ? ` AND ${column} < ?` : ''} AND substr(${column}, 1, ?) = ?)`;
    };
    const names = [...new Set([q, q.charAt(0).toUpperCase() + q.slice(1)])];
    const branches = [
      prefix('"User"."emailLower"', q.toLowerCase()),
      ...names.flatMap((n) => [prefix('"User"."firstName"', n), prefix('"User"."lastName"', n)]),
    ];
    parts.push(`(${branches.join(' OR ')})`);
  }
  if (f.status === 'active' || f.status === 'disabled') {
    parts.push('"User"."status" = ?');
    params.push(f.status);
  } else if (f.status === 'locked') {
    parts.push(
      'EXISTS (SELECT 1 FROM "TotpFactor" "t" WHERE "t"."userId" = "User"."id" AND "t"."orgId" = "User"."orgId" AND "t"."lockedUntil" > ?)',
    );
    params.push(now);
  }
  if (f.group !== undefined) parts.push(GROUP_TEST);
  if (f.group !== undefined) params.push(f.group);
  if (f.idpId !== undefined) {
    parts.push(
      'EXISTS (SELECT 1 FROM "UserIdentity" "i" WHERE "i"."userId" = "User"."id" AND "i"."orgId" = "User"."orgId" AND "i"."idpId" = ?)',
    );
    params.push(f.idpId);
  }
  if (f.secondFactor) {
    const totp =
      'EXISTS (SELECT 1 FROM "TotpFactor" "tf" WHERE "tf"."userId" = "User"."id" AND "tf"."orgId" = "User"."orgId" AND "tf"."status" = \'active\')';
    const passkey =
      'EXISTS (SELECT 1 FROM "WebAuthnCredential" "w" WHERE "w"."orgId" = "User"."orgId" AND "w"."userId" = "User"."id")';
    const [hasTotp, hasPasskey] = {
      none: [false, false],
      totp: [true, false],
      passkey: [false, true],
      both: [true, true],
    }[f.secondFactor];
    parts.push(`${hasTotp ? '' : 'NOT '}${totp}`, `${hasPasskey ? '' : 'NOT '}${passkey}`);
  }
  return { text: parts.join(' AND '), params };
}
// Groups are a JSON array of names in a text column; the test is marked for the dialect and replaced below.
const GROUP_TEST = '/*group*/';
const groupTest = (dialect: Dialect) =>
  dialect === 'sqlite'
    ? 'EXISTS (SELECT 1 FROM json_each("User"."groups") WHERE json_each.value = ?)'
    : 'CAST("User"."groups" AS jsonb) @> jsonb_build_array(CAST(? AS text))';

const statements = new Map<string, Statement>();
function statement(text: string, dialect: Dialect): Statement {
  const full = text.replace(GROUP_TEST, groupTest(dialect));
  let s = statements.get(`${dialect}:${full}`);
  if (!s) statements.set(`${dialect}:${full}`, (s = sql(full)));
  return s;
}

const COLUMNS = [
  'id',
  'orgId',
  'email',
  'emailLower',
  'username',
  'firstName',
  'lastName',
  'phone',
  'groups',
  'status',
  'source',
  'createdAt',
  'updatedAt',
  'lastLoginAt',
];

/** The page's statement: `take + 1` rows (the extra one says whether there is more), in list order or, for
 *  `before`, in reverse (the caller turns them round). */
export function listStatement(
  q: UserListQuery,
  orgId: string,
  now: Date,
  dialect: Dialect,
): { statement: Statement; params: unknown[] } {
  const w = where(q, orgId, now);
  const key = sortKey(q.sort, dialect);
  const backwards = q.before !== undefined;
  const descending = (q.order === 'desc') !== backwards;
  const cursor = q.before ?? q.after;
  // The key is read back with each row: the next page's cursor is the database's own value (its lower(), its time).
  let text = `SELECT ${COLUMNS.map((c) => `"User"."${c}"`).join(', ')}, ${key} AS "sortKey" FROM "User" WHERE ${w.text}`;
  const params = [...w.params];
  if (cursor) {
    const value = isTimeKey(q.sort) ? new Date(cursor.key as number) : cursor.key;
    const op = descending ? '<' : '>';
    if (withId(q.sort)) {
      text += ` AND (${key}, "User"."id") ${op} (?, ?)`;
      params.push(value, cursor.id);
    } else {
      text += ` AND ${key} ${op} ?`;
      params.push(value);
    }
  }
  const dir = descending ? 'DESC' : 'ASC';
  text += ` ORDER BY ${key} ${dir}${withId(q.sort) ? `, "User"."id" ${dir}` : ''} LIMIT ? OFFSET ?`;
  params.push(Math.trunc(q.take) + 1, Math.trunc(q.skip ?? 0));
  return { statement: statement(text, dialect), params };
}

export function countStatement(
  f: UserListFilter,
  orgId: string,
  now: Date,
  dialect: Dialect,
): { statement: Statement; params: unknown[] } {
  const w = where(f, orgId, now);
  return { statement: statement(`SELECT COUNT(*) AS "n" FROM "User" WHERE ${w.text}`, dialect), params: w.params };
}
