// The users list's query as the console's address and the API's query string carry it: filters (status, group,
// IdP, second factor, search), sort and order, and a keyset cursor. Read from untrusted strings here, once, for both:
// an unknown value is a ValidationError naming the parameter (400 validation_failed), never silently ignored, so a
// shared link either shows exactly what it says or says why not.
import { ValidationError } from '../errors.ts';
import {
  SECOND_FACTOR_FILTERS,
  USER_SORTS,
  USER_STATUS_FILTERS,
  type SecondFactorFilter,
  type UserCursor,
  type UserListFilter,
  type UserSort,
  type UserStatusFilter,
} from '../store/user-list-sql.ts';
import type { TenantStore } from '../store/store.ts';

export interface DirectoryQuery extends UserListFilter {
  sort: UserSort;
  order: 'asc' | 'desc';
  after?: UserCursor;
  before?: UserCursor;
}

/** The parameters as they arrive (query string); absent or empty ones mean "no filter". */
export type RawDirectoryQuery = Partial<
  Record<'q' | 'search' | 'status' | 'group' | 'idp' | 'secondFactor' | 'sort' | 'order' | 'after' | 'before', unknown>
>;

const MAX_TEXT = 320;
const MAX_CURSOR = 1200;

/** A cursor as it travels: base64url of JSON [key, id]. */
export const encodeCursor = (c: UserCursor) => Buffer.from(JSON.stringify([c.key, c.id])).toString('base64url');

function decodeCursor(value: string, sort: UserSort): UserCursor | null {
  if (value.length > MAX_CURSOR || !/^[A-Za-z0-9_-]+$/.test(value)) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 2) return null;
    const [key, id] = parsed as unknown[];
    if (typeof id !== 'string' || !id || id.length > 64) return null;
    const timeKey = sort === 'created' || sort === 'lastLogin';
    if (
      timeKey
        ? !(Number.isSafeInteger(key) && (key as number) >= 0)
        : typeof key !== 'string' || key.length > MAX_TEXT * 2
    )
      return null;
    return { key: key as string | number, id };
  } catch {
    return null;
  }
}

function oneString(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined;
}
function choice<T extends string>(
  v: unknown,
  allowed: readonly T[],
  field: string,
  fields: Record<string, string>,
): T | undefined {
  const s = oneString(v);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  fields[field] = `must be one of: ${allowed.join(', ')}`;
  return undefined;
}

/**
 * Checks the parameters; the IdP must be one of the organisation's (so an id of another organisation's IdP is refused
 * like a made-up one). A cursor belongs to its sort: one from another sort, or tampered with, is refused.
 */
export async function readDirectoryQuery(store: TenantStore, raw: RawDirectoryQuery): Promise<DirectoryQuery> {
  const fields: Record<string, string> = {};
  const search = oneString(raw.search) ?? oneString(raw.q);
  if (search !== undefined && search.length > MAX_TEXT)
    fields[raw.search !== undefined ? 'search' : 'q'] = `longer than ${MAX_TEXT} characters`;
  const status = choice<UserStatusFilter>(raw.status, USER_STATUS_FILTERS, 'status', fields);
  const secondFactor = choice<SecondFactorFilter>(raw.secondFactor, SECOND_FACTOR_FILTERS, 'secondFactor', fields);
  const sort = choice<UserSort>(raw.sort, USER_SORTS, 'sort', fields) ?? 'email';
  const order = choice<'asc' | 'desc'>(raw.order, ['asc', 'desc'], 'order', fields) ?? 'asc';
  const group = oneString(raw.group);
  if (group !== undefined && group.length > MAX_TEXT) fields.group = `longer than ${MAX_TEXT} characters`;
  const idpId = oneString(raw.idp);
  if (idpId !== undefined && (idpId.length > 64 || !(await store.identityProviders.list()).some((i) => i.id === idpId)))
    fields.idp = 'is not an identity provider of this organisation';
  const cursors: { after?: UserCursor; before?: UserCursor } = {};
  for (const name of ['after', 'before'] as const) {
    const value = oneString(raw[name]);
    if (value === undefined) continue;
    const cursor = decodeCursor(value, sort);
    if (cursor) cursors[name] = cursor;
    else fields[name] = 'is not a page position of this list (start again from the first page)';
  }
  if (cursors.after && cursors.before) fields.before = 'give after or before, not both';
  if (Object.keys(fields).length) throw new ValidationError(fields);
  return { search, status, group, idpId, secondFactor, sort, order, ...cursors };
}

/** The query string of a list (without its cursor), for links that keep the filters and sort: shareable. */
export function directoryQueryString(
  q: Omit<DirectoryQuery, 'after' | 'before'>,
  extra: Record<string, string> = {},
): string {
  const params = new URLSearchParams();
  if (q.search) params.set('q', q.search);
  if (q.status) params.set('status', q.status);
  if (q.group) params.set('group', q.group);
  if (q.idpId) params.set('idp', q.idpId);
  if (q.secondFactor) params.set('secondFactor', q.secondFactor);
  if (q.sort !== 'email') params.set('sort', q.sort);
  if (q.order !== 'asc') params.set('order', q.order);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params.toString();
}

/** Whether any filter (not the sort) is set. */
export const isFiltered = (q: UserListFilter) => Boolean(q.search || q.status || q.group || q.idpId || q.secondFactor);
