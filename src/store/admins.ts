// Administrators of one organisation. Passwords are argon2id hashes (see orgs/passwords.ts).
import type { Db } from './database.ts';
import { normaliseEmail } from './users.ts';

export type AdminRow = Awaited<ReturnType<Db['admin']['findUniqueOrThrow']>>;

export class AdminRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  create(data: { email: string; name?: string; passwordHash: string; mustChangePassword?: boolean }) {
    return this.db.admin.create({ data: { ...data, email: data.email.trim(), emailLower: normaliseEmail(data.email), orgId: this.orgId } });
  }
  findByEmail(email: string) {
    return this.db.admin.findUnique({ where: { orgId_emailLower: { orgId: this.orgId, emailLower: normaliseEmail(email) } } });
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
  update(id: string, data: Partial<Pick<AdminRow, 'passwordHash' | 'failedLogins' | 'lockedUntil' | 'lastLoginAt' | 'mustChangePassword' | 'totpSecretEnc' | 'name'>>) {
    return this.db.admin.update({ where: { id, orgId: this.orgId }, data });
  }
}
