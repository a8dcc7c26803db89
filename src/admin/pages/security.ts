// "My sign-in": the signed-in admin's own password and TOTP second factor. Setting up TOTP shows a QR code and the
// key; a first code from the app turns it on. Turning it off asks for a current code (counted toward the lockout).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { confirmAdminEnrolment, removeAdminTotp, resumeAdminEnrolment, startAdminEnrolment } from '../admin-totp.ts';
import { text, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

export async function securityPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function securityPage(
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { setup?: string; codeError?: string } = {},
    status = 200,
  ) {
    const { tenant, session } = adminOf(request);
    const enrolled = Boolean(session.admin.totpSecretEnc);
    const enrolment = enrolled
      ? null
      : opts.setup
        ? await resumeAdminEnrolment(ctx, tenant.org, session.admin, opts.setup)
        : await startAdminEnrolment(ctx, tenant.org, session.admin);
    return adminPage(
      request,
      reply,
      'admin/security/index',
      'security',
      {
        title: 'My sign-in',
        email: session.admin.email,
        enrolled,
        enrolment,
        required: tenant.org.requireAdminTotp,
        codeError: opts.codeError ?? null,
      },
      status,
    );
  }

  /** A refused code is shown next to the code field with the page it came from (the setup kept, so the scanned QR code stays valid). */
  async function withCodeErrors(
    request: FastifyRequest,
    reply: FastifyReply,
    action: () => Promise<unknown>,
    done: string,
    setup?: string,
  ) {
    try {
      await action();
    } catch (err) {
      if (err instanceof ValidationError)
        return securityPage(request, reply, { setup, codeError: `The code ${err.fields.code}` }, 400);
      if (err instanceof AppError && err.status < 500)
        return securityPage(request, reply, { setup, codeError: err.message }, err.status);
      throw err;
    }
    return reply.redirect(`/admin/security?done=${done}`, 303);
  }

  app.get('/admin/security', access('viewer'), async (request, reply) => securityPage(request, reply));

  app.post<{ Body: FormBody }>('/admin/security/totp', access('viewer'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const setup = text(request.body ?? {}, 'setup');
    return withCodeErrors(
      request,
      reply,
      () =>
        confirmAdminEnrolment(ctx, tenant.store, tenant.org, session.admin, setup, text(request.body ?? {}, 'code')),
      'totp-enrolled',
      setup,
    );
  });

  app.post<{ Body: FormBody }>('/admin/security/totp/remove', access('viewer'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    return withCodeErrors(
      request,
      reply,
      () => removeAdminTotp(ctx, tenant.store, session.admin, text(request.body ?? {}, 'code')),
      'totp-removed',
    );
  });
}
