// SCIM bearer tokens, one set per upstream IdP: `scim_` + 32 random bytes, shown once; the database keeps the
// SHA-256 (as admin API tokens, src/admin/api-tokens.ts). A token reaches only its own IdP's SCIM base URL.
import { bearerSecretPattern, newBearerSecret, sha256 } from '../crypto/hash.ts';
import type { Clock } from '../clock.ts';
import { AppError, ValidationError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';

export interface ScimTokenView {
  id: string;
  idpId: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

async function requireIdp(store: TenantStore, idpId: string) {
  const idp = await store.identityProviders.findById(idpId);
  if (!idp) throw new AppError('idp_not_found', 'There is no such identity provider in this organisation.');
  return idp;
}

/** Lenient about spacing and the scheme's case (RFC 6750), as provisioning clients differ. */
const SCIM_TOKEN = new RegExp(`^Bearer\\s+(${bearerSecretPattern('scim')})\\s*$`, 'i');

export async function createScimToken(
  store: TenantStore,
  clock: Clock,
  idpId: string,
  name: string,
  actor: string,
): Promise<{ id: string; token: string; prefix: string }> {
  const idp = await requireIdp(store, idpId);
  if (!name.trim() || name.length > 100) throw new ValidationError({ name: 'must be 1-100 characters' });
  const token = newBearerSecret('scim');
  const row = await store.scimTokens.create({
    idpId: idp.id,
    name: name.trim(),
    tokenHash: sha256(token),
    prefix: token.slice(0, 11),
  });
  await store.audit.record({
    type: 'scim.token_created',
    actor,
    idpId: idp.id,
    at: clock.now(),
    details: { tokenId: row.id, name: row.name, idpName: idp.name },
  });
  return { id: row.id, token, prefix: row.prefix };
}

export async function listScimTokens(store: TenantStore, idpId: string): Promise<ScimTokenView[]> {
  await requireIdp(store, idpId);
  return (await store.scimTokens.list(idpId)).map(({ tokenHash: _h, orgId: _o, ...t }) => t);
}

/** Revokes an active token of this IdP; any other id (another IdP's, another organisation's, revoked, unknown) is not found. */
export async function revokeScimToken(store: TenantStore, clock: Clock, idpId: string, id: string, actor: string) {
  const idp = await requireIdp(store, idpId);
  if (!(await store.scimTokens.revoke(idp.id, id, clock.now())))
    throw new AppError('scim_token_not_found', 'This identity provider has no active SCIM token with this id.');
  await store.audit.record({
    type: 'scim.token_revoked',
    actor,
    idpId: idp.id,
    at: clock.now(),
    details: { tokenId: id, idpName: idp.name },
  });
}

/** The token's row when `authorization` carries an active SCIM token of this organisation and of `idpId`; otherwise null. */
export async function checkScimToken(store: TenantStore, idpId: string, authorization: string | undefined) {
  const match = SCIM_TOKEN.exec(authorization ?? '');
  if (!match) return null;
  const row = await store.scimTokens.findActive(sha256(match[1]));
  return row && row.idpId === idpId ? row : null;
}

/** The SCIM base URL of an IdP: what Okta calls the "SCIM connector base URL" and Entra ID the "Tenant URL". */
export const scimBaseUrl = (orgBaseUrl: string, idpId: string) => `${orgBaseUrl.replace(/\/$/, '')}/scim/v2/${idpId}`;
