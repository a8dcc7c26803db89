// Broker SSO sessions: after one upstream login, other apps of the same organisation skip the upstream round trip.
// The session id stored here is a SHA-256 of the cookie value, so a database reader cannot replay cookies.
import type { Db } from './database.ts';

export type BrokerSessionRow = Awaited<ReturnType<Db['brokerSession']['findUniqueOrThrow']>>;

export class BrokerSessionRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  create(data: { id: string; userId: string; idpId: string; nameId: string; upstreamSessionIndex?: string | null; mfaAt?: Date | null; expiresAt: Date }) {
    return this.db.brokerSession.create({ data: { ...data, orgId: this.orgId } });
  }
  findActive(id: string, now: Date) {
    return this.db.brokerSession.findFirst({ where: { id, orgId: this.orgId, endedAt: null, expiresAt: { gt: now } } });
  }
  markMfa(id: string, at: Date) {
    return this.db.brokerSession.updateMany({ where: { id, orgId: this.orgId }, data: { mfaAt: at } });
  }
  end(id: string, at: Date) {
    return this.db.brokerSession.updateMany({ where: { id, orgId: this.orgId, endedAt: null }, data: { endedAt: at } });
  }
  /** Sessions (ended or not) in which `appId` received an assertion for `nameId`, limited to `sessionIndexes` when
   *  the app named any. Expired sessions are included: an app may log out after our session timed out. */
  findForAppLogout(appId: string, nameId: string, sessionIndexes: string[]) {
    return this.db.brokerSession.findMany({
      where: { orgId: this.orgId, endedAt: null, apps: { some: { appId, nameId, ...(sessionIndexes.length && { sessionIndex: { in: sessionIndexes } }) } } },
    });
  }
  /** Sessions that came from `idpId`'s login of `nameId`, limited to its `sessionIndexes` when it named any. */
  findForIdpLogout(idpId: string, nameId: string, sessionIndexes: string[]) {
    return this.db.brokerSession.findMany({
      where: { orgId: this.orgId, endedAt: null, idpId, nameId, ...(sessionIndexes.length && { upstreamSessionIndex: { in: sessionIndexes } }) },
    });
  }
  endMany(ids: string[], at: Date) {
    return this.db.brokerSession.updateMany({ where: { id: { in: ids }, orgId: this.orgId, endedAt: null }, data: { endedAt: at } });
  }
  /** Records that `appId` received an assertion in this session (for single logout). */
  async addApp(sessionId: string, appId: string, nameId: string, sessionIndex: string) {
    const session = await this.db.brokerSession.findFirst({ where: { id: sessionId, orgId: this.orgId } });
    if (!session) return;
    // Insert, or on a second login to the same app in this session take its new SessionIndex: single statements
    // (see UserRepository.link for why not an upsert).
    try {
      await this.db.sessionApp.create({ data: { sessionId, appId, nameId, sessionIndex } });
    } catch (err) {
      if ((err as { code?: string }).code !== 'P2002') throw err;
      await this.db.sessionApp.updateMany({ where: { sessionId, appId }, data: { nameId, sessionIndex } });
    }
  }
  listApps(sessionId: string) {
    return this.db.sessionApp.findMany({ where: { sessionId, session: { orgId: this.orgId } }, orderBy: { createdAt: 'asc' } });
  }
}

export async function purgeExpiredSessions(db: Db, now: Date) {
  return (await db.brokerSession.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}
