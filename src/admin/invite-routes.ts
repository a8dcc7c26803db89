// The page an invitation link opens (/admin/invite/<token>), on the inviting organisation's host only: the invited
// person chooses a password and sets up TOTP on one form, then is signed in with the invited role. No session is
// needed (or used); the form carries the sign-in form's double-submit CSRF token.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { requireTenant } from '../plugins/tenant.ts';
import { page } from '../plugins/view.ts';
import { ADMIN_SESSION_SECONDS, startSession } from './admin-auth.ts';
import { ADMIN_COOKIE, adminCookieOptions, LOGIN_CSRF_COOKIE, loginCsrf, safeEqual } from './admin-session.ts';
import { access } from './roles.ts';
import { acceptInvite, inviteEnrolment, openInvite } from './team.ts';

type Form = Record<string, string | undefined>;
interface InviteRequest {
  Params: { token: string };
  Body: Form;
}

export async function inviteRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function invitePage(
    request: FastifyRequest<InviteRequest>,
    reply: FastifyReply,
    opts: { setup?: string; errors?: Record<string, string> } = {},
    status = 200,
  ) {
    const tenant = requireTenant(request);
    const invite = await openInvite(ctx, tenant.store, request.params.token);
    const enrolment = await inviteEnrolment(ctx, tenant.org, invite, opts.setup);
    reply.header('cache-control', 'no-store');
    return page(
      request,
      reply,
      'admin/invite',
      {
        title: 'Admin invitation',
        csrf: loginCsrf(request, reply, ctx),
        token: request.params.token,
        orgName: tenant.org.name,
        email: invite.email,
        role: invite.role,
        invitedBy: invite.invitedBy,
        enrolment,
        errors: opts.errors ?? {},
      },
      status,
    );
  }

  app.get<InviteRequest>('/admin/invite/:token', access('public'), async (request, reply) =>
    invitePage(request, reply),
  );

  app.post<InviteRequest>('/admin/invite/:token', access('public'), async (request, reply) => {
    const tenant = requireTenant(request);
    const cookie = request.cookies[LOGIN_CSRF_COOKIE];
    const body = request.body ?? {};
    if (!cookie || typeof body._csrf !== 'string' || !safeEqual(body._csrf, cookie))
      throw new AppError('csrf_failed', 'This form has expired. Reload the page and try again.');
    const setup = String(body.setup ?? '');
    try {
      const admin = await acceptInvite(ctx, tenant.store, tenant.org, request.params.token, {
        password: String(body.password ?? ''),
        confirm: String(body.confirm ?? ''),
        setup,
        code: String(body.code ?? ''),
      });
      const login = await startSession(ctx, tenant.store, admin);
      reply.setCookie(ADMIN_COOKIE, login.token, adminCookieOptions(ctx, ADMIN_SESSION_SECONDS));
      return reply.redirect('/admin', 303);
    } catch (err) {
      if (err instanceof ValidationError) {
        const errors = { ...err.fields, ...(err.fields.code && { code: `The code ${err.fields.code}` }) };
        return invitePage(request, reply, { setup, errors }, 400);
      }
      throw err;
    }
  });
}
