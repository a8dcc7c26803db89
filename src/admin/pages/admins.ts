// Admins (owners only): the organisation's admins with their role and last sign-in, pending invitations, the
// invite form (the link shown once, on the answer to the POST), role changes and removal. The rules (last owner,
// own role, audit) live in ../team.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { access, ROLE_LABELS, ROLES } from '../roles.ts';
import { actorOf, changeAdminRole, inviteAdmin, removeAdmin, withdrawInvite } from '../team.ts';
import { text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { deliver, inviteMessage } from '../../mail/notify.ts';

type IdParams = { Params: { id: string } };

export async function adminsPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  async function listPage(
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { values?: Record<string, string>; errors?: Record<string, string> } = {},
    status = 200,
  ) {
    const { tenant, session } = adminOf(request);
    const [admins, invites] = await Promise.all([
      tenant.store.admins.list(),
      tenant.store.admins.pendingInvites(ctx.clock.now()),
    ]);
    return adminPage(
      request,
      reply,
      'admin/admins/list',
      'admins',
      {
        title: 'Admins',
        admins,
        invites,
        me: session.admin.id,
        roles: [...ROLES].reverse(),
        roleLabels: ROLE_LABELS,
        values: { email: '', role: 'admin', ...opts.values },
        errors: opts.errors ?? {},
        inviteHours: ctx.config.adminInviteHours,
        mailEnabled: ctx.mailer.enabled,
      },
      status,
    );
  }

  app.get('/admin/admins', access('owner'), async (request, reply) => listPage(request, reply));

  app.post<{ Body: FormBody }>('/admin/admins/invite', access('owner'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const values = { email: text(request.body ?? {}, 'email'), role: text(request.body ?? {}, 'role') };
    const created = await withFieldErrors(() => inviteAdmin(ctx, tenant.store, values, actorOf(session.admin)));
    if (!created.ok) return listPage(request, reply, { values, errors: created.errors }, 400);
    // The link exists in clear only in this answer (sent no-store), like a new API token; the e-mail, when asked
    // for, carries the same link. A relay that fails leaves the invitation valid: the page says so and shows the link.
    const link = `${tenant.urls.base}/admin/invite/${created.value.token}`;
    const { invite } = created.value;
    const mailed =
      ctx.mailer.enabled && text(request.body ?? {}, 'sendEmail') === 'yes'
        ? await deliver(ctx, tenant.store, inviteMessage(ctx, tenant.org, invite, link), { actor: session.admin.email })
        : null;
    return adminPage(
      request,
      reply,
      'admin/admins/invited',
      'admins',
      {
        title: 'Invitation created',
        email: invite.email,
        role: invite.role,
        expiresAt: invite.expiresAt,
        link,
        emailed: mailed ? mailed.sent : null,
        emailError: mailed && !mailed.sent ? mailed.error : null,
      },
      201,
    );
  });

  app.post<IdParams & { Body: FormBody }>('/admin/admins/:id/role', access('owner'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await changeAdminRole(
      ctx,
      tenant.store,
      request.params.id,
      text(request.body ?? {}, 'role'),
      actorOf(session.admin),
    );
    return reply.redirect('/admin/admins?done=role-changed', 303);
  });

  app.post<IdParams>('/admin/admins/:id/remove', access('owner'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await removeAdmin(ctx, tenant.store, request.params.id, actorOf(session.admin));
    // Removing oneself ends one's own session too.
    return reply.redirect(
      request.params.id === session.admin.id ? '/admin/login' : '/admin/admins?done=admin-removed',
      303,
    );
  });

  app.post<IdParams>('/admin/admins/invites/:id/withdraw', access('owner'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    await withdrawInvite(ctx, tenant.store, request.params.id, actorOf(session.admin));
    return reply.redirect('/admin/admins?done=invite-revoked', 303);
  });
}
