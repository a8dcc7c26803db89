// What an administrator does to one user of the directory (console pages, API): add, edit, disable/enable,
// delete, reset or unlock the second factor, revoke remembered devices, link and unlink upstream identities. Fields are
// checked by the import's own row rules (one definition of a valid user), every change is audited with the user id,
// and a user of another organisation is simply not found.
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { devicesFor, totpFor, webauthnFor } from '../mfa/for-tenant.ts';
import { resetSecondFactor, type SecondFactorRemoved } from '../mfa/reset-second-factor.ts';
import { orgUrls } from '../orgs/urls.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { Organization } from '../store/organizations.ts';
import type { TenantStore } from '../store/store.ts';
import type { User } from '../store/users.ts';
import { MAX_LENGTH } from './import/columns.ts';
import type { SourceRow } from './import/rows.ts';
import { idpResolver } from './idp-reference.ts';
import { CONTROL, RowValidator } from './import/validate-row.ts';
import { deactivateUser } from './deactivate.ts';
import { inBackground, mfaResetMessage } from '../mail/notify.ts';

/** The fields an admin edits. Status has its own actions (disable/enable). */
export interface UserFields {
  email: string;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  groups: string[];
}
export const EDITABLE_FIELDS = ['email', 'username', 'firstName', 'lastName', 'phone', 'groups'] as const;

export type TwoFactorState = 'none' | 'pending' | 'active' | 'locked';

export function twoFactorState(
  factor: { status: string; lockedUntil: Date | null } | null | undefined,
  now: Date,
): TwoFactorState {
  if (!factor) return 'none';
  if (factor.lockedUntil && factor.lockedUntil > now) return 'locked';
  return factor.status === 'active' ? 'active' : 'pending';
}

/**
 * Checks the fields with the import's rules (email syntax and length, text lengths, control characters, group
 * names) and returns them normalised; throws ValidationError naming each field at fault.
 */
export function validateUserFields(input: Record<string, unknown>): UserFields {
  const values = Object.fromEntries(
    EDITABLE_FIELDS.filter((f) => f in input).map((f) => [f, input[f]]),
  ) as SourceRow['values'];
  const result = new RowValidator([]).check({ line: 0, values, problems: [] });
  if (!result.ok) {
    const fields: Record<string, string> = {};
    for (const r of result.rejections) if (r.column && !(r.column in fields)) fields[r.column] = r.reason;
    throw new ValidationError(
      Object.keys(fields).length ? fields : { email: result.rejections[0]?.reason ?? 'not valid' },
    );
  }
  const { set } = result.row;
  return {
    email: result.row.email,
    username: set.username ?? null,
    firstName: set.firstName ?? null,
    lastName: set.lastName ?? null,
    phone: set.phone ?? null,
    groups: set.groups ?? [],
  };
}

const duplicateEmail = () =>
  new ValidationError({
    email: 'Another user of this organisation already has this email address (compared without regard to case).',
  });
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

/** Inside `UserAdmin.inOneTransaction`: the organisation's store outside the transaction (for what must not roll
 *  back with it, or wait for it: e-mail and its audit) and what is to run once the transaction has committed. */
interface InTransaction {
  outside: TenantStore;
  afterCommit: (() => void)[];
}

export class UserAdmin {
  constructor(
    private readonly ctx: AppContext,
    private readonly tenant: { org: Organization; store: TenantStore },
    private readonly inTransaction: InTransaction | null = null,
  ) {}

  private get store() {
    return this.tenant.store;
  }

  /**
   * Runs `work` with a UserAdmin whose every read and write (changes and their audit lines) goes through one database
   * transaction: when any step fails, nothing of it is kept. E-mail the actions send (the second-factor reset's
   * notice) goes out only once the transaction has committed.
   */
  async inOneTransaction<T>(work: (users: UserAdmin) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    const afterCommit: (() => void)[] = [];
    const result = await this.ctx.store.transaction(
      (tx) =>
        work(
          new UserAdmin(
            this.ctx,
            { org: this.tenant.org, store: tx.forOrg(this.store.orgId) },
            {
              outside: this.store,
              afterCommit,
            },
          ),
        ),
      { maxWaitMs: 10_000, timeoutMs: 60_000 },
    );
    for (const task of afterCommit) task();
    return result;
  }

  /** Runs `task` now, or inside `inOneTransaction` once the transaction has committed. */
  private afterCommit(task: (outside: TenantStore) => void) {
    if (this.inTransaction) {
      const { outside } = this.inTransaction;
      this.inTransaction.afterCommit.push(() => task(outside));
    } else task(this.store);
  }
  private audit(type: string, actor: string, userId: string, details: Record<string, unknown> = {}) {
    return this.store.audit.record({ type, actor, userId, at: this.ctx.clock.now(), details });
  }

  /** A user of this organisation, or 404 user_not_found (also for another organisation's id). */
  async get(id: string): Promise<User> {
    const user = await this.store.users.findById(id);
    if (!user) throw new AppError('user_not_found', 'There is no such user in this organisation.');
    return user;
  }

  async create(input: Record<string, unknown>, actor: string): Promise<User> {
    const fields = validateUserFields(input);
    if (await this.store.users.findByEmail(fields.email)) throw duplicateEmail();
    let user: User;
    try {
      user = await this.store.users.create({ ...fields, source: 'admin' });
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateEmail(); // created by someone else meanwhile
      throw err;
    }
    await this.audit('user.created', actor, user.id, { email: user.email });
    return user;
  }

  /** Changes the given fields (absent ones keep their value); the result must be a valid user as a whole. */
  async update(id: string, input: Record<string, unknown>, actor: string): Promise<User> {
    const current = await this.get(id);
    const fields = validateUserFields({ ...pickFields(current), ...input });
    if (fields.email.toLowerCase() !== current.emailLower && (await this.store.users.findByEmail(fields.email)))
      throw duplicateEmail();
    const changed = EDITABLE_FIELDS.filter((f) => JSON.stringify(fields[f]) !== JSON.stringify(current[f]));
    if (!changed.length) return current;
    let user: User;
    try {
      user = await this.store.users.update(id, fields);
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateEmail();
      throw err;
    }
    await this.audit('user.updated', actor, id, {
      changed,
      ...(changed.includes('email') && { previousEmail: current.email, email: user.email }),
    });
    return user;
  }

  async setStatus(id: string, status: 'active' | 'disabled', actor: string): Promise<User> {
    const current = await this.get(id);
    if (current.status === status) return current;
    if (status === 'disabled') {
      const ended = await deactivateUser(this.store, id, this.ctx.clock.now());
      await this.audit('user.disabled', actor, id, { email: current.email, ...ended });
      return this.get(id);
    }
    const user = await this.store.users.update(id, { status });
    await this.audit('user.enabled', actor, id, { email: user.email });
    return user;
  }

  /** Deletes the user, their second factor and remembered devices in one transaction. */
  async delete(id: string, actor: string): Promise<void> {
    const user = await this.get(id);
    await this.ctx.store.transaction(async (tx) => {
      const store = tx.forOrg(this.store.orgId);
      await store.users.delete(id);
      await store.audit.record({
        type: 'user.deleted',
        actor,
        userId: id,
        at: this.ctx.clock.now(),
        details: { email: user.email },
      });
    });
  }

  /** Removes the whole second factor: the authenticator app, passkeys and security keys, recovery codes and
   *  remembered devices (mfa/reset-second-factor.ts): the user enrols again. The user is told by e-mail when it is set
   *  up (so that a reset they did not ask for does not go unnoticed). */
  async resetTotp(id: string, actor: string): Promise<SecondFactorRemoved> {
    const user = await this.get(id);
    const removed = await resetSecondFactor(this.store, this.ctx.clock, id, actor);
    if (this.ctx.mailer.enabled)
      this.afterCommit((store) =>
        inBackground(this.ctx, store, mfaResetMessage(this.ctx, this.tenant.org, user, this.ctx.clock.now()), {
          userId: id,
          actor,
        }),
      );
    return removed;
  }

  /** Clears a lockout after too many wrong codes (and the failure count). */
  async unlock(id: string, actor: string): Promise<void> {
    await this.get(id);
    await totpFor(this.ctx, this.tenant.org, this.store).unlock(id, actor);
  }

  /** Revokes every remembered device of the user; returns how many were revoked. */
  async revokeDevices(id: string, actor: string): Promise<number> {
    await this.get(id);
    return devicesFor(this.ctx, this.store).revoke(id, null, actor);
  }

  /** The users of this organisation among `ids` (for bulk actions: others' and unknown ids are absent). */
  findMany(ids: string[]): Promise<User[]> {
    return this.store.users.findByIds(ids);
  }

  /**
   * "Sign out everywhere": ends every open broker session of the user (apps then ask the IdP again; apps' own sessions
   * are theirs to end) and forgets their remembered devices (the second factor is asked again). Audited with both counts.
   */
  async signOutEverywhere(id: string, actor: string): Promise<{ sessionsEnded: number; devicesRevoked: number }> {
    await this.get(id);
    const now = this.ctx.clock.now();
    const sessionsEnded = await this.store.sessions.endForUser(id, now);
    const devicesRevoked = await this.store.devices.revoke(id, null, now);
    await this.audit('user.signed_out_everywhere', actor, id, { sessionsEnded, devicesRevoked });
    return { sessionsEnded, devicesRevoked };
  }

  /** The user's links to upstream identities, oldest first, with each IdP's name. */
  async identities(id: string): Promise<LinkedIdentity[]> {
    await this.get(id);
    const [links, idps] = await Promise.all([this.store.users.identities(id), this.store.identityProviders.list()]);
    return withIdpNames(links, idps);
  }

  /**
   * Links an upstream identity (one of this organisation's IdPs, by id, entity ID or name, + NameID) to the user: their
   * logins through it then reach this user whatever the IdP's linking mode. 409 identity_taken when another user
   * holds it (unlink it there first: never moved silently). Adding a link the user already has changes nothing.
   */
  async addIdentity(
    id: string,
    input: { idp?: unknown; nameId?: unknown },
    actor: string,
  ): Promise<{ identity: LinkedIdentity; created: boolean }> {
    const user = await this.get(id);
    const idps = await this.store.identityProviders.list();
    const fields: Record<string, string> = {};
    const reference = typeof input.idp === 'string' ? input.idp.trim() : '';
    const found = reference ? idpResolver(idps)(reference) : null;
    if (!found) fields.idp = "Choose one of this organisation's identity providers.";
    else if (!found.ok) fields.idp = found.reason;
    const nameId = typeof input.nameId === 'string' ? input.nameId.trim() : '';
    if (!nameId) fields.nameId = 'Enter the NameID this identity provider sends for the user.';
    else if (nameId.length > MAX_LENGTH.nameId) fields.nameId = `longer than ${MAX_LENGTH.nameId} characters`;
    else if (CONTROL.test(nameId)) fields.nameId = 'contains a control character';
    if (Object.keys(fields).length || !found?.ok) throw new ValidationError(fields);
    const idp = found.idp;
    const created = await this.store.users.link(user.id, idp.id, nameId, 'admin');
    if (!created) {
      const holder = await this.store.users.findByIdentity(idp.id, nameId);
      if (holder && holder.id !== user.id)
        throw new AppError(
          'identity_taken',
          `This identity (NameID "${nameId.slice(0, 200)}" at ${idp.name}) is already linked to another user of this organisation. Unlink it there first.`,
          { userId: holder.id },
        );
    } else {
      await this.audit('user.identity_added', actor, user.id, { idpId: idp.id, idpName: idp.name, nameId });
    }
    const identity = (await this.identities(user.id)).find((l) => l.idpId === idp.id && l.nameId === nameId);
    if (!identity) throw new AppError('identity_not_found', 'The identity was unlinked meanwhile.');
    return { identity, created };
  }

  /** Removes one link to an upstream identity: the next login from it is a first login again (linking rules apply). */
  async unlink(id: string, linkId: string, actor: string): Promise<void> {
    await this.get(id);
    const link = (await this.store.users.identities(id)).find((l) => l.id === linkId);
    if (!link || !(await this.store.users.unlink(id, linkId)))
      throw new AppError('identity_not_found', 'This user has no such linked identity.');
    await this.audit('user.identity_removed', actor, id, {
      idpId: link.idpId,
      nameId: link.nameId,
      source: link.source,
    });
  }

  /** Everything the user's page shows: the user, second factor, remembered devices and linked identities. */
  async details(id: string) {
    const user = await this.get(id);
    const now = this.ctx.clock.now();
    const [factor, devices, links, idps, passkeys, sessions] = await Promise.all([
      this.store.totp.find(id),
      this.store.devices.list(id),
      this.store.users.identities(id),
      this.store.identityProviders.list(),
      this.store.webauthn.list(id),
      this.store.sessions.listOpenForUser(id, now),
    ]);
    const idpNames = new Map(idps.map((i) => [i.id, i.name]));
    return {
      user,
      twoFactor: {
        state: twoFactorState(factor, now),
        lockedUntil: factor?.lockedUntil && factor.lockedUntil > now ? factor.lockedUntil : null,
        failedAttempts: factor?.failedAttempts ?? 0,
      },
      devices: devices
        .filter((d) => d.expiresAt > now)
        .map((d) => ({ id: d.id, label: d.label, createdAt: d.createdAt, expiresAt: d.expiresAt })),
      identities: withIdpNames(links, idps),
      sessions: sessions.map((s) => ({ ...s, idpName: idpNames.get(s.idpId) ?? null })),
      passkeys: passkeys.map((c) => ({
        id: c.id,
        name: c.name,
        createdAt: c.createdAt,
        lastUsedAt: c.lastUsedAt,
        synced: c.deviceType === 'multiDevice',
        backedUp: c.backedUp,
        counterWentBackAt: c.counterWentBackAt,
      })),
    };
  }

  /** Removes one of the user's passkeys or security keys (a lost or suspect key), audited with the admin. */
  async removePasskey(id: string, credentialId: string, actor: string): Promise<void> {
    const user = await this.get(id);
    await webauthnFor(
      this.ctx,
      this.tenant.org,
      this.store,
      orgUrls(this.ctx.config, this.tenant.org.slug).base,
    ).remove(user.id, credentialId, actor);
  }
}

/** A link as the console, API and CLI show it. */
export interface LinkedIdentity {
  id: string;
  idpId: string;
  idpName: string | null;
  nameId: string;
  source: string;
  createdAt: Date;
}

function withIdpNames(links: Omit<LinkedIdentity, 'idpName'>[], idps: IdentityProvider[]): LinkedIdentity[] {
  const names = new Map(idps.map((i) => [i.id, i.name]));
  return links.map((l) => ({ ...l, idpName: names.get(l.idpId) ?? null }));
}

function pickFields(user: User): Record<string, unknown> {
  return Object.fromEntries(EDITABLE_FIELDS.map((f) => [f, user[f]]));
}
