// Builds the HTTP application: plugins first (in a fixed order), then the modules, then one error handler and
// one 404 handler that answer people with a branded page and programs with JSON carrying a stable code, both from
// the code's entry in the error catalogue (src/errors.ts).
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { AppContext } from './context.ts';
import { AppError, entryOf, isErrorCode, pageTitleOf, type ErrorCode } from './errors.ts';
import { tenantPlugin } from './plugins/tenant.ts';
import { logWithTenant, requestLogPlugin } from './plugins/request-log.ts';
import { page, viewPlugin } from './plugins/view.ts';
import { securityHeadersPlugin } from './plugins/security-headers.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { healthRoutes } from './health/routes.ts';
import { welcomeRoutes } from './orgs/welcome-routes.ts';
import { operatorRoutes } from './orgs/operator-routes.ts';
import { metadataRoutes } from './orgs/hosted/metadata-routes.ts';
import { brandingRoutes } from './orgs/hosted/branding-routes.ts';
import { portalRoutes } from './broker/http/portal.ts';
import { accountRoutes } from './account/routes.ts';
import { assetRoutes } from './broker/http/assets.ts';
import { adminRoutes } from './admin/routes.ts';
import { adminApi } from './admin/api/plugin.ts';
import { adminPages } from './admin/pages/plugin.ts';
import { recordRoutes } from './admin/roles.ts';
import { brokerRoutes } from './broker/http/routes.ts';
import { returnOfferFor } from './broker/http/render.ts';
import { logoutRoutes } from './broker/http/logout.ts';
import { mfaRoutes } from './broker/http/flow.ts';
import { metricsPlugin } from './metrics/routes.ts';
import { scimRoutes } from './scim/routes.ts';
import { RETRY_AFTER_SECONDS, serviceUnavailable, unavailableReason } from './store/unavailable.ts';

export interface BuildOptions {
  logger?: boolean | object;
}

function wantsJson(request: FastifyRequest) {
  if (request.url.startsWith('/api/') || request.url.startsWith('/scim/')) return true;
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

/** The address a "Try again" link may point at: this request's own path, when it was a GET (never a
 *  protocol-relative //host... that the browser would read as another site). */
function retryUrlOf(request: FastifyRequest): string | undefined {
  return request.method === 'GET' && /^\/(?![/\\])/.test(request.url) ? request.url : undefined;
}

/** `code`: a catalogue code, or (for the web framework's own refusals, e.g. a body that is not JSON) its code. */
function respondWithError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode | string,
  message: string,
  details?: unknown,
) {
  // A dependency that is down for a moment (store/unavailable.ts): the client is told when to try again.
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  if (wantsJson(request)) return reply.code(status).send({ error: { code, message, ...(details ? { details } : {}) } });
  // A failure of a login flow offers its way back to the app (broker/flow/fail.ts); an outage, a way to try again.
  const retry = isErrorCode(code) && entryOf(code).retry;
  return page(
    request,
    reply,
    'error',
    {
      heading: pageTitleOf(code, status),
      message,
      code,
      returnTo: returnOfferFor(request),
      ...(retry && { retryUrl: retryUrlOf(request) }),
    },
    status,
  );
}

/** An AppError's answer: its status, its code, and its message (or its catalogue entry's text for people). */
const respondWithAppError = (request: FastifyRequest, reply: FastifyReply, err: AppError) =>
  respondWithError(request, reply, err.status, err.code, err.shownMessage, err.details);

export async function buildApp(ctx: AppContext, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: ctx.config.logLevel, redact: ['req.headers.cookie', 'req.headers.authorization'] },
    trustProxy: ctx.config.trustProxy,
    bodyLimit: ctx.config.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    // Accept a caller's request id only when it looks like one, so logs cannot be forged with arbitrary text.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{8,64}$/.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
  });
  // Every route with its access rule (admin/roles.ts), for the test that checks each console and API route has one.
  app.decorate('registeredRoutes', recordRoutes(app));

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // Handlers first: routes registered in child plugins keep the error handler that existed when they loaded.
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    if (err instanceof AppError) {
      const level = err.status >= 500 ? 'error' : 'info';
      logWithTenant(request); // the organisation is a binding of the request's logger, never repeated in a line
      request.log[level]({ code: err.code }, err.message);
      return respondWithAppError(request, reply, err);
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status < 500) {
      request.log.info({ err: err.message, code: (err as FastifyError).code }, 'request refused');
      return respondWithError(
        request,
        reply,
        status,
        String((err as FastifyError).code ?? 'bad_request').toLowerCase(),
        err.message,
      );
    }
    const unavailable = unavailableReason(err);
    if (unavailable) {
      // The database or Redis did not answer (a restart, a frozen host, a partition): not a bug of ours, and it passes.
      const e = serviceUnavailable();
      request.log.error({ err, code: e.code, reason: unavailable }, 'a dependency is unavailable');
      return respondWithAppError(request, reply, e);
    }
    request.log.error({ err }, 'unhandled error');
    return respondWithAppError(
      request,
      reply,
      new AppError('internal_error', (err as Error).message ?? 'unhandled error'),
    );
  });

  app.setNotFoundHandler((request, reply) =>
    respondWithAppError(request, reply, new AppError('not_found', 'There is nothing at this address.')),
  );

  await app.register(securityHeadersPlugin, { https: ctx.config.publicScheme === 'https' });
  await app.register(cookie);
  await app.register(formbody);
  await app.register(viewPlugin, { production: ctx.config.env === 'production' });
  await app.register(tenantPlugin, { ctx });
  await app.register(requestLogPlugin);
  await app.register(rateLimitPlugin, { ctx });

  await app.register(metricsPlugin, { ctx });
  await app.register(healthRoutes, { ctx });
  await app.register(welcomeRoutes, { ctx });
  await app.register(operatorRoutes, { ctx });
  await app.register(metadataRoutes, { ctx });
  await app.register(brandingRoutes, { ctx });
  await app.register(portalRoutes, { ctx });
  await app.register(brokerRoutes, { ctx });
  await app.register(mfaRoutes, { ctx });
  await app.register(logoutRoutes, { ctx });
  await app.register(accountRoutes, { ctx });
  await app.register(assetRoutes);
  await app.register(adminRoutes, { ctx });
  await app.register(adminPages, { ctx });
  await app.register(adminApi, { ctx });
  await app.register(scimRoutes, { ctx, prefix: '/scim/v2' });

  return app;
}
