// The admin JSON API under /api on an organisation's host. Every request needs a bearer token of that same
// organisation; errors are JSON with a stable code (see app.ts). Request bodies for imports arrive raw.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { checkApiToken } from '../api-tokens.ts';
import { usersApi } from './users.ts';

declare module 'fastify' {
  interface FastifyRequest { apiActor?: string }
}

export async function adminApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  // Import files are read as bytes, whatever their type: the import parses them itself, streaming and bounded.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'text/csv', 'text/plain', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (request) => {
    const tenant = requireTenant(request);
    const token = await checkApiToken(tenant.store, request.headers.authorization);
    if (!token) throw new AppError(401, 'api_unauthorized', 'Send an API token of this organisation: Authorization: Bearer brk_…');
    request.apiActor = `api-token:${token.name}`;
    await tenant.store.apiTokens.touch(token.id, ctx.clock.now());
  });

  await app.register(usersApi, { ctx });
}
