// The organisation's admins: invitations by one-time link, role changes and removals, each audited
// (admin.invited, admin.invite_accepted, admin.role_changed, admin.removed). An organisation always keeps an
// owner: the last one can be neither demoted nor removed (409 admin_last_owner). Nobody raises their own role.
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { hashPassword, passwordProblem } from '../orgs/passwords.ts';
import { bearerSecretPattern, newBearerSecret, sha256 } from '../crypto/hash.ts';
import type { Organization } from '../store/organizations.ts';
import type { AdminInviteRow, AdminRow } from '../store/admins.ts';
import type { TenantStore } from '../store/store.ts';
import {
  checkEnrolmentCode,
  resumeAdminEnrolment,
  startAdminEnrolment,
  type AdminEnrolment,
  type EnrollingAdmin,
} from './admin-totp.ts';
import { isRole, roleAllows, type AdminRole } from './roles.ts';

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
const TOKEN = new RegExp(`^${bearerSecretPattern('inv')}$`);

export interface Actor {
  id: string;
  email: string;
  role: string;
}

/** Creates an invitation; the link's token exists in clear only in the answer (the page shows it once). */
export async function inviteAdmin(
  ctx: AppContext,
  store: TenantStore,
  input: { email: string; role: string },
  actor: Actor,
): Promise<{ invite: AdminInviteRow; token: string }> {
  const email = input.email.trim();
  const errors: Record<string, string> = {};
  if (!EMAIL.test(email) || email.length > 254) errors.email = 'is not a valid email address';
  else if (await store.admins.findByEmail(email)) errors.email = 'is already an admin of this organisation';
  if (!isRole(input.role)) errors.role = 'must be one of owner, admin, helpdesk, viewer';
  else if (!roleAllows(actor.role, input.role)) errors.role = `cannot be above your own role (${actor.role})`;
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const now = ctx.clock.now();
  const token = newBearerSecret('inv');
  const invite = await store.admins.createInvite({
    email,
    role: input.role,
    tokenHash: sha256(token),
    invitedBy: actor.email,
    expiresAt: new Date(now.getTime() + ctx.config.adminInviteHours * 3600_000),
  });
  await store.audit.record({
    type: 'admin.invited',
    actor: actor.email,
    at: now,
    details: { inviteId: invite.id, email, role: input.role, expiresAt: invite.expiresAt.toISOString() },
  });
  return { invite, token };
}

export async function withdrawInvite(ctx: AppContext, store: TenantStore, id: string, actor: Actor) {
  if (!(await store.admins.revokeInvite(id, ctx.clock.now())))
    throw new AppError('admin_invite_not_found', 'There is no pending invitation with this id.');
  await store.audit.record({
    type: 'admin.invite_withdrawn',
    actor: actor.email,
    at: ctx.clock.now(),
    details: { inviteId: id },
  });
}

/** The pending invitation a link's token names on this organisation's host; refused when unknown (or another
 *  organisation's), used, withdrawn or expired. */
export async function openInvite(ctx: AppContext, store: TenantStore, token: string): Promise<AdminInviteRow> {
  const invite = TOKEN.test(token) ? await store.admins.findInvite(sha256(token)) : null;
  if (!invite || invite.revokedAt)
    throw new AppError(
      'admin_invite_not_found',
      'This invitation link is not valid here. Ask an owner of the organisation for a new one.',
    );
  if (invite.usedAt)
    throw new AppError(
      'admin_invite_used',
      'This invitation link was already used. Sign in instead, or ask an owner for a new invitation.',
    );
  if (invite.expiresAt <= ctx.clock.now())
    throw new AppError(
      'admin_invite_expired',
      'This invitation link has expired. Ask an owner of the organisation for a new one.',
    );
  return invite;
}

/** The admin the invitation will create: its id is the invitation's, so the TOTP setup shown is bound to it. */
export const invitedAdmin = (invite: AdminInviteRow): EnrollingAdmin => ({
  id: invite.id,
  email: invite.email,
  totpSecretEnc: null,
});

export function inviteEnrolment(
  ctx: AppContext,
  org: Organization,
  invite: AdminInviteRow,
  setup?: string,
): Promise<AdminEnrolment> {
  return setup
    ? resumeAdminEnrolment(ctx, org, invitedAdmin(invite), setup)
    : startAdminEnrolment(ctx, org, invitedAdmin(invite));
}

/**
 * Accepts an invitation: a password (the usual rules) and a first TOTP code confirming the setup shown; then the
 * admin exists with the invited role and two-factor sign-in on, and the invitation is spent. Field problems are a
 * ValidationError (password, confirm, code), so the form can show them.
 */
export async function acceptInvite(
  ctx: AppContext,
  store: TenantStore,
  org: Organization,
  token: string,
  form: { password: string; confirm: string; setup: string; code: string },
): Promise<AdminRow> {
  const invite = await openInvite(ctx, store, token);
  const errors: Record<string, string> = {};
  const problem = passwordProblem(form.password);
  if (problem) errors.password = problem;
  else if (form.password !== form.confirm) errors.confirm = 'does not match the password';
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const totpSecretEnc = await checkEnrolmentCode(ctx, store, org, invitedAdmin(invite), form.setup, form.code);
  const passwordHash = await hashPassword(form.password);
  const now = ctx.clock.now();
  const admin = await ctx.store.transaction(async (tx) => {
    const scoped = tx.forOrg(store.orgId);
    if (!(await scoped.admins.consumeInvite(invite.id, now)))
      throw new AppError(
        'admin_invite_used',
        'This invitation link was already used. Sign in instead, or ask an owner for a new invitation.',
      );
    if (await scoped.admins.findByEmail(invite.email))
      throw new AppError('admin_exists', `${invite.email} is already an admin of this organisation. Sign in instead.`);
    return scoped.admins.create({ id: invite.id, email: invite.email, passwordHash, role: invite.role, totpSecretEnc });
  });
  await store.audit.record({
    type: 'admin.invite_accepted',
    actor: admin.email,
    at: now,
    details: { inviteId: invite.id, role: admin.role, invitedBy: invite.invitedBy },
  });
  return admin;
}

async function targetOf(store: TenantStore, id: string) {
  const admin = await store.admins.findById(id);
  if (!admin) throw new AppError('admin_not_found', 'There is no admin with this id in this organisation.');
  return admin;
}

const lastOwner = () =>
  new AppError(
    'admin_last_owner',
    "This is the organisation's last owner: make another admin an owner first. An organisation always keeps at least one owner.",
  );

export async function changeAdminRole(
  ctx: AppContext,
  store: TenantStore,
  id: string,
  role: string,
  actor: Actor,
): Promise<AdminRow> {
  if (!isRole(role)) throw new ValidationError({ role: 'must be one of owner, admin, helpdesk, viewer' });
  const target = await withOwnersLocked(ctx, store, id, async (admins, target) => {
    if (target.role === role) return null;
    if (!roleAllows(actor.role, role))
      throw new AppError(
        'forbidden_role',
        `Giving the ${role} role needs the ${role} role (or higher); you have the ${actor.role} role.`,
        { required: role, role: actor.role },
      );
    if (target.id === actor.id && !roleAllows(target.role, role))
      throw new AppError('admin_own_role', 'You cannot raise your own role. Ask an owner.');
    await keepAnOwner(admins, target);
    await admins.setRole(id, role);
    return target;
  });
  if (!target) return targetOf(store, id);
  await store.audit.record({
    type: 'admin.role_changed',
    actor: actor.email,
    at: ctx.clock.now(),
    details: { adminId: id, email: target.email, from: target.role, to: role },
  });
  return { ...target, role };
}

/** Removes an admin; their console sessions end at once. */
export async function removeAdmin(ctx: AppContext, store: TenantStore, id: string, actor: Actor) {
  const target = await withOwnersLocked(ctx, store, id, async (admins, target) => {
    await keepAnOwner(admins, target);
    await admins.delete(id);
    return target;
  });
  await store.audit.record({
    type: 'admin.removed',
    actor: actor.email,
    at: ctx.clock.now(),
    details: { adminId: id, email: target.email, role: target.role },
  });
}

/**
 * Runs a change of admin `id` in one transaction that holds the organisation's owner lock (AdminRepository
 * .lockOwnerChanges): the target is read and the owners counted under the lock, so two owners removing or demoting
 * each other at the same moment cannot both pass the last-owner check (`keepAnOwner`, which `change` calls on the
 * admins of that transaction before it demotes or removes).
 */
async function withOwnersLocked<T>(
  ctx: AppContext,
  store: TenantStore,
  id: string,
  change: (admins: TenantStore['admins'], target: AdminRow) => Promise<T>,
): Promise<T> {
  return ctx.store.transaction(async (tx) => {
    const { admins } = tx.forOrg(store.orgId);
    await admins.lockOwnerChanges();
    const target = await admins.findById(id);
    if (!target) throw new AppError('admin_not_found', 'There is no admin with this id in this organisation.');
    return change(admins, target);
  });
}

/** 409 admin_last_owner when `target` is the organisation's only owner (call it under the owner lock). */
async function keepAnOwner(admins: TenantStore['admins'], target: AdminRow) {
  if (target.role === 'owner' && (await admins.countWithRole('owner')) <= 1) throw lastOwner();
}

export const actorOf = (admin: AdminRow): Actor => ({
  id: admin.id,
  email: admin.email,
  role: admin.role as AdminRole,
});
