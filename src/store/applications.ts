// Downstream apps of one organisation (SAML Service Providers; we are their Identity Provider).
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';

type Row = Awaited<ReturnType<Db['application']['findUniqueOrThrow']>>;
export type NameIdFormat = 'emailAddress' | 'persistent' | 'unspecified';

export interface Application extends Omit<Row, 'acsUrls' | 'attributeRelease' | 'policy' | 'nameIdFormat'> {
  acsUrls: string[];
  attributeRelease: string[];
  policy: unknown[];
  nameIdFormat: NameIdFormat;
}

export type ApplicationInput = Partial<Omit<Application, 'id' | 'orgId' | 'createdAt' | 'updatedAt'>>;

const fromRow = (row: Row): Application => ({
  ...row,
  acsUrls: parseJson<string[]>(row.acsUrls, []),
  attributeRelease: parseJson<string[]>(row.attributeRelease, []),
  policy: parseJson<unknown[]>(row.policy, []),
  nameIdFormat: row.nameIdFormat as NameIdFormat,
});

const toRow = (input: ApplicationInput) => {
  const { acsUrls, attributeRelease, policy, ...rest } = input;
  return {
    ...rest,
    ...(acsUrls !== undefined && { acsUrls: toJson(acsUrls) }),
    ...(attributeRelease !== undefined && { attributeRelease: toJson(attributeRelease) }),
    ...(policy !== undefined && { policy: toJson(policy) }),
  };
};

export class ApplicationRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  async create(input: ApplicationInput & Pick<Application, 'name' | 'entityId' | 'acsUrls'>) {
    return fromRow(
      await this.db.application.create({
        data: { ...toRow(input), name: input.name, entityId: input.entityId, orgId: this.orgId },
      }),
    );
  }
  async update(id: string, input: ApplicationInput) {
    return fromRow(await this.db.application.update({ where: { id, orgId: this.orgId }, data: toRow(input) }));
  }
  async findById(id: string) {
    const row = await this.db.application.findFirst({ where: { id, orgId: this.orgId } });
    return row && fromRow(row);
  }
  async findByEntityId(entityId: string) {
    const row = await this.db.application.findUnique({ where: { orgId_entityId: { orgId: this.orgId, entityId } } });
    return row && fromRow(row);
  }
  async list() {
    return (await this.db.application.findMany({ where: { orgId: this.orgId }, orderBy: { name: 'asc' } })).map(
      fromRow,
    );
  }
  async delete(id: string) {
    await this.db.application.delete({ where: { id, orgId: this.orgId } });
  }
}
