// /api/idps/:id/scim-tokens: the SCIM bearer tokens of one upstream IdP (list, create, revoke) and its SCIM base URL.
// The token itself is in the create answer only (stored hashed). See docs/scim.md.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { createScimToken, listScimTokens, revokeScimToken, scimBaseUrl } from '../../scim/tokens.ts';
import { access } from '../roles.ts';

const tags = ['Identity providers'];
const tokenSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    idpId: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string', description: 'the first characters of the token, to recognise it' },
    createdAt: { type: 'string', format: 'date-time' },
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
  },
};
const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
};
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };

export async function scimTokensApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const actorOf = (request: FastifyRequest) => request.apiActor ?? 'api';

  app.get<{ Params: { id: string } }>(
    '/api/idps/:id/scim-tokens',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: "The IdP's SCIM base URL and tokens (revoked ones included)",
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: { baseUrl: { type: 'string' }, tokens: { type: 'array', items: tokenSchema } },
          },
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      const tokens = await listScimTokens(tenant.store, request.params.id);
      return { baseUrl: scimBaseUrl(tenant.urls.base, request.params.id), tokens };
    },
  );

  app.post<{ Params: { id: string }; Body: { name: string } }>(
    '/api/idps/:id/scim-tokens',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: "Create a SCIM token for the IdP's provisioning client (shown once)",
        params: idParams,
        body: {
          type: 'object',
          properties: { name: { type: 'string', maxLength: 100 } },
          required: ['name'],
          additionalProperties: false,
        },
        response: {
          201: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              token: { type: 'string' },
              prefix: { type: 'string' },
              baseUrl: { type: 'string' },
            },
          },
          400: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      const created = await createScimToken(
        tenant.store,
        ctx.clock,
        request.params.id,
        request.body.name,
        actorOf(request),
      );
      return reply.code(201).send({ ...created, baseUrl: scimBaseUrl(tenant.urls.base, request.params.id) });
    },
  );

  app.delete<{ Params: { id: string; tokenId: string } }>(
    '/api/idps/:id/scim-tokens/:tokenId',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Revoke a SCIM token (its client gets 401 from then on)',
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, tokenId: { type: 'string' } },
          required: ['id', 'tokenId'],
        },
        response: { 204: { type: 'null' }, 404: errorSchema },
      },
    },
    async (request, reply) => {
      await revokeScimToken(
        requireTenant(request).store,
        ctx.clock,
        request.params.id,
        request.params.tokenId,
        actorOf(request),
      );
      return reply.code(204).send();
    },
  );
}
