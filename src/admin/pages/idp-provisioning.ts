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

/** What the IdP page shows of its provisioning. */
export async function provisioningOf(
  store: TenantStore,
  orgBaseUrl: string,
  idpId: string,
): Promise<{ baseUrl: string; tokens: ScimTokenView[]; lastUsedAt: Date | null }> {
  const tokens = (await listScimTokens(store, idpId)).reverse();
  const used = tokens
    .map((t) => t.lastUsedAt)
    .filter((d): d is Date => !!d)
    .sort((a, b) => b.getTime() - a.getTime());
  return { baseUrl: scimBaseUrl(orgBaseUrl, idpId), tokens, lastUsedAt: used[0] ?? null };
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
