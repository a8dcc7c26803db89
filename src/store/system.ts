// The system repository: the few operations that span every organisation, run by the platform itself (timers, start-up,
// readiness), never on behalf of one organisation's request. Keeping them here is what lets the rest of the code reach
// the database only through `forOrg(orgId)` (or the platform's own store): nothing outside src/store holds the client.
import type { Db, DbProvider } from './engine/database.ts';
import { pendingMigrations } from './engine/migrations.ts';
import { purgeExpiredFlows } from './login-flows.ts';
import { purgeExpiredOneTimeUse } from './one-time-use.ts';
import { purgeExpiredSessions } from './broker-sessions.ts';
import { findDueMetadataRefreshes, type IdentityProvider } from './identity-providers.ts';
import { nextKeysDueForPromotion } from './signing-keys.ts';

/** How long an ended admin session's row outlives its end: the window in which the admin who signs in again gets
 *  back the form input the ended session met (admin/return-after-sign-in.ts finds whose it was through the row).
 *  Every lookup of a live session checks expiresAt, so the row signs no one in meanwhile. */
export const ENDED_ADMIN_SESSION_KEPT_SECONDS = 600;

export class SystemRepository {
  constructor(
    private readonly db: Db,
    private readonly provider: DbProvider,
  ) {}

  /** Removes expired login flows, broker sessions, one-time-use records and admin sessions (these a while after
   *  their end: ENDED_ADMIN_SESSION_KEPT_SECONDS). Runs on a timer on every node; each statement is a plain
   *  indexed DELETE on expiresAt, so it never holds locks a login would wait on long. */
  async purgeExpired(now: Date) {
    const flows = await purgeExpiredFlows(this.db, now);
    const oneTimeUse = await purgeExpiredOneTimeUse(this.db, now);
    const sessions = await purgeExpiredSessions(this.db, now);
    const keptUntil = new Date(now.getTime() - ENDED_ADMIN_SESSION_KEPT_SECONDS * 1000);
    const adminSessions = (await this.db.adminSession.deleteMany({ where: { expiresAt: { lt: keptUntil } } })).count;
    return { flows, oneTimeUse, sessions, adminSessions };
  }

  /** IdPs of every organisation whose metadata URL is due for a refresh, oldest first. */
  dueMetadataRefreshes(now: Date, limit: number): Promise<IdentityProvider[]> {
    return findDueMetadataRefreshes(this.db, now, limit);
  }

  /** Next signing keys of every organisation whose scheduled promotion date has passed. */
  keysDueForPromotion(now: Date) {
    return nextKeysDueForPromotion(this.db, now);
  }

  /** Committed migrations this database has not applied (see engine/migrations.ts). */
  pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.db, this.provider);
  }
}
