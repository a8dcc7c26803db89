// API tokens: the list (never the tokens themselves, only their prefix), creation with the token shown once on
// the answer to the POST (it is stored hashed and cannot be shown again), and revocation.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { createApiToken, revokeApiToken } from '../api-tokens.ts';
import { text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';

export async function tokenPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function listPage(request: FastifyRequest, reply: FastifyReply, opts: { name?: string; errors?: Record<string, string> } = {}, status = 200) {
    const { tenant } = adminOf(request);
    const tokens = (await tenant.store.apiTokens.list()).reverse();
    return adminPage(request, reply, 'admin/tokens/list', 'tokens', { title: 'API tokens', tokens, name: opts.name ?? '', errors: opts.errors ?? {}, apiBase: `${tenant.urls.base}/api` }, status);
  }

  app.get('/admin/tokens', async (request, reply) => listPage(request, reply));

  app.post<{ Body: FormBody }>('/admin/tokens', async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const name = text(request.body ?? {}, 'name');
    const created = await withFieldErrors(() => createApiToken(tenant.store, ctx.clock, name, session.admin.email));
    if (!created.ok) return listPage(request, reply, { name, errors: created.errors }, 400);
    // Answered here rather than after a redirect: the token exists in clear only in this response (sent no-store).
    return adminPage(request, reply, 'admin/tokens/created', 'tokens', { title: 'API token created', name, token: created.value.token, apiBase: `${tenant.urls.base}/api` }, 201);
  });

  app.post<{ Params: { id: string } }>('/admin/tokens/:id/revoke', async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await revokeApiToken(tenant.store, ctx.clock, request.params.id, session.admin.email);
    return reply.redirect('/admin/tokens?done=token-revoked', 303);
  });
}
