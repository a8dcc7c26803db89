// Broker SSO sessions: after one upstream login, other apps of the same organisation skip the upstream round trip.
// The session id stored here is a SHA-256 of the cookie value, so a database reader cannot replay cookies.
import { timeOrderedUuid } from '../crypto/random-ids.ts';
import type { Db } from './engine/database.ts';
import { rowReader, sql, type SqlRunner } from './engine/sql.ts';

export type BrokerSessionRow = Awaited<ReturnType<Db['brokerSession']['findUniqueOrThrow']>>;

// The statements of a login are hand-written (sql.ts); logout and admin reads stay on Prisma.
const COLUMNS =
  '"id", "orgId", "userId", "idpId", "nameId", "nameIdFormat", "nameQualifier", "spNameQualifier", "upstreamSessionIndex", "upstreamIdToken", "mfaAt", "createdAt", "expiresAt", "endedAt"';
const readRow = rowReader<BrokerSessionRow>({ dates: ['mfaAt', 'createdAt', 'expiresAt', 'endedAt'] });
const INSERT = sql(`INSERT INTO "BrokerSession" (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`);
const FIND_ACTIVE = sql(
  `SELECT ${COLUMNS} FROM "BrokerSession" WHERE "id" = ? AND "orgId" = ? AND "endedAt" IS NULL AND "expiresAt" > ?`,
);
const MARK_MFA = sql(`UPDATE "BrokerSession" SET "mfaAt" = ? WHERE "id" = ? AND "orgId" = ?`);
// Only into a session of this organisation; a second login to the same app in the session takes its new SessionIndex.
const ADD_APP = sql(`
  INSERT INTO "SessionApp" ("id", "orgId", "sessionId", "appId", "nameId", "sessionIndex", "createdAt")
  SELECT ?, "orgId", "id", ?, ?, ?, ? FROM "BrokerSession" WHERE "id" = ? AND "orgId" = ?
  ON CONFLICT ("sessionId", "appId") DO UPDATE SET "nameId" = excluded."nameId", "sessionIndex" = excluded."sessionIndex"`);

export class BrokerSessionRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  /** `nameId` and its format and qualifiers: as the upstream IdP issued them (a logout request to it repeats them).
   *  `upstreamIdToken`: an OpenID Connect IdP's ID token, sealed (never stored in clear), for RP-initiated logout. */
  async create(data: {
    id: string;
    userId: string;
    idpId: string;
    nameId: string;
    nameIdFormat?: string | null;
    nameQualifier?: string | null;
    spNameQualifier?: string | null;
    upstreamSessionIndex?: string | null;
    upstreamIdToken?: string | null;
    mfaAt?: Date | null;
    expiresAt: Date;
  }): Promise<BrokerSessionRow> {
    const row: BrokerSessionRow = {
      ...data,
      orgId: this.orgId,
      nameIdFormat: data.nameIdFormat ?? null,
      nameQualifier: data.nameQualifier ?? null,
      spNameQualifier: data.spNameQualifier ?? null,
      upstreamSessionIndex: data.upstreamSessionIndex ?? null,
      upstreamIdToken: data.upstreamIdToken ?? null,
      mfaAt: data.mfaAt ?? null,
      createdAt: new Date(),
      endedAt: null,
    };
    await this.sql.run(INSERT, [
      row.id,
      row.orgId,
      row.userId,
      row.idpId,
      row.nameId,
      row.nameIdFormat,
      row.nameQualifier,
      row.spNameQualifier,
      row.upstreamSessionIndex,
      row.upstreamIdToken,
      row.mfaAt,
      row.createdAt,
      row.expiresAt,
    ]);
    return row;
  }
  async findActive(id: string, now: Date): Promise<BrokerSessionRow | null> {
    const [row] = await this.sql.all(FIND_ACTIVE, [id, this.orgId, now]);
    return row ? readRow(row) : null;
  }
  async markMfa(id: string, at: Date) {
    return this.sql.run(MARK_MFA, [at, id, this.orgId]);
  }
  end(id: string, at: Date) {
    return this.db.brokerSession.updateMany({ where: { id, orgId: this.orgId, endedAt: null }, data: { endedAt: at } });
  }
  /** Sessions (ended or not) in which `appId` received an assertion for `nameId`, limited to `sessionIndexes` when
   *  the app named any. Expired sessions are included: an app may log out after our session timed out. */
  findForAppLogout(appId: string, nameId: string, sessionIndexes: string[]) {
    return this.db.brokerSession.findMany({
      where: {
        orgId: this.orgId,
        endedAt: null,
        apps: { some: { appId, nameId, ...(sessionIndexes.length && { sessionIndex: { in: sessionIndexes } }) } },
      },
    });
  }
  /** Sessions that came from `idpId`'s login of `nameId`, limited to its `sessionIndexes` when it named any. */
  findForIdpLogout(idpId: string, nameId: string, sessionIndexes: string[]) {
    return this.db.brokerSession.findMany({
      where: {
        orgId: this.orgId,
        endedAt: null,
        idpId,
        nameId,
        ...(sessionIndexes.length && { upstreamSessionIndex: { in: sessionIndexes } }),
      },
    });
  }
  /** Ends every open session of the user (deprovisioning); the number ended. */
  async endForUser(userId: string, at: Date) {
    return (
      await this.db.brokerSession.updateMany({
        where: { orgId: this.orgId, userId, endedAt: null },
        data: { endedAt: at },
      })
    ).count;
  }
  /**
   * The user's open sessions, newest first (at most `take`): when each began and ends, the IdP, whether a second
   * factor was passed, and the apps it signed in to; `lastUsedAt` is the last time an app received an assertion in it
   * (or its start). No address or browser is stored with a session, so none is shown.
   */
  async listOpenForUser(userId: string, now: Date, take = 50) {
    const rows = await this.db.brokerSession.findMany({
      where: { orgId: this.orgId, userId, endedAt: null, expiresAt: { gt: now } },
      orderBy: { createdAt: 'desc' },
      take,
      select: {
        id: true,
        idpId: true,
        createdAt: true,
        expiresAt: true,
        mfaAt: true,
        apps: { select: { appId: true, createdAt: true } },
      },
    });
    return rows.map(({ id, idpId, createdAt, expiresAt, mfaAt, apps }) => ({
      // the stored id is a hash of the cookie: shown shortened, as a reference for the audit log, never usable
      ref: id.slice(0, 12),
      idpId,
      createdAt,
      expiresAt,
      mfaAt,
      apps: apps.length,
      lastUsedAt: apps.reduce((latest, a) => (a.createdAt > latest ? a.createdAt : latest), createdAt),
    }));
  }
  endMany(ids: string[], at: Date) {
    return this.db.brokerSession.updateMany({
      where: { id: { in: ids }, orgId: this.orgId, endedAt: null },
      data: { endedAt: at },
    });
  }
  /** Records that `appId` received an assertion in this session (for single logout). */
  async addApp(sessionId: string, appId: string, nameId: string, sessionIndex: string) {
    await this.sql.run(ADD_APP, [timeOrderedUuid(), appId, nameId, sessionIndex, new Date(), sessionId, this.orgId]);
  }
  listApps(sessionId: string) {
    return this.db.sessionApp.findMany({
      where: { sessionId, orgId: this.orgId },
      orderBy: { createdAt: 'asc' },
    });
  }
}

export async function purgeExpiredSessions(db: Db, now: Date) {
  return (await db.brokerSession.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}
