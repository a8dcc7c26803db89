// Request rate limits on the routes people and programs can hammer: the login routes, the second-factor form
// (tighter), the admin sign-in (tight) and the admin API (with the SCIM endpoints). Each request of those routes counts once against its
// client address (per route group) and once against its organisation (every group together, a higher limit), in
// one-minute windows, through @fastify/rate-limit: shared by every node in Redis when REDIS_URL is set, in this
// process's memory otherwise. Over a limit: 429 with Retry-After, as the branded error page or the JSON error
// `rate_limited`. Health, readiness and metrics match no group, so they are never limited.
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import type { RateLimits } from '../config/config.ts';
import { AppError } from '../errors.ts';

type Group = 'login' | 'mfa' | 'adminLogin' | 'api';
type Check = ReturnType<FastifyInstance['createRateLimit']>;

const WINDOW_MS = 60_000;

/** The group a request belongs to, from its route pattern (so encoded or doubled slashes cannot dodge it). */
export function groupOf(method: string, route: string | undefined): Group | null {
  if (!route) return null;
  if (method === 'POST' && route === '/flow/:id/mfa') return 'mfa';
  // The operator's sign-in (orgs/operator-routes.ts) is the same sign-in on the root host: the same tight limit.
  if (
    method === 'POST' &&
    (route === '/admin/login' ||
      route === '/admin/login/totp' ||
      route === '/operator/login' ||
      route === '/operator/login/totp')
  )
    return 'adminLogin';
  if (route === '/api' || route.startsWith('/api/') || route.startsWith('/scim/')) return 'api'; // SCIM clients count as API clients
  if (
    route === '/saml/idp/sso' ||
    route === '/saml/sp/acs' ||
    route.startsWith('/flow/') ||
    route === '/apps/:appId/launch'
  )
    return 'login';
  return null;
}

/** The address a client is counted under: an IPv4 address as is, an IPv6 address by its /64 network (one host
 *  usually holds a whole /64 and could otherwise take a fresh address for every request). */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

const PER_ADDRESS: Record<Group, keyof RateLimits> = {
  login: 'loginPerMinute',
  mfa: 'mfaPerMinute',
  adminLogin: 'adminLoginPerMinute',
  api: 'apiPerMinute',
};

export const rateLimitPlugin = fp(async (app: FastifyInstance, { ctx }: { ctx: AppContext }) => {
  const limits = ctx.config.rateLimits;
  const redis = ctx.store.redis?.client;

  // One @fastify/rate-limit instance per counter, each in its own scope: an instance counts one key per request,
  // and its Redis keys are then `<REDIS_KEY_PREFIX>rate:<counter>:<key>`.
  async function counter(name: string, max: number, key: (request: FastifyRequest) => string): Promise<Check | null> {
    if (max === 0) return null;
    let check: Check | null = null;
    await app.register(async (scope) => {
      await scope.register(rateLimit, {
        global: false,
        max,
        timeWindow: WINDOW_MS,
        keyGenerator: key,
        cache: 10_000,
        ...(redis && { redis, nameSpace: `${ctx.config.redisKeyPrefix}rate:${name}:` }),
        // Redis not answering: let the request through (it fails on its own if it needs Redis) rather than lock
        // everybody out.
        skipOnError: true,
      });
      check = scope.createRateLimit();
    });
    return check;
  }

  const perAddress = {} as Record<Group, Check | null>;
  for (const group of Object.keys(PER_ADDRESS) as Group[])
    perAddress[group] = await counter(group, limits[PER_ADDRESS[group]], (r) => addressKey(r.ip));
  // Registered after the tenant plugin (app.ts): the organisation is the one of the Host, an unknown one already refused.
  const perOrganization = await counter('org', limits.orgPerMinute, (r) => r.tenant?.org.slug ?? '');

  app.addHook('onRequest', async (request, reply) => {
    const group = groupOf(request.method, request.routeOptions.url);
    if (!group) return;
    for (const check of [perAddress[group], request.tenant ? perOrganization : null]) {
      if (!check) continue;
      const outcome = await check(request);
      if (!outcome.isAllowed && outcome.isExceeded) {
        const seconds = Math.max(1, outcome.ttlInSeconds);
        reply.header('retry-after', String(seconds));
        throw new AppError(
          'rate_limited',
          `Too many requests. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`,
          { retryAfterSeconds: seconds },
        );
      }
    }
  });
});
