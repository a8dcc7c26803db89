// The "Provisioning (SCIM)" section of an IdP's console page: the SCIM base URL to paste into Okta or Entra ID,
// the IdP's tokens (prefix, created, last used, revoked), a new token shown once (shown-once.ts: a reload never makes
// another), and revocation. The work is done by src/scim/tokens.ts, as for the API and the CLI.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import {
  createScimToken,
  listScimTokens,
  revokeScimToken,
  scimBaseUrl,
  type ScimTokenView,
} from '../../scim/tokens.ts';
import type { TenantStore } from '../../store/store.ts';
import { access } from '../roles.ts';
import { text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { keepForOnce, takeOnce } from './shown-once.ts';

type Params = { id: string; tokenId: string };

/** How many of the IdP's provisioning events its page lists (the audit log has them all). */
export const RECENT_PROVISIONING_EVENTS = 20;

/** The words the IdP page uses for each kind of SCIM event; another scim.* type is shown as it is. */
const ACTIONS: Record<string, string> = {
  'scim.user_created': 'User created',
  'scim.user_linked': 'User linked',
  'scim.user_updated': 'User updated',
  'scim.user_deactivated': 'User deactivated',
  'scim.user_reactivated': 'User reactivated',
  'scim.user_deleted': 'User deleted',
  'scim.group_created': 'Group created',
  'scim.group_updated': 'Group updated',
  'scim.group_members_changed': 'Group members changed',
  'scim.group_deleted': 'Group deleted',
  'scim.token_created': 'Token created',
  'scim.token_revoked': 'Token revoked',
};

export interface ProvisioningEvent {
  at: Date;
  type: string;
  action: string;
  /** the user (userName or address) or group (display name) or token (name) the event is about */
  target: string;
  outcome: string;
  code: string | null;
  /** the directory user an event is about, for a link to their page */
  userId: string | null;
}

function provisioningEvent(e: {
  at: Date;
  type: string;
  outcome: string;
  code: string | null;
  userId: string | null;
  details: Record<string, unknown>;
}): ProvisioningEvent {
  const d = e.details;
  const first = [d.userName, d.email, d.displayName, d.name].find((v) => typeof v === 'string' && v);
  let target = (first as string | undefined) ?? '';
  if (e.type === 'scim.group_members_changed') {
    const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
    target = `${target} (+${count(d.added)} / −${count(d.removed)})`;
  }
  if (e.type === 'scim.user_updated' && Array.isArray(d.changed) && d.changed.length)
    target = `${target} (${d.changed.join(', ')})`.trim();
  return {
    at: e.at,
    type: e.type,
    action: ACTIONS[e.type] ?? e.type,
    target,
    outcome: e.outcome,
    code: e.code,
    userId: e.userId,
  };
}

/** What the IdP page shows of its provisioning: the base URL, the tokens, the last request of a provisioning client
 *  and the IdP's last SCIM events, read from the audit log of this organisation for this IdP only. */
export async function provisioningOf(
  store: TenantStore,
  orgBaseUrl: string,
  idpId: string,
): Promise<{ baseUrl: string; tokens: ScimTokenView[]; lastUsedAt: Date | null; events: ProvisioningEvent[] }> {
  const tokens = (await listScimTokens(store, idpId)).reverse();
  const used = tokens
    .map((t) => t.lastUsedAt)
    .filter((d): d is Date => !!d)
    .sort((a, b) => b.getTime() - a.getTime());
  const events = (await store.audit.list({ idpId, typePrefix: 'scim.', take: RECENT_PROVISIONING_EVENTS })).map(
    provisioningEvent,
  );
  // An update's line names only the fields that changed: the user is named by their directory entry (of this
  // organisation: the tenant store finds no other's).
  const emails = new Map<string, string | null>();
  for (const e of events)
    if (e.userId && (!e.target || e.target.startsWith('('))) {
      if (!emails.has(e.userId)) emails.set(e.userId, (await store.users.findById(e.userId))?.email ?? null);
      const email = emails.get(e.userId);
      if (email) e.target = `${email} ${e.target}`.trim();
    }
  return { baseUrl: scimBaseUrl(orgBaseUrl, idpId), tokens, lastUsedAt: used[0] ?? null, events };
}

export async function idpProvisioningPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const onceAt = (orgId: string, adminSessionId: string, idpId: string) => ({
    path: `/admin/idps/${idpId}/scim-tokens/created`,
    kind: 'scim-token',
    orgId,
    adminSessionId,
  });

  app.post<{ Params: { id: string }; Body: FormBody }>(
    '/admin/idps/:id/scim-tokens',
    access('admin'),
    async (request, reply) => {
      const { tenant, session } = adminOf(request);
      const idpId = request.params.id;
      const created = await withFieldErrors(() =>
        createScimToken(
          tenant.store,
          ctx.clock,
          idpId,
          text(request.body ?? {}, 'name') || 'SCIM client',
          session.admin.email,
        ),
      );
      if (!created.ok)
        return reply.redirect(`/admin/idps/${encodeURIComponent(idpId)}?done=scim-token-invalid#provisioning`, 303);
      keepForOnce(ctx, reply, onceAt(tenant.org.id, session.sessionId, idpId), {
        id: created.value.id,
        secret: created.value.token,
      });
      return reply.redirect(
        `/admin/idps/${encodeURIComponent(idpId)}/scim-tokens/created/${encodeURIComponent(created.value.id)}`,
        303,
      );
    },
  );

  app.get<{ Params: Params }>(
    '/admin/idps/:id/scim-tokens/created/:tokenId',
    access('admin'),
    async (request, reply) => {
      const { tenant, session } = adminOf(request);
      const { id: idpId, tokenId } = request.params;
      const idp = await tenant.store.identityProviders.findById(idpId);
      const row = idp && (await listScimTokens(tenant.store, idpId)).find((t) => t.id === tokenId);
      if (!idp || !row) return reply.redirect('/admin/idps', 303);
      const token = takeOnce(ctx, request, reply, onceAt(tenant.org.id, session.sessionId, idpId), row.id);
      return adminPage(request, reply, 'admin/idps/scim-token-created', 'idps', {
        title: token ? 'SCIM token created' : 'SCIM token',
        idp: { id: idp.id, name: idp.name },
        name: row.name,
        token,
        baseUrl: scimBaseUrl(tenant.urls.base, idpId),
      });
    },
  );

  app.post<{ Params: Params }>(
    '/admin/idps/:id/scim-tokens/:tokenId/revoke',
    access('admin'),
    async (request, reply) => {
      const { tenant, session } = adminOf(request);
      await revokeScimToken(tenant.store, ctx.clock, request.params.id, request.params.tokenId, session.admin.email);
      return reply.redirect(
        `/admin/idps/${encodeURIComponent(request.params.id)}?done=scim-token-revoked#provisioning`,
        303,
      );
    },
  );
}
