// The directory of one organisation: users and their links to upstream identities (IdP + NameID).
import type { Db } from './database.ts';
import { parseJson, toJson } from './json.ts';

type Row = Awaited<ReturnType<Db['user']['findUniqueOrThrow']>>;
export interface User extends Omit<Row, 'groups'> { groups: string[] }
export type UserInput = Partial<Pick<User, 'username' | 'firstName' | 'lastName' | 'phone' | 'groups' | 'status' | 'source' | 'lastLoginAt'>>;

const fromRow = (row: Row): User => ({ ...row, groups: parseJson<string[]>(row.groups, []) });
const toRow = ({ groups, ...rest }: UserInput) => ({ ...rest, ...(groups !== undefined && { groups: toJson(groups) }) });

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export class UserRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  async create(input: UserInput & { email: string }) {
    const email = input.email.trim();
    return fromRow(await this.db.user.create({ data: { ...toRow(input), email, emailLower: normaliseEmail(email), orgId: this.orgId } }));
  }
  async update(id: string, input: UserInput) {
    return fromRow(await this.db.user.update({ where: { id, orgId: this.orgId }, data: toRow(input) }));
  }
  async findById(id: string) {
    const row = await this.db.user.findFirst({ where: { id, orgId: this.orgId } });
    return row && fromRow(row);
  }
  async findByEmail(email: string) {
    const row = await this.db.user.findUnique({ where: { orgId_emailLower: { orgId: this.orgId, emailLower: normaliseEmail(email) } } });
    return row && fromRow(row);
  }
  async findByIdentity(idpId: string, nameId: string) {
    const link = await this.db.userIdentity.findUnique({ where: { orgId_idpId_nameId: { orgId: this.orgId, idpId, nameId } }, include: { user: true } });
    return link && link.user.orgId === this.orgId ? fromRow(link.user) : null;
  }
  async link(userId: string, idpId: string, nameId: string) {
    await this.db.userIdentity.upsert({
      where: { orgId_idpId_nameId: { orgId: this.orgId, idpId, nameId } },
      create: { orgId: this.orgId, userId, idpId, nameId },
      update: {},
    });
  }
  async list(opts: { search?: string; skip?: number; take?: number } = {}) {
    const q = opts.search?.trim();
    const where = {
      orgId: this.orgId,
      ...(q && { OR: [{ emailLower: { startsWith: q.toLowerCase() } }, { firstName: { startsWith: q } }, { lastName: { startsWith: q } }] }),
    };
    const rows = await this.db.user.findMany({ where, orderBy: { emailLower: 'asc' }, skip: opts.skip ?? 0, take: Math.min(opts.take ?? 50, 500) });
    return rows.map(fromRow);
  }
  count() {
    return this.db.user.count({ where: { orgId: this.orgId } });
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
      where: { orgId: this.orgId, status: 'active', createdAt: { lt: opts.createdBefore }, ...(opts.afterId !== undefined && { id: { gt: opts.afterId } }) },
      orderBy: { id: 'asc' },
      take: opts.take,
      select: { id: true, emailLower: true },
    });
  }
  async delete(id: string) {
    await this.db.user.delete({ where: { id, orgId: this.orgId } });
  }
}
