// Upstream identity providers of one organisation (we are their Service Provider).
import type { Db } from './database.ts';
import { parseJson, toJson } from './json.ts';

type Row = Awaited<ReturnType<Db['identityProvider']['findUniqueOrThrow']>>;
export type MappingPreset = 'okta' | 'wso2' | 'adfs' | 'custom';
export type CanonicalField = 'email' | 'firstName' | 'lastName' | 'groups';

export interface IdentityProvider extends Omit<Row, 'certificates' | 'attributeMapping' | 'ssoBinding' | 'mappingPreset'> {
  certificates: string[];
  attributeMapping: Partial<Record<CanonicalField, string>>;
  ssoBinding: 'redirect' | 'post';
  mappingPreset: MappingPreset;
}

export type IdentityProviderInput = Partial<Omit<IdentityProvider, 'id' | 'orgId' | 'createdAt' | 'updatedAt'>>;

const fromRow = (row: Row): IdentityProvider => ({
  ...row,
  certificates: parseJson<string[]>(row.certificates, []),
  attributeMapping: parseJson(row.attributeMapping, {}),
  ssoBinding: row.ssoBinding === 'post' ? 'post' : 'redirect',
  mappingPreset: row.mappingPreset as MappingPreset,
});

const toRow = (input: IdentityProviderInput) => {
  const { certificates, attributeMapping, ...rest } = input;
  return {
    ...rest,
    ...(certificates !== undefined && { certificates: toJson(certificates) }),
    ...(attributeMapping !== undefined && { attributeMapping: toJson(attributeMapping) }),
  };
};

export class IdentityProviderRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  async create(input: IdentityProviderInput & Pick<IdentityProvider, 'name' | 'entityId' | 'ssoUrl'>) {
    return fromRow(await this.db.identityProvider.create({ data: { ...toRow(input), name: input.name, entityId: input.entityId, ssoUrl: input.ssoUrl, orgId: this.orgId } }));
  }
  async update(id: string, input: IdentityProviderInput) {
    return fromRow(await this.db.identityProvider.update({ where: { id, orgId: this.orgId }, data: toRow(input) }));
  }
  async findById(id: string) {
    const row = await this.db.identityProvider.findFirst({ where: { id, orgId: this.orgId } });
    return row && fromRow(row);
  }
  async findByEntityId(entityId: string) {
    const row = await this.db.identityProvider.findUnique({ where: { orgId_entityId: { orgId: this.orgId, entityId } } });
    return row && fromRow(row);
  }
  async list(opts: { enabledOnly?: boolean } = {}) {
    const rows = await this.db.identityProvider.findMany({ where: { orgId: this.orgId, ...(opts.enabledOnly && { enabled: true }) }, orderBy: { name: 'asc' } });
    return rows.map(fromRow);
  }
  async delete(id: string) {
    await this.db.identityProvider.delete({ where: { id, orgId: this.orgId } });
  }
}
