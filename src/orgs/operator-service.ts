// What a platform operator does to organisations (the operator view at the bare BASE_DOMAIN, and the owner's own
// "delete this organisation" in the console): list them with their numbers, create, suspend, resume, delete. Every
// action is recorded in the platform audit log, which outlives the organisations it names: a deleted organisation's
// own audit log goes with it, the record of its deletion stays.
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { deleteOrganizationRows } from '../store/org-deletion.ts';
import type { Organization } from '../store/organizations.ts';
import type { CreateOrganizationInput } from './organization-service.ts';

export interface OrganizationSummary {
  org: Organization;
  users: number;
  loginsLast7Days: number;
  idps: number;
  apps: number;
}

/** Who acts: an operator (by e-mail) or an organisation's owner deleting their own organisation. */
export interface PlatformActor {
  email: string;
  as: 'operator' | 'owner';
}

const actorName = (a: PlatformActor) => `${a.as}:${a.email}`;

async function orgById(ctx: AppContext, id: string) {
  const org = await ctx.store.organizations.findById(id);
  if (!org) throw new AppError('organization_not_found', 'There is no organisation with this id.');
  return org;
}

export async function listOrganizations(ctx: AppContext): Promise<OrganizationSummary[]> {
  const since = new Date(ctx.clock.now().getTime() - 7 * 86400_000);
  const [orgs, n] = await Promise.all([ctx.store.organizations.list(), ctx.store.organizations.numbers(since)]);
  return orgs.map((org) => ({
    org,
    users: n.users.get(org.id) ?? 0,
    loginsLast7Days: n.logins.get(org.id) ?? 0,
    idps: n.idps.get(org.id) ?? 0,
    apps: n.apps.get(org.id) ?? 0,
  }));
}

export async function createOrganization(ctx: AppContext, input: CreateOrganizationInput, actor: PlatformActor) {
  const created = await ctx.organizations.create(input, actorName(actor));
  await ctx.store.platform.audit.record({
    type: 'organization.created',
    actor: actor.email,
    at: ctx.clock.now(),
    orgId: created.org.id,
    orgSlug: created.org.slug,
    details: { name: created.org.name, adminEmail: created.adminEmail },
  });
  return created;
}

/** Suspended: every page and SAML endpoint of the organisation answers "suspended" (plugins/tenant.ts, and an error
 *  Response to apps, broker/flow/start.ts); nothing is removed, and resuming restores it as it was. */
export async function suspendOrganization(ctx: AppContext, id: string, actor: PlatformActor, reason: string) {
  const org = await orgById(ctx, id);
  if (org.suspendedAt) throw new AppError('organization_already_suspended', `${org.name} is already suspended.`);
  const now = ctx.clock.now();
  await ctx.store.organizations.setSuspended(id, now);
  const details = { reason: reason.slice(0, 500) || null };
  await ctx.store.platform.audit.record({
    type: 'organization.suspended',
    actor: actor.email,
    at: now,
    orgId: id,
    orgSlug: org.slug,
    details,
  });
  await ctx.store
    .forOrg(id)
    .audit.record({ type: 'organization.suspended', actor: actorName(actor), at: now, details });
}

export async function resumeOrganization(ctx: AppContext, id: string, actor: PlatformActor) {
  const org = await orgById(ctx, id);
  if (!org.suspendedAt) throw new AppError('organization_not_suspended', `${org.name} is not suspended.`);
  const now = ctx.clock.now();
  await ctx.store.organizations.setSuspended(id, null);
  await ctx.store.platform.audit.record({
    type: 'organization.resumed',
    actor: actor.email,
    at: now,
    orgId: id,
    orgSlug: org.slug,
  });
  await ctx.store.forOrg(id).audit.record({ type: 'organization.resumed', actor: actorName(actor), at: now });
}

/**
 * Deletes the organisation for good: every row of it in the database (one transaction), then its login flows in
 * Redis. `confirmSlug` must repeat the organisation's slug (the forms ask for it), so a wrong id in a request cannot
 * delete another organisation.
 */
export async function deleteOrganization(ctx: AppContext, id: string, confirmSlug: string, actor: PlatformActor) {
  const org = await orgById(ctx, id);
  if (confirmSlug.trim().toLowerCase() !== org.slug)
    throw new ValidationError({ confirm: `must be the organisation's address name, ${org.slug}` });
  const now = ctx.clock.now();
  const removed = await ctx.store.transaction((tx) => deleteOrganizationRows(tx.db, id));
  const redisKeys = (await ctx.store.redis?.deleteOrganization(id)) ?? 0;
  await ctx.store.platform.audit.record({
    type: 'organization.deleted',
    actor: actor.email,
    at: now,
    orgId: id,
    orgSlug: org.slug,
    details: { name: org.name, by: actor.as, rows: removed, ...(ctx.store.redis && { redisKeys }) },
  });
  return { removed, redisKeys };
}
