// Administrators of one organisation and their pending invitations. Passwords are argon2id hashes (see
// orgs/passwords.ts); an invitation keeps only the SHA-256 of its link's token.
import type { Db } from './engine/database.ts';
import { normaliseEmail } from './users.ts';

export type AdminRow = Awaited<ReturnType<Db['admin']['findUniqueOrThrow']>>;
export type AdminInviteRow = Awaited<ReturnType<Db['adminInvite']['findUniqueOrThrow']>>;

export class AdminRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  create(data: {
    id?: string;
    email: string;
    name?: string;
    passwordHash: string;
    mustChangePassword?: boolean;
    role?: string;
    totpSecretEnc?: string | null;
  }) {
    return this.db.admin.create({
      data: { ...data, email: data.email.trim(), emailLower: normaliseEmail(data.email), orgId: this.orgId },
    });
  }
  findByEmail(email: string) {
    return this.db.admin.findUnique({
      where: { orgId_emailLower: { orgId: this.orgId, emailLower: normaliseEmail(email) } },
    });
  }
  findById(id: string) {
    return this.db.admin.findFirst({ where: { id, orgId: this.orgId } });
  }
  list() {
    return this.db.admin.findMany({ where: { orgId: this.orgId }, orderBy: { createdAt: 'asc' } });
  }
  /** Counts a failed sign-in atomically (safe across nodes) and returns the new count. */
  async recordFailedLogin(id: string): Promise<number> {
    await this.db.admin.updateMany({ where: { id, orgId: this.orgId }, data: { failedLogins: { increment: 1 } } });
    return (await this.findById(id))?.failedLogins ?? 0;
  }
  update(
    id: string,
    data: Partial<
      Pick<
        AdminRow,
        | 'passwordHash'
        | 'failedLogins'
        | 'lockedUntil'
        | 'lastLoginAt'
        | 'mustChangePassword'
        | 'totpSecretEnc'
        | 'name'
      >
    >,
  ) {
    return this.db.admin.update({ where: { id, orgId: this.orgId }, data });
  }
  /**
   * Inside an open transaction (a store from `store.transaction`): takes the write lock of the organisation's own
   * row, so that owner changes of one organisation run one after the other instead of each reading "two owners"
   * and each removing one. On PostgreSQL the row lock queues the next transaction until we commit, and READ
   * COMMITTED then lets it see our change; on SQLite the UPDATE takes the database's write lock as the
   * transaction's first statement (the same lock import-jobs.ts takes). Other organisations are not held up.
   */
  async lockOwnerChanges() {
    const locked = await this.db.$executeRaw`UPDATE "Organization" SET "name" = "name" WHERE "id" = ${this.orgId}`;
    if (locked !== 1) throw new Error(`organisation ${this.orgId} does not exist`);
  }
  countWithRole(role: string) {
    return this.db.admin.count({ where: { orgId: this.orgId, role } });
  }
  async setRole(id: string, role: string) {
    return (await this.db.admin.updateMany({ where: { id, orgId: this.orgId }, data: { role } })).count === 1;
  }
  async delete(id: string) {
    await this.db.adminSession.deleteMany({ where: { adminId: id, orgId: this.orgId } });
    return (await this.db.admin.deleteMany({ where: { id, orgId: this.orgId } })).count === 1;
  }

  createInvite(data: { email: string; role: string; tokenHash: string; invitedBy: string; expiresAt: Date }) {
    return this.db.adminInvite.create({
      data: { ...data, email: data.email.trim(), emailLower: normaliseEmail(data.email), orgId: this.orgId },
    });
  }
  findInvite(tokenHash: string) {
    return this.db.adminInvite.findFirst({ where: { tokenHash, orgId: this.orgId } });
  }
  /** Invitations neither used, withdrawn nor expired, newest first. */
  pendingInvites(now: Date) {
    return this.db.adminInvite.findMany({
      where: { orgId: this.orgId, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
      orderBy: { createdAt: 'desc' },
    });
  }
  /** Marks a pending invitation used; false when it was used, withdrawn or expired meanwhile (on any node). */
  async consumeInvite(id: string, now: Date) {
    return (
      (
        await this.db.adminInvite.updateMany({
          where: { id, orgId: this.orgId, usedAt: null, revokedAt: null, expiresAt: { gt: now } },
          data: { usedAt: now },
        })
      ).count === 1
    );
  }
  async revokeInvite(id: string, now: Date) {
    return (
      (
        await this.db.adminInvite.updateMany({
          where: { id, orgId: this.orgId, usedAt: null, revokedAt: null },
          data: { revokedAt: now },
        })
      ).count === 1
    );
  }
}
