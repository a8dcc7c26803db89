// API tokens: the list (never the tokens themselves, only their prefix), creation with the token shown once on
// the answer to the POST (it is stored hashed and cannot be shown again), and revocation. A token gets a role up
// to the signed-in admin's own, and may expire after a number of days.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import { createApiToken, revokeApiToken, tokenStatus } from '../api-tokens.ts';
import { text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access, ROLES, roleAllows, type AdminRole } from '../roles.ts';

/** Lifetimes offered on the form, in days ('' = until revoked). */
const EXPIRY_DAYS = ['', '7', '30', '90', '365'];

export async function tokenPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function listPage(request: FastifyRequest, reply: FastifyReply, opts: { name?: string; role?: string; expiresInDays?: string; errors?: Record<string, string> } = {}, status = 200) {
    const { tenant, session } = adminOf(request);
    const now = ctx.clock.now();
    const tokens = (await tenant.store.apiTokens.list()).reverse().map((t) => ({ ...t, status: tokenStatus(t, now) }));
    return adminPage(request, reply, 'admin/tokens/list', 'tokens', {
      title: 'API tokens', tokens, name: opts.name ?? '', role: opts.role ?? 'admin', expiresInDays: opts.expiresInDays ?? '', expiryDays: EXPIRY_DAYS,
      roles: ROLES.filter((r) => roleAllows(session.admin.role, r)).reverse(), errors: opts.errors ?? {}, apiBase: `${tenant.urls.base}/api`,
    }, status);
  }

  app.get('/admin/tokens', access('admin'), async (request, reply) => listPage(request, reply));

  app.post<{ Body: FormBody }>('/admin/tokens', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const body = request.body ?? {};
    const name = text(body, 'name');
    const role = text(body, 'role') || 'admin';
    const expiresInDays = text(body, 'expiresInDays');
    const created = await withFieldErrors(async () => {
      if (!EXPIRY_DAYS.includes(expiresInDays)) throw new ValidationError({ expiresInDays: 'must be one of the lifetimes offered' });
      const expiresAt = expiresInDays ? new Date(ctx.clock.now().getTime() + Number(expiresInDays) * 86_400_000) : null;
      return createApiToken(tenant.store, ctx.clock, name, session.admin.email, { role, expiresAt, creatorRole: session.admin.role as AdminRole });
    });
    if (!created.ok) return listPage(request, reply, { name, role, expiresInDays, errors: created.errors }, 400);
    // Answered here rather than after a redirect: the token exists in clear only in this response (sent no-store).
    return adminPage(request, reply, 'admin/tokens/created', 'tokens', {
      title: 'API token created', name, token: created.value.token, role: created.value.role, expiresAt: created.value.expiresAt, apiBase: `${tenant.urls.base}/api`,
    }, 201);
  });

  app.post<{ Params: { id: string } }>('/admin/tokens/:id/revoke', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await revokeApiToken(tenant.store, ctx.clock, request.params.id, session.admin.email);
    return reply.redirect('/admin/tokens?done=token-revoked', 303);
  });
}
