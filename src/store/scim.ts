// What an upstream IdP's SCIM client reaches (src/scim): its tokens, the users linked to it by provisioning
// (UserIdentity.source 'scim') and its groups. Every query carries the orgId, and every user or group query the idpId:
// one IdP's client never sees another's users, nor users the admins keep by hand.
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';
import type { User } from './users.ts';

type UserRow = Awaited<ReturnType<Db['user']['findUniqueOrThrow']>>;
const toUser = (row: UserRow): User => ({ ...row, groups: parseJson<string[]>(row.groups, []) });

/** A SCIM filter in terms this store answers in SQL (src/scim/filter.ts makes it): the four attributes connectors
 *  filter on, as columns. */
export type FilterColumn = 'userName' | 'externalId' | 'email' | 'displayName';
export type FilterCondition =
  | { and: FilterCondition[] }
  | { or: FilterCondition[] }
  | { not: FilterCondition }
  | { column: FilterColumn; op: 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'pr'; value: string };

export interface ScimLink {
  id: string;
  userId: string;
  nameId: string;
  externalId: string | null;
  createdAt: Date;
}
export interface ProvisionedUser {
  link: ScimLink;
  user: User;
  groups: { id: string; displayName: string }[];
}

const LINK_SELECT = { id: true, userId: true, nameId: true, externalId: true, createdAt: true } as const;
const USER_INCLUDE = {
  user: { include: { scimGroups: { include: { group: { select: { id: true, displayName: true, idpId: true } } } } } },
} as const;

export class ScimTokenRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  create(data: { idpId: string; name: string; tokenHash: string; prefix: string }) {
    return this.db.scimToken.create({ data: { ...data, orgId: this.orgId } });
  }
  /** The token's row only if it belongs to this organisation and is not revoked. */
  findActive(tokenHash: string) {
    return this.db.scimToken.findFirst({ where: { tokenHash, orgId: this.orgId, revokedAt: null } });
  }
  list(idpId: string) {
    return this.db.scimToken.findMany({ where: { orgId: this.orgId, idpId }, orderBy: { createdAt: 'asc' } });
  }
  touch(id: string, at: Date) {
    return this.db.scimToken.updateMany({ where: { id, orgId: this.orgId }, data: { lastUsedAt: at } });
  }
  /** Every token of the IdP, revoked or not (the IdP is being deleted); how many there were. */
  async deleteAll(idpId: string): Promise<number> {
    return (await this.db.scimToken.deleteMany({ where: { orgId: this.orgId, idpId } })).count;
  }
  countActive(idpId: string) {
    return this.db.scimToken.count({ where: { orgId: this.orgId, idpId, revokedAt: null } });
  }
  async revoke(idpId: string, id: string, at: Date) {
    return (
      (
        await this.db.scimToken.updateMany({
          where: { id, idpId, orgId: this.orgId, revokedAt: null },
          data: { revokedAt: at },
        })
      ).count === 1
    );
  }
}

export class ScimRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  private provisioned(
    row: {
      id: string;
      userId: string;
      nameId: string;
      externalId: string | null;
      createdAt: Date;
      user: UserRow & { scimGroups: { group: { id: string; displayName: string; idpId: string } }[] };
    },
    idpId: string,
  ): ProvisionedUser {
    const { user, ...link } = row;
    const { scimGroups, ...rest } = user;
    return {
      link,
      user: toUser(rest),
      groups: scimGroups
        .filter((m) => m.group.idpId === idpId)
        .map((m) => ({ id: m.group.id, displayName: m.group.displayName })),
    };
  }

  /** The user provisioned through `idpId` with this id, or null (not provisioned through it, another org's, unknown). */
  async findUser(idpId: string, userId: string): Promise<ProvisionedUser | null> {
    const row = await this.db.userIdentity.findFirst({
      where: { orgId: this.orgId, idpId, source: 'scim', userId },
      select: { ...LINK_SELECT, ...USER_INCLUDE },
    });
    return row ? this.provisioned(row, idpId) : null;
  }
  countUsers(idpId: string) {
    return this.db.userIdentity.count({ where: { orgId: this.orgId, idpId, source: 'scim' } });
  }
  countGroups(idpId: string) {
    return this.db.scimGroup.count({ where: { orgId: this.orgId, idpId } });
  }
  /** Every user provisioned through `idpId`, oldest link first. Filters that no index answers run in memory over this
   *  (src/scim/filter.ts); `userName eq`, `externalId eq` and `emails.value eq` use the lookups below. */
  async listUsers(idpId: string): Promise<ProvisionedUser[]> {
    const rows = await this.db.userIdentity.findMany({
      where: { orgId: this.orgId, idpId, source: 'scim' },
      select: { ...LINK_SELECT, ...USER_INCLUDE },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map((r) => this.provisioned(r, idpId));
  }
  /** One page of the users provisioned through `idpId` that meet `where` (every one without it), oldest link first, and
   *  how many meet it: the filter runs in the database, so totalResults and startIndex count the whole set and only
   *  the page is read. */
  async pageOfUsers(
    idpId: string,
    where: FilterCondition | null,
    offset: number,
    limit: number,
  ): Promise<{ total: number; users: ProvisionedUser[] }> {
    const postgres = (this.db as unknown as { _activeProvider?: string })._activeProvider === 'postgresql';
    const params: unknown[] = [];
    // every use of a value is a parameter of its own (SQLite's `?` are taken in order), typed as text for PostgreSQL
    const param = (v: unknown) => {
      params.push(v);
      return postgres ? `CAST($${params.length} AS text)` : '?';
    };
    const from = `FROM "UserIdentity" l JOIN "User" u ON u."id" = l."userId" WHERE l."orgId" = ${param(this.orgId)} AND l."idpId" = ${param(idpId)} AND l."source" = 'scim' AND u."orgId" = l."orgId"${where ? ` AND ${conditionSql(where, param, postgres)}` : ''}`;
    const [{ n }] = await this.db.$queryRawUnsafe<{ n: number | bigint }[]>(`SELECT COUNT(*) AS n ${from}`, ...params);
    const total = Number(n);
    if (!limit || offset >= total) return { total, users: [] };
    const ids = (
      await this.db.$queryRawUnsafe<{ id: string }[]>(
        `SELECT l."id" AS id ${from} ORDER BY l."createdAt", l."id" LIMIT ${Math.trunc(limit)} OFFSET ${Math.trunc(offset)}`,
        ...params,
      )
    ).map((r) => r.id);
    const rows = await this.db.userIdentity.findMany({
      where: { orgId: this.orgId, id: { in: ids } },
      select: { ...LINK_SELECT, ...USER_INCLUDE },
    });
    const order = new Map(ids.map((id, i) => [id, i]));
    return {
      total,
      users: rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!).map((r) => this.provisioned(r, idpId)),
    };
  }
  /** Users provisioned through `idpId` whose userName equals `name` without regard to case: the index on
   *  (orgId, idpId, lower(nameId)) of the scim_indexes migration. */
  async findUsersByUserName(idpId: string, name: string): Promise<ProvisionedUser[]> {
    const ids = (await this.linksByUserName(idpId, name)).filter((l) => l.source === 'scim').map((l) => l.id);
    if (!ids.length) return [];
    const rows = await this.db.userIdentity.findMany({
      where: { orgId: this.orgId, idpId, source: 'scim', id: { in: ids } },
      select: { ...LINK_SELECT, ...USER_INCLUDE },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map((r) => this.provisioned(r, idpId));
  }
  /** Users provisioned through `idpId` with this externalId (case-exact, as SCIM defines it): index (orgId, idpId, externalId). */
  async findUsersByExternalId(idpId: string, externalId: string): Promise<ProvisionedUser[]> {
    const rows = await this.db.userIdentity.findMany({
      where: { orgId: this.orgId, idpId, source: 'scim', externalId },
      select: { ...LINK_SELECT, ...USER_INCLUDE },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map((r) => this.provisioned(r, idpId));
  }
  /** Users provisioned through `idpId` with this email address (without regard to case): the user's (orgId, emailLower). */
  async findUsersByEmail(idpId: string, email: string): Promise<ProvisionedUser[]> {
    const user = await this.db.user.findFirst({
      where: { orgId: this.orgId, emailLower: email.trim().toLowerCase() },
      select: { id: true },
    });
    if (!user) return [];
    // by userId alone (its index; a user has a link or two): with orgId and idpId in the same query SQLite's planner,
    // without statistics, would rather walk (orgId, idpId, externalId) over every link of the IdP
    const ids = (
      await this.db.userIdentity.findMany({
        where: { userId: user.id },
        select: { id: true, orgId: true, idpId: true, source: true },
      })
    )
      .filter((l) => l.orgId === this.orgId && l.idpId === idpId && l.source === 'scim')
      .map((l) => l.id);
    if (!ids.length) return [];
    const rows = await this.db.userIdentity.findMany({
      where: { id: { in: ids } },
      select: { ...LINK_SELECT, ...USER_INCLUDE },
    });
    return rows.map((r) => this.provisioned(r, idpId));
  }
  /** The links (any source) of this IdP whose nameId equals `name` without regard to case, by the expression index on
   *  lower("nameId"). Both sides are folded by the database's lower(): ASCII letters on SQLite, all of Unicode on
   *  PostgreSQL. */
  linksByUserName(
    idpId: string,
    name: string,
  ): Promise<{ id: string; userId: string; nameId: string; source: string }[]> {
    return this.db.$queryRaw<
      { id: string; userId: string; nameId: string; source: string }[]
    >`SELECT "id", "userId", "nameId", "source" FROM "UserIdentity" WHERE "orgId" = ${this.orgId} AND "idpId" = ${idpId} AND lower("nameId") = lower(${name}) ORDER BY "createdAt", "id"`;
  }
  /** Makes an existing link of this IdP a provisioned one (adopts a user who signed in through it before). */
  adoptLink(linkId: string, nameId: string, externalId: string | null) {
    return this.db.userIdentity.updateMany({
      where: { id: linkId, orgId: this.orgId },
      data: { source: 'scim', nameId, externalId },
    });
  }
  createLink(userId: string, idpId: string, nameId: string, externalId: string | null) {
    return this.db.userIdentity.create({
      data: { orgId: this.orgId, userId, idpId, nameId, externalId, source: 'scim' },
    });
  }
  updateLink(linkId: string, data: { nameId: string; externalId: string | null }) {
    return this.db.userIdentity.updateMany({ where: { id: linkId, orgId: this.orgId }, data });
  }
  /** Bumps a user's updatedAt (their SCIM version) after a change that lives in another table. */
  async touchUser(userId: string) {
    await this.db.user.updateMany({ where: { id: userId, orgId: this.orgId }, data: { updatedAt: new Date() } });
  }

  // Groups

  /** Takes the group's row lock for the rest of the transaction (a write that changes nothing: PostgreSQL holds the
   *  row; SQLite's write transactions are serial anyway). false when this IdP has no such group. */
  async lockGroup(idpId: string, id: string): Promise<boolean> {
    return (
      (await this.db
        .$executeRaw`UPDATE "ScimGroup" SET "idpId" = "idpId" WHERE "id" = ${id} AND "orgId" = ${this.orgId} AND "idpId" = ${idpId}`) ===
      1
    );
  }
  findGroup(idpId: string, id: string) {
    return this.db.scimGroup.findFirst({
      where: { id, idpId, orgId: this.orgId },
      include: {
        members: { select: { userId: true, user: { select: { email: true } } }, orderBy: { createdAt: 'asc' } },
      },
    });
  }
  listGroups(idpId: string) {
    return this.db.scimGroup.findMany({
      where: { idpId, orgId: this.orgId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      include: {
        members: { select: { userId: true, user: { select: { email: true } } }, orderBy: { createdAt: 'asc' } },
      },
    });
  }
  findGroupByName(idpId: string, displayName: string) {
    return this.db.scimGroup.findFirst({ where: { idpId, orgId: this.orgId, displayName } });
  }
  createGroup(idpId: string, data: { displayName: string; externalId: string | null }) {
    return this.db.scimGroup.create({ data: { ...data, idpId, orgId: this.orgId } });
  }
  updateGroup(id: string, data: { displayName?: string; externalId?: string | null }) {
    return this.db.scimGroup.update({ where: { id, orgId: this.orgId }, data: { ...data, updatedAt: new Date() } });
  }
  deleteGroup(id: string) {
    return this.db.scimGroup.deleteMany({ where: { id, orgId: this.orgId } });
  }
  /** Adds the membership row; one that exists already (a concurrent add of the same member) is no error. Inside a
   *  transaction that holds the group's row (ScimGroups.apply) the look-up settles it without a failed insert, which
   *  would abort a PostgreSQL transaction. */
  async addMember(groupId: string, userId: string) {
    if (
      await this.db.scimGroupMember.findUnique({
        where: { groupId_userId: { groupId, userId } },
        select: { userId: true },
      })
    )
      return;
    try {
      await this.db.scimGroupMember.create({ data: { groupId, userId, orgId: this.orgId } });
    } catch (err) {
      if ((err as { code?: string }).code !== 'P2002') throw err;
    }
  }
  async removeMember(groupId: string, userId: string) {
    return (await this.db.scimGroupMember.deleteMany({ where: { groupId, userId, orgId: this.orgId } })).count === 1;
  }
  /** The names of every SCIM group (of any IdP) the user is a member of. */
  async memberGroupNames(userId: string): Promise<Set<string>> {
    const rows = await this.db.scimGroupMember.findMany({
      where: { userId, orgId: this.orgId },
      select: { group: { select: { displayName: true } } },
    });
    return new Set(rows.map((r) => r.group.displayName));
  }
  /** Rewrites the user's group names (the users.groups the policies read) with `change`, by compare-and-set on the
   *  stored value: a concurrent writer (another group's membership sync, an admin) makes it read again and re-apply,
   *  so that no change is lost. `change` returns null for "nothing to write". */
  async updateUserGroups(userId: string, change: (groups: string[]) => Promise<string[] | null>): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const row = await this.db.user.findFirst({ where: { id: userId, orgId: this.orgId }, select: { groups: true } });
      if (!row) return;
      const next = await change(parseJson<string[]>(row.groups, []));
      if (!next) return;
      if (
        (
          await this.db.user.updateMany({
            where: { id: userId, orgId: this.orgId, groups: row.groups },
            data: { groups: toJson(next) },
          })
        ).count === 1
      )
        return;
    }
    throw new Error(`users.groups of ${userId} kept changing under 50 attempts`);
  }
  /** Users of this organisation among `ids` (the rest do not exist here). */
  async existingUserIds(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await this.db.user.findMany({
      where: { orgId: this.orgId, id: { in: [...new Set(ids)] } },
      select: { id: true },
    });
    return new Set(rows.map((r) => r.id));
  }
}

// The SQL of a filter condition (src/scim/filter.ts), with the meaning of the in-memory `matches`: userName, emails and
// displayName compare without regard to case (lower() on both sides, as the userName index does), externalId exactly.
// No LIKE, so that no character of the value is a wildcard and SQLite's case-blind LIKE cannot change the meaning.
// Each piece is true or false, never NULL (an absent attribute is false for every operator but ne), so NOT is right.
const DISPLAY_NAME = `(CASE WHEN coalesce(u."firstName", '') <> '' AND coalesce(u."lastName", '') <> '' THEN u."firstName" || ' ' || u."lastName" ELSE nullif(coalesce(nullif(u."firstName", ''), u."lastName"), '') END)`;
const FILTER_COLUMNS: Record<FilterColumn, { sql: string; caseExact: boolean }> = {
  userName: { sql: 'l."nameId"', caseExact: false },
  externalId: { sql: 'l."externalId"', caseExact: true },
  email: { sql: 'u."email"', caseExact: false },
  displayName: { sql: DISPLAY_NAME, caseExact: false },
};

function conditionSql(c: FilterCondition, param: (v: unknown) => string, postgres: boolean): string {
  if ('and' in c) return `(${c.and.map((x) => conditionSql(x, param, postgres)).join(' AND ')})`;
  if ('or' in c) return `(${c.or.map((x) => conditionSql(x, param, postgres)).join(' OR ')})`;
  if ('not' in c) return `(NOT ${conditionSql(c.not, param, postgres)})`;
  const column = FILTER_COLUMNS[c.column];
  const x = column.caseExact ? column.sql : `lower(${column.sql})`;
  const present = `${column.sql} IS NOT NULL`;
  if (c.op === 'pr') return `(${present} AND ${column.sql} <> '')`;
  // an empty value: every present value contains, starts and ends with it
  if (c.value === '' && (c.op === 'co' || c.op === 'sw' || c.op === 'ew')) return `(${present})`;
  const v = () => (column.caseExact ? param(c.value) : `lower(${param(c.value)})`);
  switch (c.op) {
    case 'eq':
      return `(${present} AND ${x} = ${v()})`;
    case 'ne':
      return `(${column.sql} IS NULL OR ${x} <> ${v()})`;
    case 'co':
      return `(${present} AND ${postgres ? `strpos(${x}, ${v()})` : `instr(${x}, ${v()})`} > 0)`;
    case 'sw':
      return `(${present} AND substr(${x}, 1, length(${v()})) = ${v()})`;
    case 'ew':
      return `(${present} AND ${postgres ? `right(${x}, length(${v()}))` : `substr(${x}, -length(${v()}))`} = ${v()})`;
  }
}
