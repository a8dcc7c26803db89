// The admin console's entry: sign-in, invitation links (invite-routes.ts), first-time password change and sign-out (the pages behind them live in
// ./pages, behind the admin guard). Every page is scoped to the Host's organisation: an admin of one organisation has no
// session on another's host (cookies are per host, and sessions are looked up with the organisation's id).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { hashPassword, passwordProblem, verifyPassword } from '../orgs/passwords.ts';
import { requireTenant, type Tenant } from '../plugins/tenant.ts';
import { page } from '../plugins/view.ts';
import {
  ADMIN_SESSION_SECONDS,
  completeSecondStep,
  SECOND_STEP_SECONDS,
  signIn,
  ticketAdmin,
  type AdminLogin,
} from './admin-auth.ts';
import { access } from './roles.ts';
import { inviteRoutes } from './invite-routes.ts';
import {
  ADMIN_COOKIE,
  adminCookieOptions,
  checkCsrf,
  currentAdmin,
  loginCsrf,
  safeEqual,
  LOGIN_CSRF_COOKIE,
  type AdminContext,
} from './admin-session.ts';
import { afterSignIn } from './return-after-sign-in.ts';

/** Holds the sealed ticket between the password and the code; it is not a session and opens no console page. */
const SECOND_STEP_COOKIE = 'broker_admin_2fa';

type Form = Record<string, string | undefined>;

export async function adminRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function requireAdmin(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ tenant: Tenant; session: AdminContext } | null> {
    const tenant = requireTenant(request);
    const session = await currentAdmin(ctx, tenant, request);
    if (!session) {
      reply.redirect('/admin/login', 303);
      return null;
    }
    return { tenant, session };
  }

  function checkLoginCsrf(request: FastifyRequest<{ Body: Form }>) {
    const cookie = request.cookies[LOGIN_CSRF_COOKIE];
    const given = request.body?._csrf;
    if (!cookie || typeof given !== 'string' || !safeEqual(given, cookie))
      throw new AppError('csrf_failed', 'This form has expired. Reload the page and try again.');
  }

  /** Opens the session and sends the admin to what they must do first: a new password, the second factor their organisation requires, or the console. */
  function enterConsole(tenant: Tenant, login: AdminLogin, request: FastifyRequest, reply: FastifyReply) {
    reply.setCookie(ADMIN_COOKIE, login.token, adminCookieOptions(ctx, ADMIN_SESSION_SECONDS));
    const next = login.admin.mustChangePassword
      ? '/admin/password'
      : tenant.org.requireAdminTotp && !login.admin.totpSecretEnc
        ? '/admin/security'
        : afterSignIn(ctx, request, reply);
    return reply.redirect(next, 303);
  }

  await app.register(inviteRoutes, { ctx });

  app.get('/admin/login', access('public'), async (request, reply) => {
    requireTenant(request);
    const expired = Object.hasOwn((request.query as object | undefined) ?? {}, 'expired');
    return page(request, reply, 'admin/login', {
      title: 'Admin sign-in',
      csrf: loginCsrf(request, reply, ctx),
      values: {},
      error: null,
      expired,
    });
  });

  app.post<{ Body: Form }>('/admin/login', access('public'), async (request, reply) => {
    const tenant = requireTenant(request);
    checkLoginCsrf(request);
    const body = request.body ?? {};
    const email = String(body.email ?? '').trim();
    try {
      const result = await signIn(ctx, tenant.store, email, String(body.password ?? ''));
      if (result.kind === 'session') return enterConsole(tenant, result.login, request, reply);
      reply.setCookie(SECOND_STEP_COOKIE, result.ticket, adminCookieOptions(ctx, SECOND_STEP_SECONDS));
      return reply.redirect('/admin/login/totp', 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return page(
        request,
        reply,
        'admin/login',
        { title: 'Admin sign-in', csrf: loginCsrf(request, reply, ctx), values: { email }, error: err.message },
        err.status,
      );
    }
  });

  app.get('/admin/login/totp', access('public'), async (request, reply) => {
    const tenant = requireTenant(request);
    const admin = await ticketAdmin(ctx, tenant.store, request.cookies[SECOND_STEP_COOKIE]);
    if (!admin) return reply.redirect('/admin/login', 303);
    return page(request, reply, 'admin/login-totp', {
      title: 'Admin sign-in',
      csrf: loginCsrf(request, reply, ctx),
      email: admin.email,
      error: null,
    });
  });

  app.post<{ Body: Form }>('/admin/login/totp', access('public'), async (request, reply) => {
    const tenant = requireTenant(request);
    checkLoginCsrf(request);
    const ticket = request.cookies[SECOND_STEP_COOKIE];
    try {
      const login = await completeSecondStep(ctx, tenant.store, ticket, String(request.body?.code ?? ''));
      reply.clearCookie(SECOND_STEP_COOKIE, { path: '/admin' });
      return enterConsole(tenant, login, request, reply);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const csrf = loginCsrf(request, reply, ctx);
      if (err.code === 'admin_second_step_expired') {
        reply.clearCookie(SECOND_STEP_COOKIE, { path: '/admin' });
        return page(
          request,
          reply,
          'admin/login',
          { title: 'Admin sign-in', csrf, values: {}, error: err.message },
          err.status,
        );
      }
      const admin = await ticketAdmin(ctx, tenant.store, ticket);
      return page(
        request,
        reply,
        'admin/login-totp',
        { title: 'Admin sign-in', csrf, email: admin?.email ?? '', error: err.message },
        err.status,
      );
    }
  });

  app.post<{ Body: Form }>('/admin/logout', access('viewer'), async (request, reply) => {
    const auth = await requireAdmin(request, reply);
    if (!auth) return reply;
    checkCsrf(request, auth.session.csrfToken);
    await auth.tenant.store.adminSessions.delete(auth.session.sessionId);
    reply.clearCookie(ADMIN_COOKIE, { path: '/admin' });
    return reply.redirect('/admin/login', 303);
  });

  app.get('/admin/password', access('viewer'), async (request, reply) => {
    const auth = await requireAdmin(request, reply);
    if (!auth) return reply;
    return page(request, reply, 'admin/password', {
      title: 'Choose a password',
      csrf: auth.session.csrfToken,
      errors: {},
      forced: auth.session.admin.mustChangePassword,
    });
  });

  app.post<{ Body: Form }>('/admin/password', access('viewer'), async (request, reply) => {
    const auth = await requireAdmin(request, reply);
    if (!auth) return reply;
    checkCsrf(request, auth.session.csrfToken);
    const { current = '', password = '', confirm = '' } = request.body ?? {};
    const errors: Record<string, string> = {};
    if (!(await verifyPassword(auth.session.admin.passwordHash, current)))
      errors.current = 'is not your current password';
    const problem = passwordProblem(password);
    if (problem) errors.password = problem;
    else if (password !== confirm) errors.confirm = 'does not match the new password';
    if (Object.keys(errors).length)
      return page(
        request,
        reply,
        'admin/password',
        {
          title: 'Choose a password',
          csrf: auth.session.csrfToken,
          errors,
          forced: auth.session.admin.mustChangePassword,
        },
        400,
      );
    await auth.tenant.store.admins.update(auth.session.admin.id, {
      passwordHash: await hashPassword(password),
      mustChangePassword: false,
    });
    await auth.tenant.store.audit.record({
      type: 'admin.password_changed',
      actor: auth.session.admin.email,
      at: ctx.clock.now(),
    });
    return reply.redirect('/admin', 303);
  });
}
