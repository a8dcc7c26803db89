// The admin JSON API under /api on an organisation's host. Every request needs a bearer token of that same
// organisation; errors are JSON with a stable code (see app.ts). The OpenAPI document is generated from the route
// schemas of this scope and served without a token at /api/openapi.json (it describes, it does not reveal).
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { checkApiToken } from '../api-tokens.ts';
import { access, assertRouteAllowed, isRole, type AdminRole } from '../roles.ts';
import { tokensApi } from './tokens.ts';
import { usersApi } from './users.ts';
import { idpsApi } from './idps.ts';
import { appsApi } from './apps.ts';
import { policiesApi } from './policies.ts';
import { auditApi } from './audit.ts';
import { organizationApi } from './organization.ts';
import { keysApi } from './keys.ts';
import { scimTokensApi } from './scim-tokens.ts';

declare module 'fastify' {
  /** apiActor: who the audit log names; apiRole: what the token may do (../roles.ts). */
  interface FastifyRequest {
    apiActor?: string;
    apiRole?: AdminRole;
  }
}

const OPENAPI_PATH = '/api/openapi.json';

export async function adminApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SAML Broker admin API',
        version: '1',
        description:
          'Manage one organisation: identity providers, apps, users, policies, signing keys and the audit log. Send `Authorization: Bearer brk_…` (a token created in the admin console, by the CLI or by `POST /api/tokens`). A token has a role (viewer, helpdesk, admin, owner) and may expire: a call its role does not allow is 403 `forbidden_role` (details.required names the role needed), an expired token is 401 `api_token_expired`. Errors are `{ "error": { "code", "message", "details"? } }`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (request) => {
    const tenant = requireTenant(request);
    if (request.url.split('?')[0] === OPENAPI_PATH) return;
    const now = ctx.clock.now();
    const token = await checkApiToken(tenant.store, request.headers.authorization);
    if (!token)
      throw new AppError('api_unauthorized', 'Send an API token of this organisation: Authorization: Bearer brk_…');
    if (token.expiresAt && token.expiresAt <= now)
      throw new AppError(
        'api_token_expired',
        `This API token expired at ${token.expiresAt.toISOString()}. Create a new one.`,
      );
    request.apiActor = `api-token:${token.name}`;
    if (isRole(token.role)) request.apiRole = token.role;
    assertRouteAllowed(request, token.role); // an unknown role may do nothing
    await tenant.store.apiTokens.touch(token.id, now);
  });

  app.get(OPENAPI_PATH, { ...access('public'), schema: { hide: true } }, async () => app.swagger());

  await app.register(usersApi, { ctx });
  await app.register(idpsApi, { ctx });
  await app.register(appsApi, { ctx });
  await app.register(policiesApi, { ctx });
  await app.register(auditApi, { ctx });
  await app.register(organizationApi, { ctx });
  await app.register(keysApi, { ctx });
  await app.register(scimTokensApi, { ctx });
  await app.register(tokensApi, { ctx });
}
