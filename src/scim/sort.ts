// sortBy and sortOrder on list requests (RFC 7644 3.4.2.3). Connectors do not send them (Okta and Entra ID page in
// the server's order); other clients and people with curl do. The sort applies to the whole filtered set before the
// page is cut, so startIndex/count walk the sorted list. Strings compare without regard to case except id,
// externalId and meta (as filters do); a multi-valued attribute sorts by its primary entry (else its first); a
// resource without a value comes last in either order; ties keep the server's order (link creation).
import { invalidValue } from './errors.ts';
import { CASE_EXACT, checkFilterAttributes, parseFilter, splitAttrPath, valuesAt } from './filter.ts';
import type { Json } from './resources.ts';

export interface SortRequest {
  path: string[];
  descending: boolean;
  caseExact: boolean;
}

/** An attribute path and nothing else: letters, digits, dots, colons (a schema URN), `$` and `-`. */
const ATTRIBUTE_PATH = /^[A-Za-z][A-Za-z0-9:._$-]{0,199}$/;

/** The request's sort, or null without sortBy. 400 invalidValue for a sortBy that is not one attribute of the
 *  resource type's schema, or a sortOrder other than ascending/descending. */
export function readSort(
  query: { sortBy?: unknown; sortOrder?: unknown },
  resource: 'User' | 'Group',
): SortRequest | null {
  const { sortBy, sortOrder } = query;
  if (sortOrder !== undefined && (typeof sortOrder !== 'string' || !/^(ascending|descending)$/i.test(sortOrder)))
    throw invalidValue('sortOrder must be ascending or descending.');
  if (sortBy === undefined || sortBy === '') return null;
  if (typeof sortBy !== 'string' || !ATTRIBUTE_PATH.test(sortBy)) throw invalidValue('sortBy must name one attribute.');
  try {
    // the filter grammar's attribute paths and the schema's attributes, as for a filter on that attribute
    checkFilterAttributes(parseFilter(`${sortBy} pr`), resource);
  } catch {
    throw invalidValue(`sortBy names an attribute that is not in the ${resource} schema: ${sortBy}.`);
  }
  const path = splitAttrPath(sortBy);
  return {
    path,
    descending: typeof sortOrder === 'string' && sortOrder.toLowerCase() === 'descending',
    caseExact: CASE_EXACT.has(path[0].toLowerCase()),
  };
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The value a resource sorts by: for a multi-valued attribute, its primary entry's (else the first entry's). */
function keyOf(resource: Json, path: string[]): unknown {
  const [head, ...rest] = path;
  const entries = valuesAt(resource, [head]);
  const entry =
    entries.find(
      (v) => isObject(v) && Object.entries(v).some(([k, p]) => k.toLowerCase() === 'primary' && p === true),
    ) ?? entries[0];
  if (entry === undefined) return undefined;
  if (rest.length) return valuesAt(entry, rest)[0];
  return isObject(entry) ? valuesAt(entry, ['value'])[0] : entry;
}

function compareKeys(a: unknown, b: unknown, caseExact: boolean): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = caseExact ? String(a) : String(a).toLowerCase();
  const y = caseExact ? String(b) : String(b).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The resources in the requested order (a new array; stable). */
export function sorted(resources: Json[], sort: SortRequest): Json[] {
  const keyed = resources.map((r) => ({ r, key: keyOf(r, sort.path) }));
  keyed.sort((a, b) => {
    const missingA = a.key === undefined || a.key === null;
    const missingB = b.key === undefined || b.key === null;
    if (missingA || missingB) return Number(missingA) - Number(missingB);
    const c = compareKeys(a.key, b.key, sort.caseExact);
    return sort.descending ? -c : c;
  });
  return keyed.map((k) => k.r);
}
