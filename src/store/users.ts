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
  async delete(id: string) {
    await this.db.user.delete({ where: { id, orgId: this.orgId } });
  }
}
