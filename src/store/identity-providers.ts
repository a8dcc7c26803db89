// Upstream identity providers of one organisation (we are their Service Provider).
import type { Db } from './engine/database.ts';
import { parseJson, toJson } from './engine/json.ts';

type Row = Awaited<ReturnType<Db['identityProvider']['findUniqueOrThrow']>>;
export type MappingPreset =
  'okta' | 'wso2' | 'adfs' | 'custom' | 'oidc-entra' | 'oidc-google' | 'oidc-okta' | 'oidc-keycloak';
/** The protocol the broker speaks to an upstream IdP (src/broker/upstream/registry.ts picks its implementation). */
export type UpstreamProtocolName = 'saml' | 'oidc';
export type OidcClientAuth = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
export const OIDC_CLIENT_AUTHS: readonly OidcClientAuth[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
];
export type CanonicalField = 'email' | 'firstName' | 'lastName' | 'groups';
/** How a first login from this IdP may be linked to an existing directory user (see src/users/resolve-user.ts). */
export type LinkingMode = 'never' | 'verified-domains' | 'any-email';
export const LINKING_MODES: readonly LinkingMode[] = ['never', 'verified-domains', 'any-email'];

export interface IdentityProvider extends Omit<
  Row,
  | 'certificates'
  | 'attributeMapping'
  | 'ssoBinding'
  | 'mappingPreset'
  | 'emailDomains'
  | 'linkingMode'
  | 'protocol'
  | 'oidcClientAuth'
> {
  protocol: UpstreamProtocolName;
  oidcClientAuth: OidcClientAuth;
  certificates: string[];
  /** lower-case domains this IdP is authoritative for; "*.example.com" covers example.com's subdomains */
  emailDomains: string[];
  linkingMode: LinkingMode;
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
  emailDomains: parseJson<string[]>(row.emailDomains, []),
  linkingMode: (LINKING_MODES as readonly string[]).includes(row.linkingMode)
    ? (row.linkingMode as LinkingMode)
    : 'never',
  protocol: row.protocol === 'oidc' ? 'oidc' : 'saml',
  oidcClientAuth: (OIDC_CLIENT_AUTHS as readonly string[]).includes(row.oidcClientAuth)
    ? (row.oidcClientAuth as OidcClientAuth)
    : 'client_secret_basic',
});

const toRow = (input: IdentityProviderInput) => {
  const { certificates, attributeMapping, emailDomains, ...rest } = input;
  return {
    ...rest,
    ...(emailDomains !== undefined && { emailDomains: toJson(emailDomains) }),
    ...(certificates !== undefined && { certificates: toJson(certificates) }),
    ...(attributeMapping !== undefined && { attributeMapping: toJson(attributeMapping) }),
  };
};

/** Maintenance query across organisations (like the purge): enabled IdPs registered by metadata URL whose refresh is
 *  due, the longest-waiting first. Each one is then claimed and updated through its own organisation's store. */
export async function findDueMetadataRefreshes(db: Db, now: Date, limit: number): Promise<IdentityProvider[]> {
  const rows = await db.identityProvider.findMany({
    where: {
      enabled: true,
      AND: [{ metadataUrl: { not: null } }, { metadataUrl: { not: '' } }],
      OR: [{ metadataRefreshAt: null }, { metadataRefreshAt: { lte: now } }],
    },
    orderBy: [{ metadataRefreshAt: { sort: 'asc', nulls: 'first' } }, { id: 'asc' }],
    take: limit,
  });
  return rows.map(fromRow);
}

export class IdentityProviderRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  async create(input: IdentityProviderInput & Pick<IdentityProvider, 'name' | 'entityId' | 'ssoUrl'>) {
    return fromRow(
      await this.db.identityProvider.create({
        data: { ...toRow(input), name: input.name, entityId: input.entityId, ssoUrl: input.ssoUrl, orgId: this.orgId },
      }),
    );
  }
  async update(id: string, input: IdentityProviderInput) {
    return fromRow(await this.db.identityProvider.update({ where: { id, orgId: this.orgId }, data: toRow(input) }));
  }
  async findById(id: string) {
    const row = await this.db.identityProvider.findFirst({ where: { id, orgId: this.orgId } });
    return row && fromRow(row);
  }
  async findByEntityId(entityId: string) {
    const row = await this.db.identityProvider.findUnique({
      where: { orgId_entityId: { orgId: this.orgId, entityId } },
    });
    return row && fromRow(row);
  }
  /** Takes the metadata refresh of one IdP for this node: moves metadataRefreshAt from the value the caller saw to
   *  `until` (a lease), in one conditional update. Of several nodes that saw the IdP due, exactly one gets true. */
  async claimMetadataRefresh(id: string, seen: Date | null, until: Date): Promise<boolean> {
    const { count } = await this.db.identityProvider.updateMany({
      where: { id, orgId: this.orgId, metadataRefreshAt: seen },
      data: { metadataRefreshAt: until },
    });
    return count === 1;
  }
  /** Writes a refresh's result only while the claim (`claimedUntil`) still holds: if an admin reset the schedule or
   *  another refresh took over meanwhile, nothing is written and false is returned. */
  async completeMetadataRefresh(id: string, claimedUntil: Date, input: IdentityProviderInput): Promise<boolean> {
    const { count } = await this.db.identityProvider.updateMany({
      where: { id, orgId: this.orgId, metadataRefreshAt: claimedUntil },
      data: toRow(input),
    });
    return count === 1;
  }
  async list(opts: { enabledOnly?: boolean } = {}) {
    const rows = await this.db.identityProvider.findMany({
      where: { orgId: this.orgId, ...(opts.enabledOnly && { enabled: true }) },
      orderBy: { name: 'asc' },
    });
    return rows.map(fromRow);
  }
  async delete(id: string) {
    await this.db.identityProvider.delete({ where: { id, orgId: this.orgId } });
  }
  /** Removes the IdP with what only it gave meaning to: its users' identity links (if it is added back, their
   *  first logins go through its linking rules again, see resolve-user.ts) and the broker sessions it signed in (ended at `at`). Run it inside a transaction. */
  async deleteWithDependents(id: string, at: Date): Promise<{ identityLinks: number; sessionsEnded: number }> {
    const identityLinks = (await this.db.userIdentity.deleteMany({ where: { orgId: this.orgId, idpId: id } })).count;
    const sessionsEnded = (
      await this.db.brokerSession.updateMany({
        where: { orgId: this.orgId, idpId: id, endedAt: null },
        data: { endedAt: at },
      })
    ).count;
    await this.db.identityProvider.delete({ where: { id, orgId: this.orgId } });
    return { identityLinks, sessionsEnded };
  }
  /** How many directory users have signed in through this IdP (identity links). */
  countLinkedUsers(id: string) {
    return this.db.userIdentity.count({ where: { orgId: this.orgId, idpId: id } });
  }
}
