// Resolves the organisation from the Host header before any route runs: `<slug>.<BASE_DOMAIN>` is that
// organisation, `<BASE_DOMAIN>` itself is the operator's root (welcome page, health). Anything else is refused, so
// a route can never run without knowing whose data it may touch.
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Organization } from '../store/organizations.ts';
import type { TenantStore } from '../store/store.ts';
import { orgUrls, type OrgUrls } from '../orgs/urls.ts';

export interface Tenant {
  org: Organization;
  store: TenantStore;
  urls: OrgUrls;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** null on the root host */
    tenant: Tenant | null;
  }
}

export type HostMatch = { kind: 'root' } | { kind: 'org'; slug: string } | { kind: 'unknown' };

export function matchHost(host: string | undefined, baseDomain: string): HostMatch {
  const h = (host ?? '').trim().toLowerCase().replace(/\.$/, '');
  const base = baseDomain.toLowerCase();
  if (h === base) return { kind: 'root' };
  if (h.endsWith(`.${base}`)) {
    const label = h.slice(0, -(base.length + 1));
    if (/^[a-z0-9-]{1,63}$/.test(label)) return { kind: 'org', slug: label };
  }
  return { kind: 'unknown' };
}

/** Host headers as received (rawHeaders alternates names and values, every occurrence kept). */
export function hostHeaderCount(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].toLowerCase() === 'host') count++;
  return count;
}

/** What a suspended organisation still answers: the app's login endpoint (in SAML, so the app hears why) and the logo
 *  that the "suspended" page itself shows. */
const SUSPENDED_STILL_ANSWERS = new Set(['/saml/idp/sso', '/branding/logo']);

export const suspendedError = (name: string) =>
  new AppError(
    'organization_suspended',
    `${name} is suspended by the operator of this service: sign-in, its applications and the admin console are unavailable until it is resumed.`,
  );

/** Routes that answer on any Host (load balancer probes do not send a tenant host). */
const HOST_INDEPENDENT = new Set(['/healthz', '/readyz', '/metrics']);

export const tenantPlugin = fp(async (app: FastifyInstance, { ctx }: { ctx: AppContext }) => {
  app.decorateRequest('tenant', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    // Node keeps the first of several Host headers and drops the rest; a proxy in front may have routed, cached or
    // checked by another one. HTTP/1.1 says such a request gets 400 (RFC 9112 3.2), on every path.
    if (hostHeaderCount(request.raw.rawHeaders) > 1)
      throw new AppError('duplicate_host', 'The request carries more than one Host header.');
    const path = request.url.split('?')[0];
    if (HOST_INDEPENDENT.has(path)) return;
    const match = matchHost(request.host, ctx.config.baseDomain);
    if (match.kind === 'root') return;
    if (match.kind === 'unknown')
      throw new AppError(
        'unknown_host',
        `This address is not served here. Organisations live at <name>.${ctx.config.baseDomain}.`,
      );
    const org = await ctx.store.organizations.findBySlug(match.slug);
    if (!org) throw new AppError('unknown_organization', `There is no organisation called "${match.slug}" here.`);
    request.tenant = { org, store: ctx.store.forOrg(org.id), urls: orgUrls(ctx.config, org.slug) };
    // Suspended by a platform operator (orgs/operator-service.ts): every page says so, on the organisation's branding.
    // An app's login request goes on to the flow, which answers the app with a SAML error Response (flow/start.ts).
    if (org.suspendedAt && !SUSPENDED_STILL_ANSWERS.has(path)) throw suspendedError(org.name);
  });
});

/** For routes that only make sense on an organisation's host. */
export function requireTenant(request: FastifyRequest): Tenant {
  if (!request.tenant)
    throw new AppError('not_found', "This page belongs to an organisation: open it on your organisation's address.");
  return request.tenant;
}
