// The directory of one organisation: users and their links to upstream identities (IdP + NameID).
import { timeOrderedUuid } from '../crypto/random-ids.ts';
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';
import { asDate, rowReader, sql, type SqlRunner } from './engine/sql.ts';
import {
  countStatement,
  isTimeKey,
  listStatement,
  prefixEnd,
  type UserCursor,
  type UserListFilter,
  type UserListQuery,
} from './user-list-sql.ts';

type Row = Awaited<ReturnType<Db['user']['findUniqueOrThrow']>>;
export interface User extends Omit<Row, 'groups'> {
  groups: string[];
}
export type UserInput = Partial<
  Pick<User, 'username' | 'firstName' | 'lastName' | 'phone' | 'groups' | 'status' | 'source' | 'lastLoginAt'>
>;

const fromRow = (row: Row): User => ({ ...row, groups: parseJson<string[]>(row.groups, []) });

// The statements of a login are hand-written (sql.ts); the directory pages and imports stay on Prisma.
const COLUMNS = [
  'id',
  'orgId',
  'email',
  'emailLower',
  'username',
  'firstName',
  'lastName',
  'phone',
  'groups',
  'status',
  'source',
  'createdAt',
  'updatedAt',
  'lastLoginAt',
];
const readRow = rowReader<Row>({ dates: ['createdAt', 'updatedAt', 'lastLoginAt'] });
const SELECT = `SELECT ${COLUMNS.map((c) => `"User"."${c}"`).join(', ')} FROM "User"`;
const FIND_BY_ID = sql(`${SELECT} WHERE "id" = ? AND "orgId" = ?`);
const FIND_BY_EMAIL = sql(`${SELECT} WHERE "orgId" = ? AND "emailLower" = ?`);
const FIND_BY_IDENTITY = sql(
  `${SELECT} JOIN "UserIdentity" ON "UserIdentity"."userId" = "User"."id" AND "UserIdentity"."orgId" = "User"."orgId" WHERE "UserIdentity"."orgId" = ? AND "UserIdentity"."idpId" = ? AND "UserIdentity"."nameId" = ?`,
);
// The existing link stands when there is one: the statement then changes nothing.
const LINK = sql(
  `INSERT INTO "UserIdentity" ("id", "orgId", "userId", "idpId", "nameId", "source", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT ("orgId", "idpId", "nameId") DO NOTHING`,
);
// Whether a user holds any link: asked at the first sign-in of a directory user (linking by email), a login's path.
const HAS_IDENTITY = sql(`SELECT 1 AS "one" FROM "UserIdentity" WHERE "userId" = ? AND "orgId" = ? LIMIT 1`);
const SIGNED_IN = sql(`UPDATE "User" SET "lastLoginAt" = ? WHERE "id" = ? AND "orgId" = ?`);
const toRow = ({ groups, ...rest }: UserInput) => ({
  ...rest,
  ...(groups !== undefined && { groups: toJson(groups) }),
});

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

/** How a link to an upstream identity came about: at sign-in (linked or just-in-time), by an import's pre-link, or by an admin. */
export type IdentitySource = 'login' | 'imported' | 'admin';

/** Range for the index, `startsWith` for exactness whatever the database's collation. */
function prefixFilter(prefix: string) {
  const end = prefixEnd(prefix);
  return { gte: prefix, startsWith: prefix, ...(end !== undefined && { lt: end }) };
}

/**
 * Email prefix (without regard to case) or first/last name prefix, as typed or capitalised ("smith" finds
 * "Smith"): each branch a range on one of the indexes (orgId, emailLower), (orgId, firstName), (orgId, lastName).
 */
function searchFilter(search: string | undefined) {
  const q = search?.trim();
  if (!q) return {};
  const names = [...new Set([q, q.charAt(0).toUpperCase() + q.slice(1)])];
  return {
    OR: [
      { emailLower: prefixFilter(q.toLowerCase()) },
      ...names.flatMap((n) => [{ firstName: prefixFilter(n) }, { lastName: prefixFilter(n) }]),
    ],
  };
}

export class UserRepository {
  constructor(
    private readonly db: Db,
    private readonly sql: SqlRunner,
    private readonly orgId: string,
  ) {}

  private async one(statement: ReturnType<typeof sql>, params: unknown[]): Promise<User | null> {
    const [row] = await this.sql.all(statement, params);
    return row ? fromRow(readRow(row)) : null;
  }

  async create(input: UserInput & { email: string }) {
    const email = input.email.trim();
    return fromRow(
      await this.db.user.create({
        data: { ...toRow(input), email, emailLower: normaliseEmail(email), orgId: this.orgId },
      }),
    );
  }
  /** An email change keeps emailLower in step (the unique key of the directory). */
  async update(id: string, input: UserInput & { email?: string }) {
    const { email, ...rest } = input;
    const emailData = email !== undefined ? { email: email.trim(), emailLower: normaliseEmail(email) } : {};
    return fromRow(
      await this.db.user.update({ where: { id, orgId: this.orgId }, data: { ...toRow(rest), ...emailData } }),
    );
  }
  findById(id: string) {
    return this.one(FIND_BY_ID, [id, this.orgId]);
  }
  findByEmail(email: string) {
    return this.one(FIND_BY_EMAIL, [this.orgId, normaliseEmail(email)]);
  }
  findByIdentity(idpId: string, nameId: string) {
    return this.one(FIND_BY_IDENTITY, [this.orgId, idpId, nameId]);
  }
  /** Links the upstream identity to the user unless it is linked already (then the existing link stands, whoever
   *  holds it, and false is returned: callers read the holder back rather than assume it is `userId`). */
  async link(userId: string, idpId: string, nameId: string, source: IdentitySource = 'login'): Promise<boolean> {
    return (await this.sql.run(LINK, [timeOrderedUuid(), this.orgId, userId, idpId, nameId, source, new Date()])) === 1;
  }
  /** Records a completed login (one statement, without reading the user back). */
  async signedIn(id: string, at: Date) {
    await this.sql.run(SIGNED_IN, [at, id, this.orgId]);
  }

  async list(opts: { search?: string; skip?: number; take?: number } = {}) {
    const where = { orgId: this.orgId, ...searchFilter(opts.search) };
    const rows = await this.db.user.findMany({
      where,
      orderBy: { emailLower: 'asc' },
      skip: opts.skip ?? 0,
      take: Math.min(opts.take ?? 50, 500),
    });
    return rows.map(fromRow);
  }
  /** Users (matching `search`). Unfiltered, it reads only the org's range of the (orgId, emailLower) index. */
  count(opts: { search?: string } = {}) {
    return this.db.user.count({ where: { orgId: this.orgId, ...searchFilter(opts.search) } });
  }
  /**
   * One page of the list with filters and a sort (user-list-sql.ts), each user with the cursor of their position:
   * pass the last one's as `after` for the next page, the first one's as `before` for the previous one.
   */
  async browse(q: UserListQuery, now: Date) {
    const take = Math.max(1, Math.min(q.take, 500));
    const backwards = q.before !== undefined;
    const { statement, params } = listStatement({ ...q, take }, this.orgId, now, this.sql.dialect);
    const rows = await this.sql.all(statement, params);
    const more = rows.length > take;
    const users = rows.slice(0, take).map((row) => {
      const { sortKey, ...rest } = row;
      const user = fromRow(readRow(rest));
      const cursor: UserCursor = { key: isTimeKey(q.sort) ? asDate(sortKey)!.getTime() : String(sortKey), id: user.id };
      return { user, cursor };
    });
    if (backwards) users.reverse();
    return {
      users,
      hasNext: backwards ? true : more,
      hasPrevious: backwards ? more : q.after !== undefined || (q.skip ?? 0) > 0,
    };
  }
  /** Users matching the filter (a count over the same conditions as `browse`). */
  async countMatching(filter: UserListFilter, now: Date): Promise<number> {
    const { statement, params } = countStatement(filter, this.orgId, now, this.sql.dialect);
    const [row] = await this.sql.all(statement, params);
    return Number(row?.n ?? 0);
  }
  /** The users of this organisation among `ids` (others' and unknown ids are simply absent). */
  async findByIds(ids: string[]): Promise<User[]> {
    if (!ids.length) return [];
    return (await this.db.user.findMany({ where: { orgId: this.orgId, id: { in: [...new Set(ids)] } } })).map(fromRow);
  }
  /** Which of the given users have at least one passkey or security key (the list shows it beside TOTP). */
  async withPasskeys(userIds: string[]): Promise<Set<string>> {
    if (!userIds.length) return new Set();
    const rows = await this.db.webAuthnCredential.findMany({
      where: { orgId: this.orgId, userId: { in: userIds } },
      select: { userId: true },
      distinct: ['userId'],
    });
    return new Set(rows.map((r) => r.userId));
  }
  /** The distinct group names of the organisation's users, for the list's group filter (at most `limit`). */
  async groupNames(limit = 200): Promise<string[]> {
    const rows = await this.db.user.findMany({
      where: { orgId: this.orgId, NOT: { groups: '[]' } },
      select: { groups: true },
      distinct: ['groups'],
      take: 5000,
    });
    const names = new Set<string>();
    for (const r of rows) for (const g of parseJson<string[]>(r.groups, [])) names.add(g);
    return [...names].sort().slice(0, limit);
  }
  /** Emails of the given users (that still exist), for showing ids as people. */
  async emailsByIds(ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows = await this.db.user.findMany({
      where: { orgId: this.orgId, id: { in: [...new Set(ids)] } },
      select: { id: true, email: true },
    });
    return new Map(rows.map((r) => [r.id, r.email]));
  }
  /** The second-factor rows of several users in one query (the directory page shows each user's state). */
  twoFactorRows(userIds: string[]) {
    if (!userIds.length) return Promise.resolve([]);
    return this.db.totpFactor.findMany({
      where: { orgId: this.orgId, userId: { in: userIds } },
      select: { userId: true, status: true, lockedUntil: true },
    });
  }
  /** Whether the user has any upstream identity link (one indexed row read; `identities` reads them all). */
  async hasIdentity(userId: string): Promise<boolean> {
    return (await this.sql.all(HAS_IDENTITY, [userId, this.orgId])).length > 0;
  }
  identities(userId: string) {
    return this.db.userIdentity.findMany({
      where: { orgId: this.orgId, userId },
      orderBy: { createdAt: 'asc' },
      select: { id: true, idpId: true, nameId: true, source: true, createdAt: true },
    });
  }
  /** Removes one upstream link of the user; false when the user has no such link. */
  async unlink(userId: string, linkId: string) {
    return (await this.db.userIdentity.deleteMany({ where: { id: linkId, userId, orgId: this.orgId } })).count === 1;
  }

  // Paged reads for export and disable-missing (src/users): one query per page instead of one per user.

  /**
   * One page of the directory in emailLower order (keyset pagination), with identity links oldest first.
   * At most 500 per page: Prisma loads the links with one bind parameter per user, and caps SQLite at 999.
   */
  async pageByEmail(opts: { after?: string; take: number }) {
    const rows = await this.db.user.findMany({
      where: { orgId: this.orgId, ...(opts.after !== undefined && { emailLower: { gt: opts.after } }) },
      orderBy: { emailLower: 'asc' },
      take: Math.min(opts.take, 500),
      include: { identities: { select: { idpId: true, nameId: true }, orderBy: { createdAt: 'asc' } } },
    });
    return rows.map((r) => ({ ...fromRow(r), identities: r.identities }));
  }
  /** Active users created before `createdBefore`, in id order (keyset pagination): ids and emails only. */
  activePage(opts: { afterId?: string; take: number; createdBefore: Date }) {
    return this.db.user.findMany({
      where: {
        orgId: this.orgId,
        status: 'active',
        createdAt: { lt: opts.createdBefore },
        ...(opts.afterId !== undefined && { id: { gt: opts.afterId } }),
      },
      orderBy: { id: 'asc' },
      take: opts.take,
      select: { id: true, emailLower: true },
    });
  }
  /** Deletes the user with their second factor, recovery codes, passkeys and remembered devices; identity links,
   *  SCIM group memberships and broker sessions go by the foreign keys' cascade (which would take the second factor
   *  too: the explicit deletes say what goes). Run it in a transaction to make it all-or-nothing. */
  async delete(id: string) {
    await this.db.totpFactor.deleteMany({ where: { userId: id, orgId: this.orgId } });
    await this.db.recoveryCode.deleteMany({ where: { userId: id, orgId: this.orgId } });
    await this.db.rememberedDevice.deleteMany({ where: { userId: id, orgId: this.orgId } });
    await this.db.webAuthnCredential.deleteMany({ where: { userId: id, orgId: this.orgId } });
    await this.db.user.delete({ where: { id, orgId: this.orgId } });
  }
}
