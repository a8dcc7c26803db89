// Creating and checking admin API tokens: `brk_` + 32 random bytes. The database keeps only the SHA-256.
import { randomBytes } from 'node:crypto';
import { sha256 } from '../broker/flow/browser.ts';
import type { Clock } from '../clock.ts';
import { notFound, ValidationError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';

export async function createApiToken(store: TenantStore, clock: Clock, name: string, actor: string): Promise<{ id: string; token: string }> {
  if (!name.trim() || name.length > 100) throw new ValidationError({ name: 'must be 1-100 characters' });
  const token = `brk_${randomBytes(32).toString('base64url')}`;
  const row = await store.apiTokens.create({ name: name.trim(), tokenHash: sha256(token), prefix: token.slice(0, 10) });
  await store.audit.record({ type: 'api_token.created', actor, at: clock.now(), details: { tokenId: row.id, name: row.name } });
  return { id: row.id, token };
}

/** Revokes an active token of this organisation; any other id (another organisation's, revoked, unknown) is not found. */
export async function revokeApiToken(store: TenantStore, clock: Clock, id: string, actor: string) {
  if (!(await store.apiTokens.revoke(id, clock.now()))) throw notFound('api_token_not_found', 'There is no active API token with this id in this organisation.');
  await store.audit.record({ type: 'api_token.revoked', actor, at: clock.now(), details: { tokenId: id } });
}

/** The token's row when `authorization` carries an active token of this organisation; otherwise null. */
export async function checkApiToken(store: TenantStore, authorization: string | undefined) {
  const match = /^Bearer (brk_[A-Za-z0-9_-]{43})$/.exec(authorization ?? '');
  return match ? store.apiTokens.findActive(sha256(match[1])) : null;
}
