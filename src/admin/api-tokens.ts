// Creating and checking admin API tokens: `brk_` + 32 random bytes. The database keeps only the SHA-256. A token has
// a role (../roles.ts; default admin), never above its creator's, and an optional expiry after which it is refused.
import { bearerSecretPattern, newBearerSecret, sha256 } from '../crypto/hash.ts';
import type { Clock } from '../clock.ts';
import { AppError, ValidationError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';
import { isRole, roleAllows, type AdminRole } from './roles.ts';

export interface TokenOptions {
  /** What the token may do; default admin. */
  role?: string;
  /** Refused from then on; none: until revoked. */
  expiresAt?: Date | null;
  /** The role of whoever creates it (an admin's, or the calling token's); none: the operator (CLI), who may give any. */
  creatorRole?: AdminRole;
}

const API_TOKEN = new RegExp(`^Bearer (${bearerSecretPattern('brk')})$`);

export async function createApiToken(
  store: TenantStore,
  clock: Clock,
  name: string,
  actor: string,
  opts: TokenOptions = {},
): Promise<{ id: string; token: string; role: AdminRole; expiresAt: Date | null }> {
  const role = opts.role ?? 'admin';
  const errors: Record<string, string> = {};
  if (!name.trim() || name.length > 100) errors.name = 'must be 1-100 characters';
  if (!isRole(role)) errors.role = 'must be one of viewer, helpdesk, admin, owner';
  else if (opts.creatorRole && !roleAllows(opts.creatorRole, role))
    errors.role = `cannot be above your own role (${opts.creatorRole})`;
  const expiresAt = opts.expiresAt ?? null;
  if (expiresAt && !(expiresAt.getTime() > clock.now().getTime())) errors.expiresAt = 'must be in the future';
  if (Object.keys(errors).length || !isRole(role)) throw new ValidationError(errors);
  const token = newBearerSecret('brk');
  const row = await store.apiTokens.create({
    name: name.trim(),
    tokenHash: sha256(token),
    prefix: token.slice(0, 10),
    role,
    expiresAt,
    createdBy: actor,
  });
  await store.audit.record({
    type: 'api_token.created',
    actor,
    at: clock.now(),
    details: { tokenId: row.id, name: row.name, role, ...(expiresAt && { expiresAt: expiresAt.toISOString() }) },
  });
  return { id: row.id, token, role, expiresAt };
}

/** Revokes an active token of this organisation; any other id (another organisation's, revoked, unknown) is not found. */
export async function revokeApiToken(store: TenantStore, clock: Clock, id: string, actor: string) {
  if (!(await store.apiTokens.revoke(id, clock.now())))
    throw new AppError('api_token_not_found', 'There is no active API token with this id in this organisation.');
  await store.audit.record({ type: 'api_token.revoked', actor, at: clock.now(), details: { tokenId: id } });
}

/** The token's row when `authorization` carries a token of this organisation that is not revoked; otherwise null.
 *  Its expiry is the caller's to check (an expired token is refused with its own code). */
export async function checkApiToken(store: TenantStore, authorization: string | undefined) {
  const match = API_TOKEN.exec(authorization ?? '');
  return match ? store.apiTokens.findActive(sha256(match[1])) : null;
}

/** A token's state for lists: active, expired or revoked. */
export const tokenStatus = (t: { revokedAt: Date | null; expiresAt: Date | null }, now: Date) =>
  t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt <= now ? 'expired' : 'active';
