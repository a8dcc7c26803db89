// Removes expired login flows, broker sessions and one-time-use records. Runs on a timer on every node; each
// statement is a plain indexed DELETE on expiresAt, so it never holds locks that a login would wait on for long.
import type { Db } from './database.ts';
import { purgeExpiredFlows } from './login-flows.ts';
import { purgeExpiredOneTimeUse } from './one-time-use.ts';
import { purgeExpiredSessions } from './broker-sessions.ts';

export async function purgeExpired(db: Db, now: Date) {
  const flows = await purgeExpiredFlows(db, now);
  const oneTimeUse = await purgeExpiredOneTimeUse(db, now);
  const sessions = await purgeExpiredSessions(db, now);
  const adminSessions = (await db.adminSession.deleteMany({ where: { expiresAt: { lt: now } } })).count;
  return { flows, oneTimeUse, sessions, adminSessions };
}
