// After a console session ends (it expired, or the admin was signed out elsewhere), the next page asks for sign-in
// and then goes back where the admin was, instead of the overview. The page to return to waits in a short-lived
// cookie: only a console path of this host (never another origin, never a protocol-relative or backslash URL).
// A form that was being posted cannot be replayed (its CSRF token belonged to the old session): the admin returns
// to the page the form was on.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { ADMIN_COOKIE, adminCookieOptions } from './admin-session.ts';

const RETURN_COOKIE = 'broker_admin_return';
const RETURN_SECONDS = 600;

/** A console path that is safe to go back to, or null. */
export function consolePath(value: string | undefined | null): string | null {
  if (!value || value.length > 500) return null;
  if (!/^\/admin(\/|\?|#|$)/.test(value) || /[\\\s]|\/\//.test(value)) return null;
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

/** The redirect to sign-in, remembering the page; `?expired` when the browser still held an ended session. */
export function toSignIn(ctx: AppContext, request: FastifyRequest, reply: FastifyReply) {
  const back = whereTheyWere(request);
  if (back && back !== '/admin') reply.setCookie(RETURN_COOKIE, back, adminCookieOptions(ctx, RETURN_SECONDS));
  return reply.redirect(request.cookies[ADMIN_COOKIE] ? '/admin/login?expired' : '/admin/login', 303);
}

/** The page to open after signing in ('/admin' when none waits), clearing what waited. */
export function afterSignIn(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): string {
  const back = consolePath(request.cookies[RETURN_COOKIE]);
  if (request.cookies[RETURN_COOKIE]) reply.clearCookie(RETURN_COOKIE, adminCookieOptions(ctx));
  return back ?? '/admin';
}
