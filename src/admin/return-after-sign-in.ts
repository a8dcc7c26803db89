// After a console session ends (it expired, or the admin was signed out elsewhere), the next page asks for sign-in
// and then goes back where the admin was, instead of the overview. The page to return to waits in a short-lived
// cookie: only a console path of this host (never another origin, never a protocol-relative or backslash URL).
// A form that was being posted is never replayed (its CSRF token belonged to the old session, and the admin should
// see what they send): the admin returns to the page the form was on, and what they had typed waits, sealed with
// the master key (crypto/sealed-box.ts), in a second short-lived cookie; the page fills the form with it and says
// so, and the admin submits it again. Passwords, secrets, codes and tokens are never kept. The input is sealed for
// the organisation AND the admin whose session ended (read from that session's row, which stays until the purge):
// only that admin gets it back; another admin who signs in on the same browser never sees it, and it is dropped.
// When the ended session is no longer known (purged, or signed out everywhere), nothing is kept.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { sha256 } from '../crypto/hash.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { ENDED_ADMIN_SESSION_KEPT_SECONDS } from '../store/system.ts';
import { ADMIN_COOKIE, adminCookieOptions } from './admin-session.ts';

const RETURN_COOKIE = 'broker_admin_return';
const FORM_COOKIE = 'broker_admin_form';
/** As long as the purge keeps an ended session's row, through which the kept input finds its admin. */
const RETURN_SECONDS = ENDED_ADMIN_SESSION_KEPT_SECONDS;
/** A form larger than this (as JSON) is not kept: a cookie holds about 4 KB, and sealing adds a third. */
const MAX_FORM_JSON = 2400;
/** Fields never kept, by name: passwords, secrets, one-time codes, tokens, keys, the CSRF token. */
const NEVER_KEPT = /^_csrf$|pass|secret|token|^code$|otp|recovery|private|key$/i;

/** A console path that is safe to go back to, or null: this host's /admin pages only, never another origin
 *  (`//host`, `/\host`), never a dot-segment (`/admin/../x`) nor an encoded dot, slash or backslash in the path. */
export function consolePath(value: string | undefined | null): string | null {
  if (!value || value.length > 500) return null;
  if (!/^\/admin(\/|\?|#|$)/.test(value) || /[\\\s\x00-\x1f\x7f]|\/\//.test(value)) return null;
  const path = value.split(/[?#]/)[0];
  if (/%(2e|2f|5c|00)/i.test(path) || /(^|\/)\.\.?(\/|$)/.test(path)) return null;
  if (/^\/admin\/(login|logout|invite)(\/|\?|$)/.test(value)) return null;
  return value;
}

/** Where the admin was: the URL of a page, or for a form post the page that showed the form (same host only). */
function whereTheyWere(request: FastifyRequest): string | null {
  if (request.method === 'GET') return consolePath(request.url);
  const referer = request.headers.referer;
  if (!referer) return null;
  try {
    const url = new URL(referer);
    return url.host === request.headers.host ? consolePath(url.pathname + url.search) : null;
  } catch {
    return null;
  }
}

/** The redirect to sign-in, remembering the page (and a posted form's input); `?expired` when the browser still
 *  held an ended session. */
export async function toSignIn(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, tenant: Tenant) {
  const back = whereTheyWere(request);
  if (back && back !== '/admin') reply.setCookie(RETURN_COOKIE, back, adminCookieOptions(ctx, RETURN_SECONDS));
  if (request.method === 'POST') {
    const adminId = await endedSessionAdmin(request, tenant);
    if (adminId) keepForm(ctx, request, reply, tenant.org.id, adminId);
  }
  return reply.redirect(request.cookies[ADMIN_COOKIE] ? '/admin/login?expired' : '/admin/login', 303);
}

/** The page to open after signing in ('/admin' when none waits), clearing what waited. */
export function afterSignIn(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): string {
  const back = consolePath(request.cookies[RETURN_COOKIE]);
  if (request.cookies[RETURN_COOKIE]) reply.clearCookie(RETURN_COOKIE, adminCookieOptions(ctx));
  return back ?? '/admin';
}

/** A posted form's input, as the page restores it: the form's action and its fields in order. */
export interface KeptForm {
  action: string;
  fields: [string, string][];
}

const formContext = (orgId: string, adminId: string) => `admin-form:${orgId}:${adminId}`;

/** The admin whose (ended) session cookie this browser still sends, or null when the session is unknown here. */
async function endedSessionAdmin(request: FastifyRequest, tenant: Tenant): Promise<string | null> {
  const token = request.cookies[ADMIN_COOKIE];
  if (!token) return null;
  return (await tenant.store.adminSessions.findAny(sha256(token)))?.adminId ?? null;
}

/** Seals what a POST that met an ended session carried (urlencoded fields only, secrets left out) into a cookie,
 *  for this organisation and the admin whose session it was. */
function keepForm(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, orgId: string, adminId: string) {
  const action = consolePath(request.url);
  const body = request.body;
  if (!action || !body || typeof body !== 'object' || Array.isArray(body)) return;
  const fields: [string, string][] = [];
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (NEVER_KEPT.test(name)) continue;
    for (const v of [value].flat()) if (typeof v === 'string') fields.push([name, v]);
  }
  if (!fields.length) return;
  const kept = JSON.stringify({ action, fields, until: ctx.clock.now().getTime() + RETURN_SECONDS * 1000 });
  if (kept.length > MAX_FORM_JSON) return;
  reply.setCookie(
    FORM_COOKIE,
    ctx.box.seal(kept, formContext(orgId, adminId)),
    adminCookieOptions(ctx, RETURN_SECONDS),
  );
}

/** The kept form input waiting for this admin of this organisation (once: the cookie is cleared, also when it is
 *  refused), or null when none waits or it is expired, forged, another organisation's or another admin's. */
export function takeKeptForm(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  orgId: string,
  adminId: string,
): KeptForm | null {
  const sealed = request.cookies[FORM_COOKIE];
  if (!sealed) return null;
  reply.clearCookie(FORM_COOKIE, adminCookieOptions(ctx));
  try {
    const kept = JSON.parse(ctx.box.open(sealed, formContext(orgId, adminId)).toString('utf8')) as {
      action?: unknown;
      fields?: unknown;
      until?: unknown;
    };
    if (typeof kept.until !== 'number' || kept.until <= ctx.clock.now().getTime()) return null;
    const action = consolePath(typeof kept.action === 'string' ? kept.action : null);
    if (!action || !Array.isArray(kept.fields)) return null;
    const fields = kept.fields.filter(
      (f): f is [string, string] =>
        Array.isArray(f) &&
        f.length === 2 &&
        typeof f[0] === 'string' &&
        typeof f[1] === 'string' &&
        !NEVER_KEPT.test(f[0]),
    );
    return { action, fields };
  } catch {
    return null; // forged, another organisation's or admin's, or sealed under a previous master key
  }
}
