// Admin console session and CSRF checks. The session cookie is HttpOnly, SameSite=Strict, limited to /admin, and
// Secure whenever public URLs are https. Every state-changing form carries the session's CSRF token; the sign-in
// form (no session yet) uses a double-submit cookie.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { sha256 } from '../crypto/hash.ts';
import type { Tenant } from '../plugins/tenant.ts';
import type { AdminRow } from '../store/admins.ts';

export const ADMIN_COOKIE = 'broker_admin';
export const LOGIN_CSRF_COOKIE = 'broker_admin_csrf';

export function adminCookieOptions(ctx: AppContext, maxAge?: number) {
  return {
    path: '/admin',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: ctx.config.publicScheme === 'https',
    ...(maxAge !== undefined && { maxAge }),
  };
}

export const safeEqual = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export interface AdminContext {
  admin: AdminRow;
  sessionId: string;
  csrfToken: string;
}

export async function currentAdmin(
  ctx: AppContext,
  tenant: Tenant,
  request: FastifyRequest,
): Promise<AdminContext | null> {
  const token = request.cookies[ADMIN_COOKIE];
  if (!token) return null;
  const session = await tenant.store.adminSessions.findActive(sha256(token), ctx.clock.now());
  if (!session) return null;
  const admin = await tenant.store.admins.findById(session.adminId);
  return admin ? { admin, sessionId: session.id, csrfToken: session.csrfToken } : null;
}

export function checkCsrf(request: FastifyRequest, expected: string) {
  const given = (request.body as Record<string, unknown> | undefined)?._csrf;
  if (typeof given !== 'string' || !safeEqual(given, expected))
    throw new AppError('csrf_failed', 'This form has expired. Reload the page and try again.');
}

/** Token for the sign-in form, mirrored in a cookie (double submit). */
export function loginCsrf(request: FastifyRequest, reply: FastifyReply, ctx: AppContext, path = '/admin'): string {
  let token = request.cookies[LOGIN_CSRF_COOKIE];
  if (!token || !/^[A-Za-z0-9_-]{32}$/.test(token)) {
    token = randomBytes(24).toString('base64url');
    reply.setCookie(LOGIN_CSRF_COOKIE, token, { ...adminCookieOptions(ctx), path });
  }
  return token;
}
