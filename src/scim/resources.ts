// Shared pieces of the SCIM resources: schema URNs, meta with a content-derived version (the ETag), ListResponse
// pages, If-Match.
import { createHash } from 'node:crypto';
import { ScimError } from './errors.ts';
import { splitAttrPath } from './filter.ts';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** Entra ID's provisioning service puts this URN beside the core one when it creates a group (Microsoft's "Create
 *  Group" request in its SCIM endpoint tutorial). It defines no attributes: a marker accepted on input, never served. */
export const ENTRA_LEGACY_GROUP_SCHEMA = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const MAX_RESULTS = 200;
export const DEFAULT_COUNT = 100;

export type Json = Record<string, unknown>;

/** Adds meta.version: a weak ETag over the resource's content, so it changes exactly when what a client sees does. */
export function withVersion<T extends Json & { meta: Json }>(resource: T): T {
  const version = `W/"${createHash('sha256').update(JSON.stringify(resource)).digest('base64url').slice(0, 22)}"`;
  return { ...resource, meta: { ...resource.meta, version } };
}

/** 412 when the request's If-Match names neither `*` nor the resource's current version. */
export function checkIfMatch(header: string | string[] | undefined, version: string) {
  if (header === undefined) return;
  const tags = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const bare = (t: string) => t.replace(/^W\//, '');
  if (tags.includes('*') || tags.some((t) => bare(t) === bare(version))) return;
  throw new ScimError(412, null, 'The resource has changed since that version (If-Match).');
}

/** startIndex (1-based) and count of a list request, as RFC 7644 3.4.2.4 reads them. */
export function pageOf(query: { startIndex?: unknown; count?: unknown }) {
  const int = (v: unknown, fallback: number) => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : typeof v === 'number' ? v : NaN;
    return Number.isFinite(n) ? Math.trunc(n) : fallback;
  };
  const startIndex = Math.max(1, int(query.startIndex, 1));
  const count = Math.min(MAX_RESULTS, Math.max(0, int(query.count, DEFAULT_COUNT)));
  return { startIndex, count };
}

export function listResponse(all: Json[], page: { startIndex: number; count: number }) {
  const resources = all.slice(page.startIndex - 1, page.startIndex - 1 + page.count);
  return {
    schemas: [LIST_SCHEMA],
    totalResults: all.length,
    startIndex: page.startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

/** true/false, also as the strings Entra ID sends ("True", "False"); undefined when absent; 400 otherwise. */
export function readBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  throw new ScimError(400, 'invalidValue', `${name} must be true or false.`);
}

/** 400 invalidValue when the body's `schemas` is not a list of strings, or names a schema this resource does not
 *  have (compared without regard to case). A body without `schemas` passes: some clients leave it out. */
export function checkSchemas(body: Json, known: string[]) {
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'schemas');
  if (key === undefined) return;
  const list = body[key];
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
    throw new ScimError(400, 'invalidValue', 'schemas must be a list of schema URNs.');
  const allowed = new Set(known.map((k) => k.toLowerCase()));
  const unknown = list.find((s) => !allowed.has((s as string).toLowerCase()));
  if (unknown !== undefined)
    throw new ScimError(
      400,
      'invalidValue',
      `Unknown schema ${String(unknown).slice(0, 200)}: this resource takes ${known.join(', ')}.`,
    );
}

/** 400 mutability when a PUT body or a PATCH result gives `id` another value (id is read-only, RFC 7643 3.1). */
export function checkId(body: Json, id: string) {
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'id');
  if (key !== undefined && body[key] !== undefined && body[key] !== null && body[key] !== id)
    throw new ScimError(400, 'mutability', 'id is read-only.');
}

/** The attributes a client asked for (RFC 7644 3.4.2.5): `attributes` keeps only those named (plus `schemas` and `id`,
 *  which are always returned), `excludedAttributes` drops those named (never `schemas` or `id`). Names compare without
 *  regard to case, may carry the core schema's URN, and may name a sub-attribute (`name.givenName`, `emails.value`,
 *  which then applies to each entry of a multi-valued attribute). A name the resource does not have selects nothing. */
export interface Projection {
  attributes: string[][] | null;
  excluded: string[][];
}
const ALWAYS = new Set(['schemas', 'id']);
const MAX_PARAMETER_LENGTH = 2000;

export function readProjection(query: { attributes?: unknown; excludedAttributes?: unknown }): Projection {
  const list = (value: unknown, name: string): string[][] | null => {
    if (value === undefined) return null;
    if (typeof value !== 'string' || value.length > MAX_PARAMETER_LENGTH)
      throw new ScimError(
        400,
        'invalidValue',
        `${name} must be one comma-separated list of at most ${MAX_PARAMETER_LENGTH} characters.`,
      );
    return value
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean)
      .map((a) => splitAttrPath(a).map((p) => p.toLowerCase()));
  };
  return {
    attributes: list(query.attributes, 'attributes'),
    excluded: list(query.excludedAttributes, 'excludedAttributes') ?? [],
  };
}

const keyOf = (obj: Json, name: string) => Object.keys(obj).find((k) => k.toLowerCase() === name);
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `value` with only the sub-attributes named (each entry of a multi-valued attribute alike). */
function keepSubs(value: unknown, subs: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => keepSubs(v, subs));
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => subs.has(k.toLowerCase())));
}
function dropSub(value: unknown, sub: string): unknown {
  if (Array.isArray(value)) return value.map((v) => dropSub(v, sub));
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k.toLowerCase() !== sub));
}

export function project(resource: Json, p: Projection): Json {
  let out: Json = resource;
  if (p.attributes && p.attributes.length) {
    const wanted = new Map<string, Set<string> | null>(); // top-level name → sub-attributes (null: all of it)
    for (const path of p.attributes) {
      const [top, sub] = path;
      if (sub === undefined || path.length > 2) wanted.set(top, null);
      else if (wanted.get(top) !== null) wanted.set(top, new Set([...(wanted.get(top) ?? []), sub]));
    }
    out = {};
    for (const [k, v] of Object.entries(resource)) {
      const name = k.toLowerCase();
      if (ALWAYS.has(name)) out[k] = v;
      else if (wanted.has(name)) {
        const subs = wanted.get(name);
        out[k] = subs ? keepSubs(v, subs) : v;
      }
    }
  }
  for (const path of p.excluded) {
    const key = keyOf(out, path[0]);
    if (key === undefined || ALWAYS.has(path[0])) continue;
    if (path.length === 1) {
      const { [key]: _dropped, ...rest } = out;
      out = rest;
    } else if (path.length === 2) out = { ...out, [key]: dropSub(out[key], path[1]) };
  }
  return out;
}

/** A resource, or each resource of a ListResponse, as the projection asks. */
export function projected(body: Json, p: Projection): Json {
  if (!p.attributes && !p.excluded.length) return body;
  if (Array.isArray(body.Resources))
    return { ...body, Resources: (body.Resources as Json[]).map((r) => project(r, p)) };
  return project(body, p);
}
