// The root host's welcome page. While no organisation exists it offers to create the first one (and its first
// admin), but only to a browser on this machine: anyone who can reach a fresh server from elsewhere must not be
// able to claim it. Behind a reverse proxy set TRUST_PROXY so the client's real address is seen.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { page } from '../plugins/view.ts';
import { createOperator } from './operators.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function fromLoopback(request: FastifyRequest, ctx: AppContext) {
  // Without a trusted proxy, a forwarded request from a proxy on this machine would look local: refuse those.
  if (!ctx.config.trustProxy && (request.headers['x-forwarded-for'] || request.headers['forwarded'])) return false;
  return LOOPBACK.has(request.ip);
}

export async function welcomeRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const base = { baseDomain: ctx.config.baseDomain, values: {}, errors: {} };

  app.get('/', async (request, reply) => {
    if (request.tenant) return reply.redirect('/login');
    if ((await ctx.store.organizations.count()) > 0) return page(request, reply, 'root', base);
    if (!fromLoopback(request, ctx))
      throw new AppError(
        'setup_loopback_only',
        'The first organisation can only be created from a browser on the server itself (http://localhost), or with the CLI: npm run cli -- org create.',
      );
    return page(request, reply, 'welcome', base);
  });

  app.post<{ Body: Record<string, string> }>('/', async (request, reply) => {
    if (request.tenant) throw new AppError('not_found', 'Nothing to post here.');
    if (!fromLoopback(request, ctx))
      throw new AppError(
        'setup_loopback_only',
        'The first organisation can only be created from a browser on the server itself.',
      );
    const body = request.body ?? {};
    const values = {
      name: String(body.name ?? ''),
      slug: String(body.slug ?? '').trim(),
      adminEmail: String(body.adminEmail ?? '').trim(),
    };
    const asked = { ...values, operator: body.operator === 'yes' };
    const password = String(body.adminPassword ?? '');
    try {
      const created = await ctx.organizations.create(
        { ...values, ...(password && { adminPassword: password }) },
        'welcome-page',
        { onlyIfNoneExist: true },
      );
      request.log.info({ org: created.org.slug }, 'first organisation created from the welcome page');
      // The first operator may come with the first organisation (the same address); later ones only from the CLI.
      const operator =
        body.operator === 'yes' && (await ctx.store.platform.admins.count()) === 0
          ? await createOperator(ctx, values.adminEmail, 'welcome-page')
          : null;
      return page(request, reply, 'welcome-done', { created, operator });
    } catch (err) {
      if (err instanceof ValidationError)
        return page(request, reply, 'welcome', { ...base, values: asked, errors: err.fields }, 400);
      if (err instanceof AppError && err.code === 'slug_taken')
        return page(request, reply, 'welcome', { ...base, values: asked, errors: { slug: 'is already taken' } }, 409);
      throw err;
    }
  });
}
