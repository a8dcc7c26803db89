// API tokens: the list (never the tokens themselves, only their prefix), creation with the token shown once, and
// revocation. Creation is POST-redirect-GET (shown-once.ts), so that reloading the page never creates another token
// (the token is stored hashed; the broker cannot show it again). A token gets a role up
// to the signed-in admin's own, and may expire after a number of days.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import { createApiToken, revokeApiToken, tokenStatus } from '../api-tokens.ts';
import { text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access, ROLES, roleAllows, type AdminRole } from '../roles.ts';
import { keepForOnce, takeOnce } from './shown-once.ts';

/** Lifetimes offered on the form, in days ('' = until revoked). */
const EXPIRY_DAYS = ['', '7', '30', '90', '365'];

export async function tokenPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function listPage(
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { name?: string; role?: string; expiresInDays?: string; errors?: Record<string, string> } = {},
    status = 200,
  ) {
    const { tenant, session } = adminOf(request);
    const now = ctx.clock.now();
    const tokens = (await tenant.store.apiTokens.list()).reverse().map((t) => ({ ...t, status: tokenStatus(t, now) }));
    return adminPage(
      request,
      reply,
      'admin/tokens/list',
      'tokens',
      {
        title: 'API tokens',
        tokens,
        name: opts.name ?? '',
        role: opts.role ?? 'admin',
        expiresInDays: opts.expiresInDays ?? '',
        expiryDays: EXPIRY_DAYS,
        roles: ROLES.filter((r) => roleAllows(session.admin.role, r)).reverse(),
        errors: opts.errors ?? {},
        apiBase: `${tenant.urls.base}/api`,
      },
      status,
    );
  }

  app.get('/admin/tokens', access('admin'), async (request, reply) => listPage(request, reply));

  app.post<{ Body: FormBody }>('/admin/tokens', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const body = request.body ?? {};
    const name = text(body, 'name');
    const role = text(body, 'role') || 'admin';
    const expiresInDays = text(body, 'expiresInDays');
    const created = await withFieldErrors(async () => {
      if (!EXPIRY_DAYS.includes(expiresInDays))
        throw new ValidationError({ expiresInDays: 'must be one of the lifetimes offered' });
      const expiresAt = expiresInDays ? new Date(ctx.clock.now().getTime() + Number(expiresInDays) * 86_400_000) : null;
      return createApiToken(tenant.store, ctx.clock, name, session.admin.email, {
        role,
        expiresAt,
        creatorRole: session.admin.role as AdminRole,
      });
    });
    if (!created.ok) return listPage(request, reply, { name, role, expiresInDays, errors: created.errors }, 400);
    const { id, token } = created.value;
    keepForOnce(
      ctx,
      reply,
      { path: '/admin/tokens/created', kind: 'api-token', orgId: tenant.org.id, adminSessionId: session.sessionId },
      { id, secret: token },
    );
    return reply.redirect(`/admin/tokens/created/${encodeURIComponent(id)}`, 303);
  });

  app.get<{ Params: { id: string } }>('/admin/tokens/created/:id', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const row = (await tenant.store.apiTokens.list()).find((t) => t.id === request.params.id);
    if (!row) return reply.redirect('/admin/tokens', 303);
    const token = takeOnce(
      ctx,
      request,
      reply,
      { path: '/admin/tokens/created', kind: 'api-token', orgId: tenant.org.id, adminSessionId: session.sessionId },
      row.id,
    );
    return adminPage(request, reply, 'admin/tokens/created', 'tokens', {
      title: token ? 'API token created' : 'API token',
      name: row.name,
      token,
      role: row.role,
      expiresAt: row.expiresAt,
      apiBase: `${tenant.urls.base}/api`,
    });
  });

  app.post<{ Params: { id: string } }>('/admin/tokens/:id/revoke', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await revokeApiToken(tenant.store, ctx.clock, request.params.id, session.admin.email);
    return reply.redirect('/admin/tokens?done=token-revoked', 303);
  });
}
