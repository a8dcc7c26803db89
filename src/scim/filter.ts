// SCIM filter expressions (RFC 7644 3.4.2.2): parsed by scim2-parse-filter, evaluated here over a resource's JSON
// so that attribute names never depend on case and string comparisons follow each attribute's caseExact (only
// id, externalId and meta are case-exact among what this server serves). A filter that does not parse is 400
// invalidFilter.
import { parse, type Filter } from 'scim2-parse-filter';
import type { FilterColumn, FilterCondition } from '../store/scim.ts';
import { invalidFilter } from './errors.ts';

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:user';
export const CASE_EXACT = new Set(['id', 'externalid', 'meta']);
const MAX_FILTER_LENGTH = 2000;

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH)
    throw invalidFilter(`The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  let ast: Filter;
  try {
    ast = parse(text);
  } catch (err) {
    throw invalidFilter(`The filter could not be parsed: ${(err as Error).message}`.slice(0, 300));
  }
  if (!ast || typeof ast !== 'object' || !('op' in ast)) throw invalidFilter('The filter could not be parsed.');
  return ast;
}

/** "urn:…:enterprise:2.0:User:department" → [urn, department]; "urn:…:core:2.0:User:userName" → [userName]; "name.givenName" → [name, givenName]. */
export function splitAttrPath(path: string): string[] {
  const i = path.lastIndexOf(':');
  if (i === -1) return path.split('.');
  // a core schema's URN names the resource's own attributes (RFC 7644 3.10): dropped
  const urn = path.slice(0, i);
  const core = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i.test(urn);
  return core ? path.slice(i + 1).split('.') : [urn, ...path.slice(i + 1).split('.')];
}

function child(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const key = Object.keys(value).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (value as Record<string, unknown>)[key];
}

/** Values at `path` under `resource`, multi-valued attributes flattened. */
export function valuesAt(resource: unknown, path: string[]): unknown[] {
  let current: unknown[] = [resource];
  for (const name of path) {
    current = current
      .flatMap((v) => (Array.isArray(v) ? v : [v]))
      .map((v) => child(v, name))
      .filter((v) => v !== undefined && v !== null);
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

type Comparable = string | number | boolean | null;

function compare(op: string, actual: unknown, expected: Comparable, caseExact: boolean): boolean {
  if (actual !== null && typeof actual === 'object') return false;
  let a = actual as Comparable;
  let e = expected;
  if (!caseExact && typeof a === 'string' && typeof e === 'string') {
    a = a.toLowerCase();
    e = e.toLowerCase();
  }
  // Booleans arrive as strings from some clients ("True"), and the other way round.
  if (typeof a === 'boolean' && typeof e === 'string' && /^(true|false)$/i.test(e)) e = e.toLowerCase() === 'true';
  switch (op) {
    case 'eq':
      return a === e;
    case 'ne':
      return a !== e;
    case 'co':
      return typeof a === 'string' && typeof e === 'string' && a.includes(e);
    case 'sw':
      return typeof a === 'string' && typeof e === 'string' && a.startsWith(e);
    case 'ew':
      return typeof a === 'string' && typeof e === 'string' && a.endsWith(e);
    case 'gt':
      return e !== null && a !== null && a > e;
    case 'ge':
      return e !== null && a !== null && a >= e;
    case 'lt':
      return e !== null && a !== null && a < e;
    case 'le':
      return e !== null && a !== null && a <= e;
    default:
      throw invalidFilter(`Unknown operator ${op}.`);
  }
}

export function matches(resource: unknown, f: Filter): boolean {
  switch (f.op) {
    case 'and':
      return (f as { filters: Filter[] }).filters.every((c) => matches(resource, c));
    case 'or':
      return (f as { filters: Filter[] }).filters.some((c) => matches(resource, c));
    case 'not':
      return !matches(resource, (f as { filter: Filter }).filter);
    case '[]': {
      const { attrPath, valFilter } = f as { attrPath: string; valFilter: Filter };
      return valuesAt(resource, splitAttrPath(attrPath)).some((v) => matches(v, valFilter));
    }
    case 'pr': {
      const values = valuesAt(resource, splitAttrPath((f as { attrPath: string }).attrPath));
      return values.some((v) => v !== '');
    }
    default: {
      const { attrPath, compValue } = f as { op: string; attrPath: string; compValue: Comparable };
      const path = splitAttrPath(attrPath);
      const caseExact = CASE_EXACT.has(path[0].toLowerCase());
      // a multi-valued complex attribute named without a sub-attribute compares its `value`s (`emails co "example.com"`)
      const values = valuesAt(resource, path).map((v) =>
        v !== null && typeof v === 'object' && !Array.isArray(v) ? (child(v, 'value') ?? v) : v,
      );
      if (f.op === 'ne') return values.length === 0 || values.every((v) => compare('ne', v, compValue, caseExact));
      return values.some((v) => compare(f.op, v, compValue, caseExact));
    }
  }
}

// The attributes of RFC 7643's User (with the enterprise extension) and Group schemas, lower-cased: a filter may name
// these (an attribute this server does not serve simply matches nothing), and nothing else. Sub-attributes of
// complex attributes are listed; `null` for a simple attribute (no sub-attributes).
const MULTI = ['value', 'display', 'type', 'primary', '$ref'];
const META = ['resourcetype', 'created', 'lastmodified', 'location', 'version'];
const ATTRIBUTES: Record<'User' | 'Group', Record<string, string[] | null>> = {
  User: {
    id: null,
    externalid: null,
    meta: META,
    schemas: null,
    username: null,
    displayname: null,
    nickname: null,
    profileurl: null,
    title: null,
    usertype: null,
    preferredlanguage: null,
    locale: null,
    timezone: null,
    active: null,
    name: ['formatted', 'familyname', 'givenname', 'middlename', 'honorificprefix', 'honorificsuffix'],
    emails: MULTI,
    phonenumbers: MULTI,
    ims: MULTI,
    photos: MULTI,
    entitlements: MULTI,
    roles: MULTI,
    x509certificates: MULTI,
    groups: MULTI,
    addresses: [...MULTI, 'formatted', 'streetaddress', 'locality', 'region', 'postalcode', 'country'],
  },
  Group: { id: null, externalid: null, meta: META, schemas: null, displayname: null, members: MULTI },
};
const ENTERPRISE: Record<string, string[] | null> = {
  employeenumber: null,
  costcenter: null,
  organization: null,
  division: null,
  department: null,
  manager: ['value', '$ref', 'displayname'],
};
const CORE: Record<'User' | 'Group', string> = {
  User: CORE_USER,
  Group: 'urn:ietf:params:scim:schemas:core:2.0:group',
};
const ENTERPRISE_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user';

/** 400 invalidFilter unless every attribute the filter names is one of the resource type's schema (a filter like
 *  `userName eq "x" or 1 eq 1` names an attribute "1"). */
export function checkFilterAttributes(f: Filter, resource: 'User' | 'Group', within?: string[] | null): void {
  const check = (attrPath: string): string[] | null => {
    if (within !== undefined) {
      if (!within || !within.includes(attrPath.toLowerCase()))
        throw invalidFilter(`The filter names an unknown sub-attribute ${attrPath.slice(0, 100)}.`);
      return null;
    }
    const path = splitAttrPath(attrPath).map((p) => p.toLowerCase());
    let table = ATTRIBUTES[resource];
    if (path.length > 1 && path[0].startsWith('urn:')) {
      const urn = path.shift()!;
      if (urn === ENTERPRISE_URN && resource === 'User') table = ENTERPRISE;
      else if (urn !== CORE[resource])
        throw invalidFilter(`The filter names an attribute of an unknown schema: ${attrPath.slice(0, 100)}.`);
    }
    if (path.length > 2 || !(path[0] in table))
      throw invalidFilter(
        `The filter names an attribute that is not in the ${resource} schema: ${attrPath.slice(0, 100)}.`,
      );
    const subs = table[path[0]];
    if (path.length === 2 && (!subs || !subs.includes(path[1])))
      throw invalidFilter(
        `The filter names an attribute that is not in the ${resource} schema: ${attrPath.slice(0, 100)}.`,
      );
    return path.length === 1 ? subs : null;
  };
  switch (f.op) {
    case 'and':
    case 'or':
      for (const c of (f as { filters: Filter[] }).filters) checkFilterAttributes(c, resource, within);
      return;
    case 'not':
      checkFilterAttributes((f as { filter: Filter }).filter, resource, within);
      return;
    case '[]': {
      const { attrPath, valFilter } = f as { attrPath: string; valFilter: Filter };
      const subs = check(attrPath);
      if (!subs) throw invalidFilter(`${attrPath.slice(0, 100)} takes no [filter].`);
      checkFilterAttributes(valFilter, resource, subs);
      return;
    }
    default:
      check((f as { attrPath: string }).attrPath);
  }
}

export type IndexedLookup = { attr: 'userName' | 'externalId' | 'email'; value: string };

/** The attribute path without the core User schema's URN, lower-cased and dotted ("emails.value"); null for an extension's. */
function plainPath(attrPath: string): string | null {
  const path = splitAttrPath(attrPath);
  if (path.length > 1 && path[0].toLowerCase().startsWith('urn:')) {
    if (path[0].toLowerCase() !== CORE_USER) return null;
    path.shift();
  }
  return path.join('.').toLowerCase();
}

/** What an index answers in a filter: `userName eq`, `externalId eq`, `emails.value eq`, `emails[value eq …]`, or
 *  one of those as a branch of an `and` (the candidates it finds are then filtered by the whole expression in memory).
 *  null when the filter needs every user. */
export function indexedLookup(f: Filter): IndexedLookup | null {
  if (f.op === 'and') {
    for (const c of (f as { filters: Filter[] }).filters) {
      const hit = indexedLookup(c);
      if (hit) return hit;
    }
    return null;
  }
  if (f.op === '[]') {
    const { attrPath, valFilter } = f as { attrPath: string; valFilter: Filter };
    if (plainPath(attrPath) !== 'emails' || valFilter.op !== 'eq') return null;
    const inner = valFilter as { attrPath: string; compValue: unknown };
    return inner.attrPath.toLowerCase() === 'value' && typeof inner.compValue === 'string'
      ? { attr: 'email', value: inner.compValue }
      : null;
  }
  if (f.op !== 'eq') return null;
  const { attrPath, compValue } = f as { attrPath: string; compValue: unknown };
  if (typeof compValue !== 'string') return null;
  switch (plainPath(attrPath)) {
    case 'username':
      return { attr: 'userName', value: compValue };
    case 'externalid':
      return { attr: 'externalId', value: compValue };
    case 'emails.value':
    case 'emails':
      return { attr: 'email', value: compValue };
    default:
      return null;
  }
}

const COLUMNS: Record<string, FilterColumn> = {
  username: 'userName',
  externalid: 'externalId',
  emails: 'email',
  'emails.value': 'email',
  displayname: 'displayName',
};
const SQL_OPS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'pr']);

/** The User filter as a condition on columns, or null when some part of it names another attribute, another
 *  operator (gt…), or a value that is not a string: the caller then filters in memory. Same meaning as `matches`. */
export function userFilterCondition(f: Filter, within?: 'emails'): FilterCondition | null {
  const all = (list: Filter[]) => {
    const parts = list.map((c) => userFilterCondition(c, within));
    return parts.every((p): p is FilterCondition => p !== null) ? parts : null;
  };
  switch (f.op) {
    case 'and': {
      const parts = all((f as { filters: Filter[] }).filters);
      return parts && { and: parts };
    }
    case 'or': {
      const parts = all((f as { filters: Filter[] }).filters);
      return parts && { or: parts };
    }
    case 'not': {
      const inner = userFilterCondition((f as { filter: Filter }).filter, within);
      return inner && { not: inner };
    }
    case '[]': {
      const { attrPath, valFilter } = f as { attrPath: string; valFilter: Filter };
      return !within && plainPath(attrPath) === 'emails' ? userFilterCondition(valFilter, 'emails') : null;
    }
    default: {
      if (!SQL_OPS.has(f.op)) return null;
      const { attrPath, compValue } = f as { attrPath: string; compValue?: unknown };
      const path = within ? `${within}.${attrPath.toLowerCase()}` : plainPath(attrPath);
      const column = path === null ? undefined : COLUMNS[path];
      if (!column) return null;
      if (f.op === 'pr') return { column, op: 'pr', value: '' };
      return typeof compValue === 'string' ? { column, op: f.op as 'eq', value: compValue } : null;
    }
  }
}
