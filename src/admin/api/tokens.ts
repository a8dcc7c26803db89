// /api/tokens: API tokens over the API, as in the console and the CLI (../api-tokens.ts): list (never the secrets,
// only their prefix), create (the secret answered once), revoke. A token creates tokens up to its own role.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import type { ApiTokenRow } from '../../store/api-tokens.ts';
import { createApiToken, revokeApiToken, tokenStatus } from '../api-tokens.ts';
import { access, ROLES } from '../roles.ts';
import { errorJson, errorResponses, fieldErrorsFromSchema } from './schema-errors.ts';

const nullableDate = { type: ['string', 'null'], format: 'date-time' } as const;
const tokenJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'The first 10 characters of the token, to recognise it' },
    role: { type: 'string', enum: [...ROLES] },
    status: { type: 'string', enum: ['active', 'expired', 'revoked'] },
    createdAt: { type: 'string', format: 'date-time' },
    createdBy: { type: ['string', 'null'] },
    lastUsedAt: nullableDate,
    expiresAt: nullableDate,
    revokedAt: nullableDate,
  },
} as const;

export async function tokensApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const tags = ['tokens'];
  const present = (t: ApiTokenRow) => ({
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    role: t.role,
    status: tokenStatus(t, ctx.clock.now()),
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    lastUsedAt: t.lastUsedAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
  });

  app.get(
    '/api/tokens',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'List API tokens, newest first (never the tokens themselves)',
        response: {
          200: { type: 'object', properties: { tokens: { type: 'array', items: tokenJson } } },
          ...errorResponses,
        },
      },
    },
    async (request) => ({ tokens: (await requireTenant(request).store.apiTokens.list()).reverse().map(present) }),
  );

  app.post<{ Body: { name: string; role?: string; expiresAt?: string | null } }>(
    '/api/tokens',
    {
      ...access('admin'),
      schemaErrorFormatter: fieldErrorsFromSchema,
      schema: {
        tags,
        summary: 'Create an API token: the answer carries the token, once',
        description:
          "`role` defaults to admin and cannot be above the calling token's role. `expiresAt` (in the future) is optional; an expired token is refused with 401 api_token_expired.",
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string' }, role: { type: 'string', enum: [...ROLES] }, expiresAt: nullableDate },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              ...tokenJson.properties,
              token: { type: 'string', description: 'Shown only in this answer' },
            },
          },
          ...errorResponses,
          403: errorJson,
        },
      },
    },
    async (request, reply) => {
      const store = requireTenant(request).store;
      const body = request.body;
      const created = await createApiToken(store, ctx.clock, body.name, request.apiActor ?? 'api', {
        role: body.role,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        creatorRole: request.apiRole,
      });
      const row = await store.apiTokens.findById(created.id);
      reply.header('cache-control', 'no-store');
      return reply
        .code(201)
        .header('location', `/api/tokens/${created.id}`)
        .send({ ...(row && present(row)), token: created.token });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/tokens/:id',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Revoke an API token: it stops working at once',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await revokeApiToken(requireTenant(request).store, ctx.clock, request.params.id, request.apiActor ?? 'api');
      return reply.code(204).send();
    },
  );
}
