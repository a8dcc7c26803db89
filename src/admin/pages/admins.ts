// Admins (owners only): the organisation's admins with their role and last sign-in, pending invitations, the
// invite form (POST-redirect-GET: the link is kept for one showing, shown-once.ts, on the page the POST redirects
// to, so a reload never creates a second invitation), role changes and removal. The rules (last owner, own role,
// audit) live in ../team.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { access, ROLE_LABELS, ROLES } from '../roles.ts';
import { actorOf, changeAdminRole, inviteAdmin, removeAdmin, withdrawInvite } from '../team.ts';
import { text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { keepForOnce, takeKeptOnce } from './shown-once.ts';
import { deliver, inviteMessage } from '../../mail/notify.ts';

type IdParams = { Params: { id: string } };

const INVITED_PATH = '/admin/admins/invited';
const invitedAt = (orgId: string, adminSessionId: string) => ({
  path: INVITED_PATH,
  kind: 'admin-invite',
  orgId,
  adminSessionId,
});

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
    // The link exists in clear only on the one showing after the redirect (sealed for this session, sent no-store),
    // like a new API token; the e-mail, when asked for, carries the same link. A relay that fails leaves the
    // invitation valid: the page says so and shows the link.
    const link = `${tenant.urls.base}/admin/invite/${created.value.token}`;
    const { invite } = created.value;
    const mailed =
      ctx.mailer.enabled && text(request.body ?? {}, 'sendEmail') === 'yes'
        ? await deliver(ctx, tenant.store, inviteMessage(ctx, tenant.org, invite, link), { actor: session.admin.email })
        : null;
    keepForOnce(ctx, reply, invitedAt(tenant.org.id, session.sessionId), {
      id: invite.id,
      secret: link,
      note: { emailed: mailed ? mailed.sent : null, emailError: mailed && !mailed.sent ? mailed.error : null },
    });
    return reply.redirect(`${INVITED_PATH}/${encodeURIComponent(invite.id)}`, 303);
  });

  app.get<IdParams>(`${INVITED_PATH}/:id`, access('owner'), async (request, reply) => {
    const { tenant, session } = adminOf(request);
    const invite = (await tenant.store.admins.pendingInvites(ctx.clock.now())).find((i) => i.id === request.params.id);
    if (!invite) return reply.redirect('/admin/admins', 303);
    const kept = takeKeptOnce(ctx, request, reply, invitedAt(tenant.org.id, session.sessionId), invite.id);
    return adminPage(request, reply, 'admin/admins/invited', 'admins', {
      title: kept ? 'Invitation created' : 'Invitation',
      email: invite.email,
      role: invite.role,
      expiresAt: invite.expiresAt,
      link: kept?.secret ?? null,
      emailed: kept ? (kept.note.emailed ?? null) : null,
      emailError: kept ? (kept.note.emailError ?? null) : null,
    });
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
