// The audit log's filters as admins give them (console form, API query string) turned into a store query: times
// as UTC, a user by email, a type or a type family ("mfa.*"), and a keyset cursor. Invalid input is a
// ValidationError naming the field, so the console shows it next to the input and the API answers 400.
import { ValidationError } from '../errors.ts';
import type { AuditCursor, AuditQuery } from '../store/audit.ts';
import type { TenantStore } from '../store/store.ts';

export interface AuditFilterInput {
  /** ISO 8601 or a datetime-local value ("2026-01-15T10:00"), read as UTC */
  from?: string;
  to?: string;
  /** an exact type, or a family ending in * ("login.*") */
  type?: string;
  /** the user's email (the user must exist), or their id */
  user?: string;
  userId?: string;
  app?: string;
  idp?: string;
  actor?: string;
  /** a refusal's error code */
  code?: string;
}

export const AUDIT_FILTER_FIELDS = ['from', 'to', 'type', 'user', 'app', 'idp', 'actor', 'code'] as const;
const MAX_FILTER_LENGTH = 320;

/** The filters with surrounding space removed and empty ones dropped (also what page links carry along). */
export function cleanFilters(input: Record<string, unknown>): AuditFilterInput {
  const out: Record<string, string> = {};
  for (const key of [...AUDIT_FILTER_FIELDS, 'userId'] as const) {
    const v = input[key];
    if (typeof v === 'string' && v.trim()) out[key] = v.trim();
  }
  return out;
}

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?$/;

function parseTime(value: string): Date | null {
  // A datetime-local field has no zone: the console says times are UTC, so read it as UTC.
  const iso = LOCAL_TIME.test(value) ? (value.includes('T') ? `${value}Z` : `${value}T00:00Z`) : value;
  const at = new Date(iso);
  return /^\d{4}-/.test(value) && !Number.isNaN(at.getTime()) ? at : null;
}

/** Resolves the filters into a query (without paging); throws ValidationError for unusable ones. */
export async function auditQueryOf(store: TenantStore, filters: AuditFilterInput): Promise<AuditQuery> {
  const errors: Record<string, string> = {};
  for (const [k, v] of Object.entries(filters))
    if (typeof v === 'string' && v.length > MAX_FILTER_LENGTH)
      errors[k] = `longer than ${MAX_FILTER_LENGTH} characters`;
  const from = filters.from ? parseTime(filters.from) : undefined;
  const to = filters.to ? parseTime(filters.to) : undefined;
  if (from === null) errors.from = 'not a date and time (use 2026-01-15T10:00, UTC)';
  if (to === null) errors.to = 'not a date and time (use 2026-01-15T10:00, UTC)';
  if (from && to && from > to) errors.to = 'must not be before "from"';
  let userId = filters.userId;
  if (filters.user && !errors.user) {
    const user = filters.user.includes('@')
      ? await store.users.findByEmail(filters.user)
      : await store.users.findById(filters.user);
    if (user) userId = user.id;
    else errors.user = 'no user with this email in this organisation';
  }
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const type = filters.type;
  return {
    ...(from && { from }),
    ...(to && { to }),
    ...(type && (type.endsWith('*') ? { typePrefix: type.slice(0, -1) } : { type })),
    ...(userId && { userId }),
    ...(filters.app && { appId: filters.app }),
    ...(filters.idp && { idpId: filters.idp }),
    ...(filters.actor && { actor: filters.actor }),
    ...(filters.code && { code: filters.code }),
  };
}

/** A keyset cursor as it travels in links: "<ISO time>_<event id>". */
export const encodeCursor = (event: { at: Date; id: string }) => `${event.at.toISOString()}_${event.id}`;

export function decodeCursor(value: string | undefined, direction: AuditCursor['direction']): AuditCursor | undefined {
  if (!value) return undefined;
  const sep = value.indexOf('_');
  const at = new Date(value.slice(0, sep));
  const id = value.slice(sep + 1);
  if (sep < 0 || Number.isNaN(at.getTime()) || !id || id.length > 64)
    throw new ValidationError({ cursor: 'not a cursor from a previous page' });
  return { at, id, direction };
}
