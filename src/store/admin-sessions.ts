// Admin console sessions. The id is the SHA-256 of the cookie value; the CSRF token lives with the session.
import type { Db } from './engine/database.ts';

export class AdminSessionRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  create(data: { id: string; adminId: string; csrfToken: string; expiresAt: Date }) {
    return this.db.adminSession.create({ data: { ...data, orgId: this.orgId } });
  }
  findActive(id: string, now: Date) {
    return this.db.adminSession.findFirst({ where: { id, orgId: this.orgId, expiresAt: { gt: now } } });
  }
  /** The session with this id, live or ended (until the purge removes it): whose it was, after it ended. */
  findAny(id: string) {
    return this.db.adminSession.findFirst({ where: { id, orgId: this.orgId } });
  }
  delete(id: string) {
    return this.db.adminSession.deleteMany({ where: { id, orgId: this.orgId } });
  }
  deleteForAdmin(adminId: string) {
    return this.db.adminSession.deleteMany({ where: { adminId, orgId: this.orgId } });
  }
}
