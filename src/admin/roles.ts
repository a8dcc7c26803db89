// Admin roles and the one access rule each console and API route declares. Roles are ordered: each can do what
// the ones below it can.
//   owner    everything, including managing admins (invite, change role, remove)
//   admin    configuration (identity providers, apps, policies, organisation, keys, API tokens), users
//   helpdesk find users, unlock, reset second factor, revoke remembered devices, read the audit log
//   viewer   read only
// A route says who may use it with `config: { role }` (the `access()` helper); the admin guard (pages/guard.ts) and
// the API's token hook (api/plugin.ts) read it, and nothing else decides. `public` marks the few routes used
// without a session or token (sign-in, invitation links, the OpenAPI document). A route without a rule is open only
// to owners, and test/http/admin-roles.test.ts fails on it.
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { AppError } from '../errors.ts';

export const ROLES = ['viewer', 'helpdesk', 'admin', 'owner'] as const;
export type AdminRole = (typeof ROLES)[number];
/** `operator`: a signed-in platform operator, at the bare BASE_DOMAIN (orgs/operator-routes.ts); no admin role opens it. */
export type RouteAccess = AdminRole | 'public' | 'operator';

export const ROLE_LABELS: Record<AdminRole, string> = {
  owner: 'Owner: everything, including managing admins',
  admin: 'Admin: configuration, users, policies, API tokens',
  helpdesk: 'Helpdesk: find users, unlock, reset second factor, revoke devices, read the audit log',
  viewer: 'Viewer: read only',
};

const rank = (role: string) => ROLES.indexOf(role as AdminRole);
export const isRole = (value: unknown): value is AdminRole => typeof value === 'string' && rank(value) >= 0;
/** Whether `role` may do what `needed` allows (an unknown role may do nothing). */
export const roleAllows = (role: string, needed: AdminRole) => rank(role) >= 0 && rank(role) >= rank(needed);

/** Route options that declare who may use the route. */
export const access = (role: RouteAccess) => ({ config: { role } });

/** The rule a route declared, or null when it has none. */
export function accessOf(request: FastifyRequest): RouteAccess | null {
  const role = (request.routeOptions.config as { role?: unknown } | undefined)?.role;
  return isRouteAccess(role) ? role : null;
}

const isRouteAccess = (role: unknown): role is RouteAccess => role === 'public' || role === 'operator' || isRole(role);

/** The one rule: whether `role` may use a route that declared `declared` (none: owners only). */
function ruleAllows(declared: RouteAccess | null, role: string) {
  const needed = declared ?? 'owner';
  return needed === 'public' || (needed !== 'operator' && roleAllows(role, needed));
}

/** The one check: 403 `forbidden_role`, naming the role needed, when `role` may not use this route. */
export function assertRouteAllowed(request: FastifyRequest, role: string) {
  if (ruleAllows(accessOf(request), role)) return;
  throw refusal(accessOf(request), role);
}

const refusal = (declared: RouteAccess | null, role: string) => {
  const needed = declared ?? 'owner';
  return new AppError('forbidden_role', `This needs the ${needed} role (or higher); you have the ${role} role.`, {
    required: needed,
    role,
  });
};

export interface RegisteredRoute {
  method: string;
  url: string;
  role: RouteAccess | null;
}

/**
 * Whether `role` may use `method path` (a concrete console path, e.g. `/admin/apps/3f…/delete`), read from the
 * rule that route declared: the same rule assertRouteAllowed enforces, so what pages show and what the server
 * allows cannot drift apart. Pages use it to leave out the buttons and forms an admin could not use. A path that
 * matches no registered route throws: a page offering it is a bug, found by the page's tests.
 */
export function canUse(routes: RegisteredRoute[], role: string, method: string, path: string): boolean {
  return ruleAllows(ruleOf(routes, method, path), role);
}

/**
 * The refusal assertRouteAllowed gives on `method path`, given here: for a page that leads only to that route (a
 * confirmation page before the POST that acts), so that the page and the route it leads to decide from the one rule
 * the route declared and cannot drift apart. A path that matches no registered route throws (a bug).
 */
export function assertCanUse(routes: RegisteredRoute[], role: string, method: string, path: string) {
  const rule = ruleOf(routes, method, path);
  if (!ruleAllows(rule, role)) throw refusal(rule, role);
}

/** The role rule of the route `method path` reaches (its query and fragment left aside); none is a bug. */
function ruleOf(routes: RegisteredRoute[], method: string, path: string): RegisteredRoute['role'] {
  const route = routeFor(routes, method.toUpperCase(), path.split(/[?#]/)[0]);
  if (!route) throw new Error(`no route ${method} ${path} to check a role against`);
  return route.role;
}

/** The registered route a concrete path reaches; a static segment wins over a parameter, as in Fastify's router. */
function routeFor(routes: RegisteredRoute[], method: string, path: string): RegisteredRoute | undefined {
  const segments = path.split('/');
  let best: { route: RegisteredRoute; params: number } | undefined;
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.url.split('/');
    if (pattern.length !== segments.length) continue;
    let params = 0;
    const matches = pattern.every((p, i) => (p.startsWith(':') ? (params++, segments[i] !== '') : p === segments[i]));
    if (matches && (!best || params < best.params)) best = { route, params };
  }
  return best?.route;
}

/** Records every route registered from now on with its declared rule (for the route × role test and docs). */
export function recordRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const role = (route.config as { role?: unknown } | undefined)?.role;
    for (const method of [route.method].flat())
      routes.push({ method, url: route.url, role: isRouteAccess(role) ? role : null });
  });
  return routes;
}

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: RegisteredRoute[];
  }
  interface FastifyContextConfig {
    role?: RouteAccess;
  }
}
