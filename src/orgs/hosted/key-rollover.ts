// Signing-key rollover without downtime: a *next* key is published in both metadata documents before it signs
// anything; promoting it makes it *active* and keeps the old one published as *previous* for a grace period, so
// apps and IdPs that refresh metadata never see a failed login; retiring removes a previous key from metadata.
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { orgUrls } from '../urls.ts';

export async function createNextKey(ctx: AppContext, tenant: Tenant, actor: string) {
  const keys = await tenant.store.signingKeys.list();
  if (keys.some((k) => k.status === 'next'))
    throw new AppError('next_key_exists', 'A next key already exists: promote or retire it first.');
  const row = await tenant.store.signingKeys.create(
    ctx.credentials.prepare(
      tenant.org.id,
      `${tenant.org.slug}.${ctx.config.baseDomain.split(':')[0]}`,
      'next',
      ctx.clock.now(),
    ),
  );
  await tenant.store.audit.record({
    type: 'key.next_created',
    actor,
    at: ctx.clock.now(),
    details: { keyId: row.id, fingerprint: row.fingerprint },
  });
  return row;
}

export async function promoteNextKey(ctx: AppContext, tenant: Tenant, actor: string) {
  const now = ctx.clock.now();
  const keys = await tenant.store.signingKeys.list();
  const next = keys.find((k) => k.status === 'next');
  if (!next)
    throw new AppError('no_next_key', 'There is no next key to promote: create one first and publish the metadata.');
  // A promotion done now makes any scheduled one moot.
  if (next.promoteAt) await tenant.store.signingKeys.schedulePromotion(next.id, null);
  await ctx.store.transaction(async (tx) => {
    const store = tx.forOrg(tenant.org.id);
    for (const k of keys.filter((k) => k.status === 'active')) await store.signingKeys.setStatus(k.id, 'previous', now);
    await store.signingKeys.setStatus(next.id, 'active', now);
  });
  await tenant.store.audit.record({
    type: 'key.promoted',
    actor,
    at: now,
    details: { keyId: next.id, fingerprint: next.fingerprint },
  });
  return next;
}

export async function retirePreviousKeys(ctx: AppContext, tenant: Tenant, actor: string) {
  const now = ctx.clock.now();
  const previous = (await tenant.store.signingKeys.list()).filter((k) => k.status === 'previous');
  for (const k of previous) await tenant.store.signingKeys.setStatus(k.id, 'retired', now);
  if (previous.length)
    await tenant.store.audit.record({
      type: 'key.retired',
      actor,
      at: now,
      details: { keyIds: previous.map((k) => k.id) },
    });
  return previous.length;
}

/** Every key of the organisation, the ones in use first (active, next, previous), then retired, newest first. */
export async function listKeys(tenant: Tenant) {
  const rank: Record<string, number> = { active: 0, next: 1, previous: 2, retired: 3 };
  const keys = await tenant.store.signingKeys.list();
  return [...keys].sort(
    (a, b) => (rank[a.status] ?? 9) - (rank[b.status] ?? 9) || b.createdAt.getTime() - a.createdAt.getTime(),
  );
}

/** Schedules the next key's promotion for `at` (null cancels it); promoteDueKeys carries it out. */
export async function schedulePromotion(ctx: AppContext, tenant: Tenant, at: Date | null, actor: string) {
  const now = ctx.clock.now();
  if (at && Number.isNaN(at.getTime())) throw new ValidationError({ at: 'is not a date' });
  if (at && at <= now) throw new ValidationError({ at: 'must be in the future' });
  const next = (await tenant.store.signingKeys.list()).find((k) => k.status === 'next');
  if (!next || !(await tenant.store.signingKeys.schedulePromotion(next.id, at))) {
    throw new AppError('no_next_key', 'There is no next key to schedule: create one first and publish the metadata.');
  }
  await tenant.store.audit.record({
    type: at ? 'key.promotion_scheduled' : 'key.promotion_unscheduled',
    actor,
    at: now,
    details: { keyId: next.id, fingerprint: next.fingerprint, ...(at && { promoteAt: at.toISOString() }) },
  });
  return { ...next, promoteAt: at };
}

export type DuePromotion = { orgId: string; keyId: string; outcome: 'promoted' | 'failed'; error?: string };

/**
 * Promotes every organisation's next key whose scheduled date has passed. Run periodically on every node: each
 * promotion is claimed first, so two nodes never promote the same key twice. One organisation's failure does not
 * stop the others; it is returned for the caller to log.
 */
export async function promoteDueKeys(ctx: AppContext, now: Date): Promise<DuePromotion[]> {
  const results: DuePromotion[] = [];
  for (const due of await ctx.store.system.keysDueForPromotion(now)) {
    try {
      const org = await ctx.store.organizations.findById(due.orgId);
      if (!org) continue;
      const tenant: Tenant = { org, store: ctx.store.forOrg(org.id), urls: orgUrls(ctx.config, org.slug) };
      if (!(await tenant.store.signingKeys.claimDuePromotion(due.id, now))) continue;
      await promoteNextKey(ctx, tenant, 'scheduler');
      results.push({ orgId: due.orgId, keyId: due.id, outcome: 'promoted' });
    } catch (err) {
      results.push({ orgId: due.orgId, keyId: due.id, outcome: 'failed', error: (err as Error).message });
    }
  }
  return results;
}
