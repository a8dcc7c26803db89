// SCIM PATCH (RFC 7644 3.5.2) over a resource's JSON: add, replace and remove, with or without a path, with value
// filters (emails[type eq "work"].value), in the shapes Okta and Entra ID send: op names in any case ("Replace"),
// Okta's path-less {"op":"replace","value":{"active":false}}, Entra's dotted or URN-qualified keys in a path-less
// value. The result is mapped back to the directory by the caller (users.ts, groups.ts), which checks the values.
import type { Filter } from 'scim2-parse-filter';
import { invalidPath, invalidSyntax, invalidValue, ScimError } from './errors.ts';
import { matches, parseFilter } from './filter.ts';
import { checkSchemas } from './resources.ts';

export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
type Json = Record<string, unknown>;

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path?: string;
  value?: unknown;
}

/** The operations of a PatchOp body, op names lower-cased; 400 invalidSyntax for anything else. */
export function readPatch(body: unknown): PatchOperation[] {
  const ops = body && typeof body === 'object' ? ((body as Json).Operations ?? (body as Json).operations) : undefined;
  if (body && typeof body === 'object' && !Array.isArray(body)) checkSchemas(body as Json, [PATCH_SCHEMA]);
  if (!Array.isArray(ops) || !ops.length)
    throw invalidSyntax('A PATCH request carries {"schemas":["' + PATCH_SCHEMA + '"],"Operations":[…]}.');
  if (ops.length > 1000) throw new ScimError(413, 'tooMany', 'At most 1000 operations per request.');
  return ops.map((o, i) => {
    if (!o || typeof o !== 'object') throw invalidSyntax(`Operation ${i + 1} is not an object.`);
    const op = String((o as Json).op ?? '').toLowerCase();
    if (op !== 'add' && op !== 'replace' && op !== 'remove')
      throw invalidSyntax(`Operation ${i + 1}: op must be add, replace or remove.`);
    const path = (o as Json).path;
    if (path !== undefined && path !== null && (typeof path !== 'string' || path.length > 1000))
      throw invalidPath(`Operation ${i + 1}: path must be a string.`);
    return {
      op,
      ...(typeof path === 'string' && path.trim() && { path: path.trim() }),
      ...('value' in o && { value: (o as Json).value }),
    } as PatchOperation;
  });
}

interface Path {
  urn: string | null;
  attr: string;
  filter: Filter | null;
  sub: string | null;
}

/** `[urn:…:]attr[.sub]` or `[urn:…:]attr[filter][.sub]`. A core schema URN is dropped; an extension's stays. */
export function parsePath(text: string, coreUrn: string): Path {
  const bracket = text.indexOf('[');
  const head = bracket === -1 ? text : text.slice(0, bracket);
  let filter: Filter | null = null;
  let tail = '';
  if (bracket !== -1) {
    const close = text.lastIndexOf(']');
    if (close < bracket) throw invalidPath(`The path ${text.slice(0, 200)} has an unclosed [.`);
    filter = parseFilter(text.slice(bracket + 1, close));
    tail = text.slice(close + 1);
    if (tail && !/^\.[A-Za-z$][\w$-]*$/.test(tail)) throw invalidPath(`The path ${text.slice(0, 200)} is not valid.`);
  }
  const colon = head.lastIndexOf(':');
  let urn: string | null = colon === -1 ? null : head.slice(0, colon);
  const rest = colon === -1 ? head : head.slice(colon + 1);
  if (urn && urn.toLowerCase() === coreUrn.toLowerCase()) urn = null;
  const parts = rest.split('.');
  if (
    !parts[0] ||
    parts.length > 2 ||
    (filter && parts.length > 1) ||
    !parts.every((p) => /^[A-Za-z$][\w$-]*$/.test(p))
  )
    throw invalidPath(`The path ${text.slice(0, 200)} is not valid.`);
  return { urn, attr: parts[0], filter, sub: filter ? (tail ? tail.slice(1) : null) : (parts[1] ?? null) };
}

function keyIn(obj: Json, name: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Applies the operations to a copy of `resource`. `multiValued`: attribute names (lower case) that are arrays. */
export function applyPatch(
  resource: Json,
  operations: PatchOperation[],
  opts: { coreUrn: string; multiValued: Set<string> },
): Json {
  const doc = structuredClone(resource);
  for (const operation of operations) {
    if (operation.path === undefined) {
      if (operation.op === 'remove') throw new ScimError(400, 'noTarget', 'A remove operation needs a path.');
      if (!isObject(operation.value))
        throw invalidValue('An add or replace without a path carries an object of attributes as its value.');
      for (const [key, value] of Object.entries(operation.value)) {
        // An extension's attributes come as one object under the extension's URN, or (Entra) as "urn:…:User:department".
        if (
          key.toLowerCase().startsWith('urn:') &&
          key.toLowerCase() !== opts.coreUrn.toLowerCase() &&
          isObject(value)
        ) {
          const target = doc[keyIn(doc, key)];
          doc[keyIn(doc, key)] = { ...(isObject(target) ? target : {}), ...value };
          continue;
        }
        if (key.toLowerCase() === opts.coreUrn.toLowerCase() && isObject(value)) {
          for (const [k, v] of Object.entries(value)) applyOne(doc, { op: operation.op, path: k, value: v }, opts);
          continue;
        }
        applyOne(doc, { op: operation.op, path: key, value }, opts);
      }
      continue;
    }
    applyOne(doc, operation, opts);
  }
  return doc;
}

function applyOne(doc: Json, operation: PatchOperation, opts: { coreUrn: string; multiValued: Set<string> }) {
  const { op, value } = operation;
  const path = parsePath(operation.path!, opts.coreUrn);
  // The container: the resource itself, or an extension's object within it.
  let container = doc;
  if (path.urn) {
    const key = keyIn(doc, path.urn);
    if (!isObject(doc[key])) {
      if (op === 'remove') return;
      doc[key] = {};
    }
    container = doc[key] as Json;
  }
  const key = keyIn(container, path.attr);
  const multi = opts.multiValued.has(path.attr.toLowerCase());
  if (op !== 'remove' && value === undefined)
    throw invalidValue(`The ${op} operation on ${operation.path} carries no value.`);

  if (path.filter) {
    if (!multi) throw invalidPath(`${path.attr} is not multi-valued: it takes no [filter].`);
    const list = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
    const hits = list.filter((e) => matches(e, path.filter!));
    if (op === 'remove') {
      container[key] = path.sub
        ? list.map((e) => (hits.includes(e) && isObject(e) ? withoutKey(e, path.sub!) : e))
        : list.filter((e) => !hits.includes(e));
      return;
    }
    if (!hits.length) {
      // Entra replaces emails[type eq "work"].value on a user who has no work address yet: the element is made from
      // the filter's equalities.
      const made: Json = { ...equalities(path.filter) };
      if (path.sub) made[path.sub] = value;
      else if (isObject(value)) Object.assign(made, value);
      else throw invalidValue(`The value for ${operation.path} must be an object.`);
      container[key] = [...list, made];
      return;
    }
    container[key] = list.map((e) => {
      if (!hits.includes(e)) return e;
      if (path.sub) return { ...(isObject(e) ? e : {}), [keyIn(isObject(e) ? e : {}, path.sub)]: value };
      if (!isObject(value)) throw invalidValue(`The value for ${operation.path} must be an object.`);
      return op === 'replace' ? { ...value } : { ...(isObject(e) ? e : {}), ...value };
    });
    return;
  }

  if (path.sub) {
    if (multi) {
      // emails.value (no filter): the sub-attribute of every element (RFC 7644 3.5.2.3), or of a new one.
      const list = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
      if (op === 'remove') {
        container[key] = list.map((e) => (isObject(e) ? withoutKey(e, path.sub!) : e));
        return;
      }
      container[key] = list.length
        ? list.map((e) => ({ ...(isObject(e) ? e : {}), [path.sub!]: value }))
        : [{ [path.sub]: value }];
      return;
    }
    const parent = isObject(container[key]) ? (container[key] as Json) : {};
    if (op === 'remove') {
      if (isObject(container[key])) container[key] = withoutKey(parent, path.sub);
      return;
    }
    container[key] = { ...parent, [keyIn(parent, path.sub)]: value };
    return;
  }

  if (op === 'remove') {
    // Entra removes members as {"op":"Remove","path":"members","value":[{"value":"<id>"}]}: only those.
    if (multi && Array.isArray(value) && Array.isArray(container[key])) {
      const drop = new Set(value.map((v) => (isObject(v) ? String(v.value) : String(v))));
      container[key] = (container[key] as unknown[]).filter((e) => !(isObject(e) && drop.has(String(e.value))));
    } else {
      delete container[key];
    }
    return;
  }
  if (multi) {
    const items = Array.isArray(value) ? value : [value];
    if (op === 'replace') {
      container[key] = items;
      return;
    }
    const list = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
    const seen = new Set(list.map((e) => (isObject(e) ? JSON.stringify(e.value) : JSON.stringify(e))));
    container[key] = [
      ...list,
      ...items.filter((e) => !seen.has(isObject(e) ? JSON.stringify(e.value) : JSON.stringify(e))),
    ];
    return;
  }
  if (isObject(value) && isObject(container[key])) {
    container[key] = { ...(container[key] as Json), ...value };
    return;
  }
  container[key] = value;
}

function withoutKey(obj: Json, name: string): Json {
  const copy = { ...obj };
  delete copy[keyIn(copy, name)];
  return copy;
}

/** {type: "work"} from `type eq "work"` (and of several eq joined by and). */
function equalities(f: Filter): Json {
  if (f.op === 'eq') {
    const { attrPath, compValue } = f as { attrPath: string; compValue: unknown };
    return { [attrPath]: compValue };
  }
  if (f.op === 'and') return Object.assign({}, ...(f as { filters: Filter[] }).filters.map(equalities));
  return {};
}
