// Organisation & branding: display name, logo, colours, login message, session and TOTP settings, the
// organisation's URLs, and the signing keys (rollover). The route handlers only translate forms to the domain
// services (orgs/hosted/settings.ts, orgs/hosted/logo.ts, orgs/hosted/key-rollover.ts) and their errors back to fields.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import {
  listKeys,
  createNextKey,
  promoteNextKey,
  retirePreviousKeys,
  schedulePromotion,
} from '../../orgs/hosted/key-rollover.ts';
import { MAX_LOGO_BYTES, removeLogo, saveLogo } from '../../orgs/hosted/logo.ts';
import { updateOrganizationSettings } from '../../orgs/hosted/settings.ts';
import { deleteOrganization } from '../../orgs/operator-service.ts';
import { page } from '../../plugins/view.ts';
import type { Organization } from '../../store/organizations.ts';
import { checkbox, optionalText, text, upload, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

type SettingsValues = Record<string, string | boolean>;

function valuesOf(org: Organization): SettingsValues {
  return {
    name: org.name,
    logoUrl: org.logoUrl ?? '',
    primaryColor: org.primaryColor,
    accentColor: org.accentColor,
    loginMessage: org.loginMessage ?? '',
    sessionTtlSeconds: String(org.sessionTtlSeconds),
    totpDigits: String(org.totpDigits),
    totpPeriod: String(org.totpPeriod),
    totpAlgorithm: org.totpAlgorithm,
    jitProvisioning: org.jitProvisioning,
    requireAdminTotp: org.requireAdminTotp,
    notifyNewDevice: org.notifyNewDevice,
    webauthnCounterPolicy: org.webauthnCounterPolicy,
  };
}

function submittedValues(body: FormBody): SettingsValues {
  return {
    name: text(body, 'name'),
    logoUrl: text(body, 'logoUrl'),
    primaryColor: text(body, 'primaryColor'),
    accentColor: text(body, 'accentColor'),
    loginMessage: text(body, 'loginMessage'),
    sessionTtlSeconds: text(body, 'sessionTtlSeconds'),
    totpDigits: text(body, 'totpDigits'),
    totpPeriod: text(body, 'totpPeriod'),
    totpAlgorithm: text(body, 'totpAlgorithm'),
    webauthnCounterPolicy: text(body, 'webauthnCounterPolicy'),
    jitProvisioning: checkbox(body, 'jitProvisioning'),
    requireAdminTotp: checkbox(body, 'requireAdminTotp'),
    notifyNewDevice: checkbox(body, 'notifyNewDevice'),
  };
}

/** A form field holding a whole number: anything else becomes NaN, which the settings validation refuses. */
const wholeNumber = (v: string | boolean) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN);

export async function organizationPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  function settingsPage(
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { values?: SettingsValues; errors?: Record<string, string>; logoError?: string } = {},
    status = 200,
  ) {
    const { tenant } = adminOf(request);
    return adminPage(
      request,
      reply,
      'admin/organization/settings',
      'organization',
      {
        title: 'Organisation & branding',
        org: tenant.org,
        urls: tenant.urls,
        values: opts.values ?? valuesOf(tenant.org),
        errors: opts.errors ?? {},
        logoError: opts.logoError ?? null,
        mailEnabled: ctx.mailer.enabled,
        hasLogo: Boolean(tenant.org.logoContentType),
        logoVersion: tenant.org.updatedAt.getTime().toString(36),
        maxLogoKb: MAX_LOGO_BYTES / 1024,
      },
      status,
    );
  }

  app.get('/admin/organization', access('viewer'), async (request, reply) => settingsPage(request, reply));

  app.post<{ Body: FormBody }>('/admin/organization', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const values = submittedValues(request.body ?? {});
    const saved = await withFieldErrors(() =>
      updateOrganizationSettings(
        ctx,
        tenant.org.id,
        {
          name: values.name as string,
          logoUrl: optionalText(request.body, 'logoUrl'),
          primaryColor: values.primaryColor as string,
          accentColor: values.accentColor as string,
          loginMessage: optionalText(request.body, 'loginMessage'),
          sessionTtlSeconds: wholeNumber(values.sessionTtlSeconds),
          totpDigits: wholeNumber(values.totpDigits),
          totpPeriod: wholeNumber(values.totpPeriod),
          totpAlgorithm: values.totpAlgorithm as string, // A form without the field (posted by a script written before it existed) leaves the policy as it is.
          webauthnCounterPolicy: (values.webauthnCounterPolicy as string) || undefined,
          jitProvisioning: values.jitProvisioning as boolean,
          requireAdminTotp: values.requireAdminTotp as boolean,
          notifyNewDevice: values.notifyNewDevice as boolean,
        },
        session.admin.email,
      ),
    );
    if (!saved.ok) return settingsPage(request, reply, { values, errors: saved.errors }, 400);
    return reply.redirect('/admin/organization?done=saved', 303);
  });

  app.post<{ Body: FormBody }>('/admin/organization/logo', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const saved = await withFieldErrors(() =>
      saveLogo(ctx, tenant.org.id, upload(request.body ?? {}, 'logo'), session.admin.email),
    );
    if (!saved.ok) return settingsPage(request, reply, { logoError: saved.errors.logo }, 400);
    return reply.redirect('/admin/organization?done=logo-saved', 303);
  });

  app.post('/admin/organization/logo/remove', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await removeLogo(ctx, tenant.org.id, session.admin.email);
    return reply.redirect('/admin/organization?done=logo-removed', 303);
  });

  // Signing keys
  async function keysPage(
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { error?: string; errors?: Record<string, string>; at?: string } = {},
    status = 200,
  ) {
    const { tenant } = adminOf(request);
    const keys = await listKeys(tenant);
    return adminPage(
      request,
      reply,
      'admin/organization/keys',
      'organization',
      {
        title: 'Signing keys',
        keys,
        urls: tenant.urls,
        error: opts.error ?? null,
        errors: opts.errors ?? {},
        at: opts.at ?? '',
        hasNext: keys.some((k) => k.status === 'next'),
        hasPrevious: keys.some((k) => k.status === 'previous'),
      },
      status,
    );
  }

  /**
   * Runs a key action; a refusal (no next key, one already exists) is shown on the keys page instead of an error
   * page, and a refused date next to its field (the submitted value kept).
   */
  async function keyAction(
    request: FastifyRequest,
    reply: FastifyReply,
    action: () => Promise<unknown>,
    done: string,
    at?: string,
  ) {
    try {
      await action();
    } catch (err) {
      if (err instanceof ValidationError) return keysPage(request, reply, { errors: err.fields, at }, 400);
      if (err instanceof AppError && err.status < 500)
        return keysPage(request, reply, { error: err.message }, err.status);
      throw err;
    }
    return reply.redirect(`/admin/organization/keys?done=${done}`, 303);
  }

  // The owner's "delete this organisation": the operator's deletion service, with the slug typed as confirmation.
  const deletePage = (request: FastifyRequest, reply: FastifyReply, errors: Record<string, string>, status = 200) => {
    const { tenant, session } = adminOf(request);
    return page(
      request,
      reply,
      'operator/delete',
      {
        title: `Delete ${tenant.org.name}`,
        csrf: session.csrfToken,
        org: tenant.org,
        action: '/admin/organization/delete',
        back: '/admin/organization',
        errors,
      },
      status,
    );
  };
  app.get('/admin/organization/delete', access('owner'), async (request, reply) => deletePage(request, reply, {}));
  app.post<{ Body: FormBody }>('/admin/organization/delete', access('owner'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    try {
      await deleteOrganization(ctx, tenant.org.id, text(request.body ?? {}, 'confirm'), {
        email: session.admin.email,
        as: 'owner',
      });
    } catch (err) {
      if (err instanceof ValidationError) return deletePage(request, reply, err.fields, 400);
      throw err;
    }
    // Nothing of the organisation is left, its address included: off to the server's root page.
    return reply.redirect(`${ctx.config.publicScheme}://${ctx.config.baseDomain}/`, 303);
  });

  app.get('/admin/organization/keys', access('viewer'), async (request, reply) => keysPage(request, reply));

  app.post('/admin/organization/keys/next', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    return keyAction(request, reply, () => createNextKey(ctx, tenant, session.admin.email), 'key-created');
  });

  app.post('/admin/organization/keys/promote', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    return keyAction(request, reply, () => promoteNextKey(ctx, tenant, session.admin.email), 'key-promoted');
  });

  app.post('/admin/organization/keys/retire', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    return keyAction(request, reply, () => retirePreviousKeys(ctx, tenant, session.admin.email), 'keys-retired');
  });

  app.post<{ Body: FormBody }>('/admin/organization/keys/promote-at', access('admin'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const body = request.body ?? {};
    if (checkbox(body, 'cancel'))
      return keyAction(
        request,
        reply,
        () => schedulePromotion(ctx, tenant, null, session.admin.email),
        'promotion-cancelled',
      );
    const at = text(body, 'at');
    if (!at) return keysPage(request, reply, { errors: { at: 'choose a date and time' } }, 400);
    // <input type="datetime-local"> sends no time zone; the page asks for UTC.
    const when = new Date(/(Z|[+-]\d\d:\d\d)$/.test(at) ? at : `${at}Z`);
    return keyAction(
      request,
      reply,
      () => schedulePromotion(ctx, tenant, when, session.admin.email),
      'promotion-scheduled',
      at,
    );
  });
}
