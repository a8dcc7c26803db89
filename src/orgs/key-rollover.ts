// Signing-key rollover without downtime: a *next* key is published in both metadata documents before it signs
// anything; promoting it makes it *active* and keeps the old one published as *previous* for a grace period, so
// apps and IdPs that refresh metadata never see a failed login; retiring removes a previous key from metadata.
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Tenant } from '../plugins/tenant.ts';

export async function createNextKey(ctx: AppContext, tenant: Tenant, actor: string) {
  const keys = await tenant.store.signingKeys.list();
  if (keys.some((k) => k.status === 'next')) throw new AppError(409, 'next_key_exists', 'A next key already exists: promote or retire it first.');
  const row = await tenant.store.signingKeys.create(ctx.credentials.prepare(tenant.org.id, `${tenant.org.slug}.${ctx.config.baseDomain.split(':')[0]}`, 'next', ctx.clock.now()));
  await tenant.store.audit.record({ type: 'key.next_created', actor, at: ctx.clock.now(), details: { keyId: row.id, fingerprint: row.fingerprint } });
  return row;
}

export async function promoteNextKey(ctx: AppContext, tenant: Tenant, actor: string) {
  const now = ctx.clock.now();
  const keys = await tenant.store.signingKeys.list();
  const next = keys.find((k) => k.status === 'next');
  if (!next) throw new AppError(409, 'no_next_key', 'There is no next key to promote: create one first and publish the metadata.');
  await ctx.store.transaction(async (tx) => {
    const store = tx.forOrg(tenant.org.id);
    for (const k of keys.filter((k) => k.status === 'active')) await store.signingKeys.setStatus(k.id, 'previous', now);
    await store.signingKeys.setStatus(next.id, 'active', now);
  });
  await tenant.store.audit.record({ type: 'key.promoted', actor, at: now, details: { keyId: next.id, fingerprint: next.fingerprint } });
  return next;
}

export async function retirePreviousKeys(ctx: AppContext, tenant: Tenant, actor: string) {
  const now = ctx.clock.now();
  const previous = (await tenant.store.signingKeys.list()).filter((k) => k.status === 'previous');
  for (const k of previous) await tenant.store.signingKeys.setStatus(k.id, 'retired', now);
  if (previous.length) await tenant.store.audit.record({ type: 'key.retired', actor, at: now, details: { keyIds: previous.map((k) => k.id) } });
  return previous.length;
}
