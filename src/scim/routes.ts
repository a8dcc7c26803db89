// The SCIM 2.0 service provider (RFC 7644) of each upstream IdP of an organisation, at
// https://<org>.<BASE_DOMAIN>/scim/v2/<idpId>. Every request needs an active SCIM token of that IdP (401 otherwise,
// also for another organisation's or another IdP's token); answers and errors are application/scim+json.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError, CATALOGUE } from '../errors.ts';
import { logWithTenant } from '../plugins/request-log.ts';
import { requireTenant } from '../plugins/tenant.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import { RETRY_AFTER_SECONDS, unavailableReason } from '../store/unavailable.ts';
import { listOf, resourceTypes, schemas, serviceProviderConfig } from './discovery.ts';
import { ScimError } from './errors.ts';
import { ScimGroups } from './groups.ts';
import { type Json, projected, readProjection } from './resources.ts';
import { checkScimToken, scimBaseUrl } from './tokens.ts';
import { type ScimScope, ScimUsers } from './users.ts';

declare module 'fastify' {
  interface FastifyRequest {
    scim?: ScimScope;
  }
}

const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const TOUCH_EVERY_MS = 60_000;
type IdParams = { idpId: string; id: string };
type ListQuery = {
  filter?: string;
  startIndex?: string;
  count?: string;
  sortBy?: string;
  sortOrder?: string;
  excludedAttributes?: string;
  attributes?: string;
};

function send(reply: FastifyReply, status: number, body: unknown) {
  reply.code(status).header('content-type', CONTENT_TYPE);
  const version = (body as { meta?: { version?: string } } | null)?.meta?.version;
  if (version) reply.header('etag', version);
  if ((body as { meta?: { location?: string } } | null)?.meta?.location && status === 201)
    reply.header('location', (body as { meta: { location: string } }).meta.location);
  return reply.send(status === 204 ? undefined : JSON.stringify(body));
}

/** A resource answer as the request's `attributes` / `excludedAttributes` ask (RFC 7644 3.4.2.5); the ETag and Location
 *  headers are the full resource's, whatever the projection leaves of meta. */
function sendResource(request: FastifyRequest, reply: FastifyReply, status: number, body: Json) {
  const version = (body.meta as { version?: string } | undefined)?.version;
  if (version) reply.header('etag', version);
  const location = (body.meta as { location?: string } | undefined)?.location;
  if (location && status === 201) reply.header('location', location);
  return send(reply, status, projected(body, readProjection(request.query as ListQuery)));
}

const scopeOf = (request: FastifyRequest): ScimScope => {
  if (!request.scim)
    throw new ScimError(401, null, 'Send a SCIM token of this identity provider: Authorization: Bearer scim_…');
  return request.scim;
};
const withoutMembers = (q: ListQuery) => !/(^|,)\s*members\s*(,|$)/i.test(q.excludedAttributes ?? '');

export async function scimRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  // Clients send application/scim+json (Entra ID, Okta) or application/json; both are JSON.
  app.addContentTypeParser(['application/scim+json'], { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch {
      done(new ScimError(400, 'invalidSyntax', 'The request body is not valid JSON.'), undefined);
    }
  });

  app.setErrorHandler((err: FastifyError | ScimError | AppError, request, reply) => {
    if (err instanceof ScimError) return send(reply, err.status, err.body());
    if (err instanceof AppError) {
      logWithTenant(request);
      request.log.info({ code: err.code }, err.message);
      return send(reply, err.status, new ScimError(err.status, null, err.shownMessage).body());
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status < 500)
      return send(reply, status, new ScimError(status, status === 400 ? 'invalidSyntax' : null, err.message).body());
    if (unavailableReason(err)) {
      request.log.warn({ err }, 'dependency unavailable');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      const { status } = CATALOGUE.service_unavailable; // SCIM's body has no code: the catalogue gives the status
      return send(
        reply,
        status,
        new ScimError(status, null, 'A dependency of the service is unavailable; try again shortly.').body(),
      );
    }
    request.log.error({ err }, 'unhandled error');
    const { status: fault } = CATALOGUE.internal_error;
    return send(reply, fault, new ScimError(fault, null, 'The server could not complete the request.').body());
  });
  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      CATALOGUE.not_found.status,
      new ScimError(
        CATALOGUE.not_found.status,
        null,
        `There is no SCIM endpoint at ${request.url.split('?')[0].slice(0, 200)}.`,
      ).body(),
    ),
  );

  // The token: of this organisation (the Host's), of this IdP (the path's), not revoked.
  app.addHook('onRequest', async (request) => {
    const tenant = requireTenant(request);
    const { idpId } = (request.params ?? {}) as { idpId?: string };
    const unauthorized = new ScimError(
      401,
      null,
      'Send a SCIM token of this identity provider: Authorization: Bearer scim_…',
    );
    if (!idpId) throw unauthorized;
    const token = await checkScimToken(tenant.store, idpId, request.headers.authorization);
    const idp: IdentityProvider | null = token ? await tenant.store.identityProviders.findById(idpId) : null;
    if (!token || !idp) throw unauthorized;
    const now = ctx.clock.now();
    if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() > TOUCH_EVERY_MS)
      await tenant.store.scimTokens.touch(token.id, now);
    request.scim = {
      ctx,
      store: tenant.store,
      idp,
      baseUrl: scimBaseUrl(tenant.urls.base, idp.id),
      actor: `scim-token:${token.name}`,
    };
  });

  const users = (request: FastifyRequest) => new ScimUsers(scopeOf(request));
  const groups = (request: FastifyRequest) => new ScimGroups(scopeOf(request));
  const ifMatch = (request: FastifyRequest) => request.headers['if-match'];

  app.get<{ Params: IdParams; Querystring: ListQuery }>('/:idpId/Users', async (request, reply) =>
    sendResource(request, reply, 200, await users(request).list(request.query)),
  );
  app.post<{ Params: IdParams }>('/:idpId/Users', async (request, reply) =>
    sendResource(request, reply, 201, await users(request).create(request.body)),
  );
  app.get<{ Params: IdParams }>('/:idpId/Users/:id', async (request, reply) =>
    sendResource(request, reply, 200, await users(request).get(request.params.id, ifMatch(request))),
  );
  app.put<{ Params: IdParams }>('/:idpId/Users/:id', async (request, reply) =>
    sendResource(request, reply, 200, await users(request).replace(request.params.id, request.body, ifMatch(request))),
  );
  app.patch<{ Params: IdParams }>('/:idpId/Users/:id', async (request, reply) =>
    sendResource(request, reply, 200, await users(request).patch(request.params.id, request.body, ifMatch(request))),
  );
  app.delete<{ Params: IdParams }>('/:idpId/Users/:id', async (request, reply) => {
    await users(request).delete(request.params.id, ifMatch(request));
    return send(reply, 204, null);
  });

  app.get<{ Params: IdParams; Querystring: ListQuery }>('/:idpId/Groups', async (request, reply) =>
    sendResource(
      request,
      reply,
      200,
      await groups(request).list(request.query, { members: withoutMembers(request.query) }),
    ),
  );
  app.post<{ Params: IdParams }>('/:idpId/Groups', async (request, reply) =>
    sendResource(request, reply, 201, await groups(request).create(request.body)),
  );
  app.get<{ Params: IdParams; Querystring: ListQuery }>('/:idpId/Groups/:id', async (request, reply) =>
    sendResource(
      request,
      reply,
      200,
      await groups(request).get(request.params.id, ifMatch(request), { members: withoutMembers(request.query) }),
    ),
  );
  app.put<{ Params: IdParams }>('/:idpId/Groups/:id', async (request, reply) =>
    sendResource(request, reply, 200, await groups(request).replace(request.params.id, request.body, ifMatch(request))),
  );
  app.patch<{ Params: IdParams }>('/:idpId/Groups/:id', async (request, reply) =>
    sendResource(request, reply, 200, await groups(request).patch(request.params.id, request.body, ifMatch(request))),
  );
  app.delete<{ Params: IdParams }>('/:idpId/Groups/:id', async (request, reply) => {
    await groups(request).delete(request.params.id, ifMatch(request));
    return send(reply, 204, null);
  });

  app.get<{ Params: IdParams }>('/:idpId/ServiceProviderConfig', async (request, reply) =>
    send(reply, 200, serviceProviderConfig(scopeOf(request).baseUrl)),
  );
  app.get<{ Params: IdParams }>('/:idpId/ResourceTypes', async (request, reply) =>
    send(reply, 200, listOf(resourceTypes(scopeOf(request).baseUrl))),
  );
  app.get<{ Params: IdParams }>('/:idpId/ResourceTypes/:id', async (request, reply) => {
    const found = resourceTypes(scopeOf(request).baseUrl).find((r) => r.id === request.params.id);
    if (!found) throw new ScimError(404, null, 'No such resource type.');
    return send(reply, 200, found);
  });
  app.get<{ Params: IdParams }>('/:idpId/Schemas', async (request, reply) =>
    send(reply, 200, listOf(schemas(scopeOf(request).baseUrl))),
  );
  app.get<{ Params: IdParams }>('/:idpId/Schemas/:id', async (request, reply) => {
    const found = schemas(scopeOf(request).baseUrl).find((s) => s.id === request.params.id);
    if (!found) throw new ScimError(404, null, 'No such schema.');
    return send(reply, 200, found);
  });
}
