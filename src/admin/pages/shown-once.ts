// A secret the console shows once (a new API token, a new SCIM token), after a POST-redirect-GET: the POST seals it
// under the master key for this organisation and admin session into a short-lived cookie scoped to the page that
// shows it; that GET opens it and clears the cookie, so a reload (or another browser, session or organisation)
// finds nothing and the page says the secret was shown already. A reload never creates a second secret.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { adminCookieOptions } from '../admin-session.ts';

const COOKIE = 'brk_shown_once';
const SECONDS = 300;

const contextOf = (kind: string, orgId: string, adminSessionId: string) =>
  `shown-once:${kind}:${orgId}:${adminSessionId}`;

export function keepForOnce(
  ctx: AppContext,
  reply: FastifyReply,
  at: { path: string; kind: string; orgId: string; adminSessionId: string },
  value: { id: string; secret: string; note?: Record<string, string | boolean | null> },
) {
  const sealed = ctx.box.seal(JSON.stringify(value), contextOf(at.kind, at.orgId, at.adminSessionId));
  reply.setCookie(COOKIE, sealed, { ...adminCookieOptions(ctx, SECONDS), path: at.path });
}

/** The secret kept for the object `id`, once; null when there is none (already shown, or not this session's). */
export function takeOnce(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  at: { path: string; kind: string; orgId: string; adminSessionId: string },
  id: string,
): string | null {
  return takeKeptOnce(ctx, request, reply, at, id)?.secret ?? null;
}

/** As takeOnce, with the note kept beside the secret (what the page says about it, e.g. whether it was e-mailed). */
export function takeKeptOnce(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  at: { path: string; kind: string; orgId: string; adminSessionId: string },
  id: string,
): { secret: string; note: Record<string, string | boolean | null> } | null {
  reply.clearCookie(COOKIE, { ...adminCookieOptions(ctx), path: at.path });
  const sealed = request.cookies[COOKIE];
  if (!sealed) return null;
  try {
    const opened = JSON.parse(ctx.box.open(sealed, contextOf(at.kind, at.orgId, at.adminSessionId)).toString()) as {
      id: string;
      secret: string;
      note?: Record<string, string | boolean | null>;
    };
    return opened.id === id ? { secret: opened.secret, note: opened.note ?? {} } : null;
  } catch {
    return null; // sealed for another session or organisation, or forged
  }
}
