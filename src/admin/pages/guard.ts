// The gate in front of every admin console page except sign-in: a live admin session of the Host's organisation,
// the one-time password already replaced, on every POST the session's CSRF token, and the admin's role allowed by
// the route's rule (`access(role)`, see ../roles.ts: 403 forbidden_role otherwise). Pages read the result with
// `adminOf(request)`, so no handler can forget a check.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant, type Tenant } from '../../plugins/tenant.ts';
import { checkCsrf, currentAdmin, type AdminContext } from '../admin-session.ts';
import { assertRouteAllowed } from '../roles.ts';
import { takeKeptForm, toSignIn, type KeptForm } from '../return-after-sign-in.ts';

/** `keptForm`: on a page (GET), the input of a form that met an ended session, to fill in again. */
export interface AdminRequestContext {
  tenant: Tenant;
  session: AdminContext;
  keptForm?: KeptForm | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    adminContext?: AdminRequestContext;
  }
}

export function adminGuard(ctx: AppContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const tenant = requireTenant(request);
    const session = await currentAdmin(ctx, tenant, request);
    if (!session) return toSignIn(ctx, request, reply, tenant);
    if (session.admin.mustChangePassword) return reply.redirect('/admin/password', 303);
    // An organisation that requires two-factor sign-in for admins gets it set up before any other console page.
    if (tenant.org.requireAdminTotp && !session.admin.totpSecretEnc && !/^\/admin\/security(\/|\?|$)/.test(request.url))
      return reply.redirect('/admin/security', 303);
    if (request.method !== 'GET' && request.method !== 'HEAD') checkCsrf(request, session.csrfToken);
    assertRouteAllowed(request, session.admin.role);
    request.adminContext = {
      tenant,
      session,
      keptForm: request.method === 'GET' ? takeKeptForm(ctx, request, reply, tenant.org.id, session.admin.id) : null,
    };
  };
}

export function adminOf(request: FastifyRequest): AdminRequestContext {
  if (!request.adminContext) throw new Error('admin page registered outside the admin guard');
  return request.adminContext;
}
