// The operator view, at the bare BASE_DOMAIN only: a platform operator signs in (password, then TOTP: the admin
// sign-in on the platform's store, admin/sign-in-store.ts) and lists organisations with their numbers, creates one,
// suspends, resumes and deletes one (orgs/operator-service.ts). Session and CSRF work as the console's, with cookies
// limited to /operator on the root host, so an organisation's host never sees them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { sha256 } from '../crypto/hash.ts';
import { page } from '../plugins/view.ts';
import {
  ADMIN_SESSION_SECONDS,
  completeSecondStep,
  SECOND_STEP_SECONDS,
  signIn,
  ticketAdmin,
} from '../admin/admin-auth.ts';
import { adminCookieOptions, checkCsrf, LOGIN_CSRF_COOKIE, loginCsrf, safeEqual } from '../admin/admin-session.ts';
import { access } from '../admin/roles.ts';
import type { OperatorRow } from '../store/platform.ts';
import {
  createOrganization,
  deleteOrganization,
  listOrganizations,
  resumeOrganization,
  suspendOrganization,
  type PlatformActor,
} from './operator-service.ts';

const OPERATOR_COOKIE = 'broker_operator';
const SECOND_STEP_COOKIE = 'broker_operator_2fa';
const PATH = '/operator';

type Form = Record<string, string | undefined>;
interface Signed {
  operator: OperatorRow;
  csrfToken: string;
  sessionId: string;
}

const DONE: Record<string, string> = {
  suspended: 'The organisation is suspended.',
  resumed: 'The organisation is resumed.',
  deleted: 'The organisation and all its data were deleted.',
};

export async function operatorRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const platform = ctx.store.platform;
  const cookieOptions = (maxAge?: number) => ({ ...adminCookieOptions(ctx, maxAge), path: PATH });

  /** The operator view lives on the root host only: on an organisation's host these addresses do not exist. */
  function rootOnly(request: FastifyRequest) {
    if (request.tenant) throw new AppError('not_found', 'There is nothing at this address.');
  }

  async function current(request: FastifyRequest): Promise<Signed | null> {
    rootOnly(request);
    const token = request.cookies[OPERATOR_COOKIE];
    const session = token ? await platform.adminSessions.findActive(sha256(token), ctx.clock.now()) : null;
    const operator = session ? await platform.admins.findById(session.adminId) : null;
    return session && operator ? { operator, csrfToken: session.csrfToken, sessionId: session.id } : null;
  }

  async function requireOperator(request: FastifyRequest, reply: FastifyReply): Promise<Signed | null> {
    const signed = await current(request);
    if (!signed) {
      reply.redirect(`${PATH}/login`, 303);
      return null;
    }
    if (request.method === 'POST') checkCsrf(request, signed.csrfToken);
    return signed;
  }

  const actor = (s: Signed): PlatformActor => ({ email: s.operator.email, as: 'operator' });

  function checkLoginCsrf(request: FastifyRequest<{ Body: Form }>) {
    const cookie = request.cookies[LOGIN_CSRF_COOKIE];
    const given = request.body?._csrf;
    if (!cookie || typeof given !== 'string' || !safeEqual(given, cookie))
      throw new AppError('csrf_failed', 'This form has expired. Reload the page and try again.');
  }

  const loginPage = (request: FastifyRequest, reply: FastifyReply, data: Record<string, unknown>, status = 200) =>
    page(
      request,
      reply,
      'admin/login',
      {
        title: 'Operator sign-in',
        heading: 'Operator sign-in',
        action: `${PATH}/login`,
        csrf: loginCsrf(request, reply, ctx, PATH),
        values: {},
        error: null,
        ...data,
      },
      status,
    );

  async function listPage(
    request: FastifyRequest,
    reply: FastifyReply,
    signed: Signed,
    opts: { values?: Form; errors?: Record<string, string>; created?: unknown } = {},
    status = 200,
  ) {
    const done = (request.query as { done?: string } | undefined)?.done;
    return page(
      request,
      reply,
      'operator/home',
      {
        title: 'Organisations',
        wide: true,
        csrf: signed.csrfToken,
        operator: signed.operator.email,
        baseDomain: ctx.config.baseDomain,
        scheme: ctx.config.publicScheme,
        orgs: await listOrganizations(ctx),
        audit: await platform.audit.list(20),
        flash: done ? (DONE[done] ?? null) : null,
        values: { name: '', slug: '', adminEmail: '', ...opts.values },
        errors: opts.errors ?? {},
        created: opts.created ?? null,
      },
      status,
    );
  }

  app.get(`${PATH}/login`, access('public'), async (request, reply) => {
    rootOnly(request);
    return loginPage(request, reply, {});
  });

  app.post<{ Body: Form }>(`${PATH}/login`, access('public'), async (request, reply) => {
    rootOnly(request);
    checkLoginCsrf(request);
    const email = String(request.body?.email ?? '').trim();
    try {
      const result = await signIn(ctx, platform, email, String(request.body?.password ?? ''));
      // Operators always have a factor (operators.ts); a row without one (edited by hand) opens nothing.
      if (result.kind !== 'second_step')
        throw new AppError('admin_invalid_credentials', 'The email or password is not right.');
      reply.setCookie(SECOND_STEP_COOKIE, result.ticket, cookieOptions(SECOND_STEP_SECONDS));
      return reply.redirect(`${PATH}/login/totp`, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return loginPage(request, reply, { values: { email }, error: err.message }, err.status);
    }
  });

  app.get(`${PATH}/login/totp`, access('public'), async (request, reply) => {
    rootOnly(request);
    const operator = await ticketAdmin(ctx, platform, request.cookies[SECOND_STEP_COOKIE]);
    if (!operator) return reply.redirect(`${PATH}/login`, 303);
    return page(request, reply, 'admin/login-totp', {
      title: 'Operator sign-in',
      heading: 'Operator sign-in',
      action: `${PATH}/login/totp`,
      csrf: loginCsrf(request, reply, ctx, PATH),
      email: operator.email,
      error: null,
    });
  });

  app.post<{ Body: Form }>(`${PATH}/login/totp`, access('public'), async (request, reply) => {
    rootOnly(request);
    checkLoginCsrf(request);
    const ticket = request.cookies[SECOND_STEP_COOKIE];
    try {
      const login = await completeSecondStep(ctx, platform, ticket, String(request.body?.code ?? ''));
      reply.clearCookie(SECOND_STEP_COOKIE, { path: PATH });
      reply.setCookie(OPERATOR_COOKIE, login.token, cookieOptions(ADMIN_SESSION_SECONDS));
      return reply.redirect(PATH, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'admin_second_step_expired')
        return loginPage(request, reply, { error: err.message }, err.status);
      const operator = await ticketAdmin(ctx, platform, ticket);
      return page(
        request,
        reply,
        'admin/login-totp',
        {
          title: 'Operator sign-in',
          heading: 'Operator sign-in',
          action: `${PATH}/login/totp`,
          csrf: loginCsrf(request, reply, ctx, PATH),
          email: operator?.email ?? '',
          error: err.message,
        },
        err.status,
      );
    }
  });

  app.post<{ Body: Form }>(`${PATH}/logout`, access('operator'), async (request, reply) => {
    const signed = await requireOperator(request, reply);
    if (!signed) return reply;
    await platform.adminSessions.delete(signed.sessionId);
    reply.clearCookie(OPERATOR_COOKIE, { path: PATH });
    return reply.redirect(`${PATH}/login`, 303);
  });

  app.get(PATH, access('operator'), async (request, reply) => {
    const signed = await requireOperator(request, reply);
    if (!signed) return reply;
    return listPage(request, reply, signed);
  });

  app.post<{ Body: Form }>(`${PATH}/organizations`, access('operator'), async (request, reply) => {
    const signed = await requireOperator(request, reply);
    if (!signed) return reply;
    const values = {
      name: String(request.body?.name ?? ''),
      slug: String(request.body?.slug ?? '').trim(),
      adminEmail: String(request.body?.adminEmail ?? '').trim(),
    };
    try {
      // The first owner's password is generated and shown once on this answer (sent no-store), as the CLI prints it.
      const created = await createOrganization(ctx, values, actor(signed));
      return listPage(request, reply, signed, { created }, 201);
    } catch (err) {
      if (err instanceof ValidationError) return listPage(request, reply, signed, { values, errors: err.fields }, 400);
      if (err instanceof AppError && err.code === 'slug_taken')
        return listPage(request, reply, signed, { values, errors: { slug: 'is already taken' } }, 409);
      throw err;
    }
  });

  app.post<{ Params: { id: string }; Body: Form }>(
    `${PATH}/organizations/:id/suspend`,
    access('operator'),
    async (request, reply) => {
      const signed = await requireOperator(request, reply);
      if (!signed) return reply;
      await suspendOrganization(ctx, request.params.id, actor(signed), String(request.body?.reason ?? '').trim());
      return reply.redirect(`${PATH}?done=suspended`, 303);
    },
  );

  app.post<{ Params: { id: string }; Body: Form }>(
    `${PATH}/organizations/:id/resume`,
    access('operator'),
    async (request, reply) => {
      const signed = await requireOperator(request, reply);
      if (!signed) return reply;
      await resumeOrganization(ctx, request.params.id, actor(signed));
      return reply.redirect(`${PATH}?done=resumed`, 303);
    },
  );

  app.get<{ Params: { id: string } }>(
    `${PATH}/organizations/:id/delete`,
    access('operator'),
    async (request, reply) => {
      const signed = await requireOperator(request, reply);
      if (!signed) return reply;
      const org = await ctx.store.organizations.findById(request.params.id);
      if (!org) throw new AppError('organization_not_found', 'There is no organisation with this id.');
      return page(request, reply, 'operator/delete', {
        title: `Delete ${org.name}`,
        csrf: signed.csrfToken,
        org,
        action: `${PATH}/organizations/${org.id}/delete`,
        back: PATH,
        errors: {},
      });
    },
  );

  app.post<{ Params: { id: string }; Body: Form }>(
    `${PATH}/organizations/:id/delete`,
    access('operator'),
    async (request, reply) => {
      const signed = await requireOperator(request, reply);
      if (!signed) return reply;
      try {
        await deleteOrganization(ctx, request.params.id, String(request.body?.confirm ?? ''), actor(signed));
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const org = (await ctx.store.organizations.findById(request.params.id))!;
        return page(
          request,
          reply,
          'operator/delete',
          {
            title: `Delete ${org.name}`,
            csrf: signed.csrfToken,
            org,
            action: `${PATH}/organizations/${org.id}/delete`,
            back: PATH,
            errors: err.fields,
          },
          400,
        );
      }
      return reply.redirect(`${PATH}?done=deleted`, 303);
    },
  );
}
