// Security headers on every response, through @fastify/helmet: no MIME sniffing, no referrer, no framing (except
// where a route allows our own frames), a cross-origin opener and resource policy, HSTS behind https, and a
// Content-Security-Policy. The CSP set on every request is the strict one for non-pages (nothing may load); an HTML
// response gets its page policy just before it is sent, once the route has said what the page needs (see
// content-security-policy.ts).
import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { BASELINE_DIRECTIVES, pageDirectives } from './content-security-policy.ts';
import { brandingFor } from './view.ts';

const ignore = () => {};

// @fastify/helmet re-exports helmet's CSP middleware (which validates every directive value), but its type
// declarations leave that export out of the default import.
type CspMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
const { contentSecurityPolicy } = helmet as unknown as {
  contentSecurityPolicy: (o: { useDefaults: boolean; directives: Record<string, string[]> }) => CspMiddleware;
};

export const securityHeadersPlugin = fp(async (app: FastifyInstance, opts: { https: boolean }) => {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: BASELINE_DIRECTIVES },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Browsers ignore HSTS over http; behind https it pins this host (not its subdomains: BASE_DOMAIN may be a
    // domain whose other hosts are not ours).
    strictTransportSecurity: opts.https ? { maxAge: 31_536_000, includeSubDomains: false } : false,
  });

  app.addHook('onSend', async (request, reply) => {
    const type = reply.getHeader('content-type');
    if (typeof type !== 'string' || !type.startsWith('text/html')) return;
    const directives = pageDirectives(reply, brandingFor(request).logoUrl);
    contentSecurityPolicy({ useDefaults: false, directives })(request.raw, reply.raw, ignore);
  });
});
