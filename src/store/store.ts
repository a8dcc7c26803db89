// The data layer's front door. Tenant-owned data is reached only through `forOrg(orgId)`, whose repositories
// carry the orgId in every query: code holding one organisation's repositories cannot name another's rows.
import type { Db, OpenDatabase } from './engine/database.ts';
import { PrismaRunner, type SqlRunner } from './engine/sql.ts';
import { OrganizationRepository } from './organizations.ts';
import { SigningKeyRepository } from './signing-keys.ts';
import { IdentityProviderRepository } from './identity-providers.ts';
import { ApplicationRepository } from './applications.ts';
import { UserRepository } from './users.ts';
import { AdminRepository } from './admins.ts';
import { AuditRepository } from './audit.ts';
import { OneTimeUseRepository, type OneTimeUseStore } from './one-time-use.ts';
import { LoginFlowRepository, type LoginFlowStore } from './login-flows.ts';
import { BrokerSessionRepository } from './broker-sessions.ts';
import { AdminSessionRepository } from './admin-sessions.ts';
import { RememberedDeviceRepository, TotpFactorRepository } from './totp-factors.ts';
import { ImportJobRepository } from './import-jobs.ts';
import { WebAuthnCredentialRepository } from './webauthn-credentials.ts';
import { ApiTokenRepository } from './api-tokens.ts';
import { ScimRepository, ScimTokenRepository } from './scim.ts';
import { UserBulkSql } from './user-bulk.ts';
import { cachedRepository, ConfigCache } from './engine/config-cache.ts';
import type { RedisRecords } from './redis/redis-records.ts';
import { RedisLoginFlowRepository } from './redis/redis-login-flows.ts';
import { platformStore, type PlatformStore } from './platform.ts';
import { SystemRepository } from './system.ts';

export interface TenantStore {
  orgId: string;
  signingKeys: SigningKeyRepository;
  identityProviders: IdentityProviderRepository;
  applications: ApplicationRepository;
  users: UserRepository;
  /** the user import's batch statements */
  userBulk: UserBulkSql;
  admins: AdminRepository;
  audit: AuditRepository;
  oneTimeUse: OneTimeUseStore;
  flows: LoginFlowStore;
  sessions: BrokerSessionRepository;
  adminSessions: AdminSessionRepository;
  totp: TotpFactorRepository;
  devices: RememberedDeviceRepository;
  webauthn: WebAuthnCredentialRepository;
  importJobs: ImportJobRepository;
  apiTokens: ApiTokenRepository;
  scimTokens: ScimTokenRepository;
  scim: ScimRepository;
}

/** `redis`: where login flows live when REDIS_URL is set; the database otherwise. One-time-use records (assertion
 *  IDs, TOTP steps, logout request IDs) are always in the database: they must outlive a Redis restart, or a message
 *  accepted before it would be accepted again. */
export function tenantStore(
  db: Db,
  sql: SqlRunner,
  orgId: string,
  cache: ConfigCache = NO_CACHE,
  redis?: RedisRecords,
): TenantStore {
  if (!orgId) throw new Error('tenantStore needs an orgId');
  return {
    orgId,
    // The configuration a login reads several times goes through the process's cache (see config-cache.ts).
    signingKeys: cachedRepository(new SigningKeyRepository(db, orgId), cache, `${orgId}:keys`, [
      'active',
      'published',
      'list',
    ]),
    identityProviders: cachedRepository(new IdentityProviderRepository(db, orgId), cache, `${orgId}:idps`, [
      'findById',
      'findByEntityId',
      'list',
    ]),
    applications: cachedRepository(new ApplicationRepository(db, orgId), cache, `${orgId}:apps`, [
      'findById',
      'findByEntityId',
      'list',
    ]),
    users: new UserRepository(db, sql, orgId),
    userBulk: new UserBulkSql(db, orgId, sql.dialect),
    admins: new AdminRepository(db, orgId),
    audit: new AuditRepository(db, sql, orgId),
    oneTimeUse: new OneTimeUseRepository(db, sql, orgId),
    flows: redis ? new RedisLoginFlowRepository(redis, orgId) : new LoginFlowRepository(db, sql, orgId),
    sessions: new BrokerSessionRepository(db, sql, orgId),
    adminSessions: new AdminSessionRepository(db, orgId),
    totp: new TotpFactorRepository(db, sql, orgId),
    devices: new RememberedDeviceRepository(db, sql, orgId),
    webauthn: new WebAuthnCredentialRepository(db, orgId),
    importJobs: new ImportJobRepository(db, orgId, sql.dialect),
    apiTokens: new ApiTokenRepository(db, orgId),
    scimTokens: new ScimTokenRepository(db, orgId),
    scim: new ScimRepository(db, orgId),
  };
}

const NO_CACHE = new ConfigCache(0);

export class Store {
  readonly organizations: OrganizationRepository;
  /** operators, their sessions and the platform audit log (no organisation's) */
  readonly platform: PlatformStore;
  /** the operations that span every organisation (purge, due refreshes and key promotions, pending migrations) */
  readonly system: SystemRepository;
  /** `sql`: the same database through its driver (sql.ts); `cache`: the process's configuration cache (a store
   *  without one always reads the database); `redis`: the login flows' home when REDIS_URL is set. */
  constructor(
    readonly db: Db,
    readonly sql: SqlRunner,
    readonly cache: ConfigCache = NO_CACHE,
    readonly closeDatabase = () => db.$disconnect(),
    readonly redis?: RedisRecords,
  ) {
    this.organizations = cachedRepository(new OrganizationRepository(db), cache, 'orgs', [
      'findBySlug',
      'findById',
      'logo',
    ]);
    this.platform = platformStore(db, sql);
    this.system = new SystemRepository(db, sql.dialect);
  }
  static open(database: OpenDatabase, cache?: ConfigCache, redis?: RedisRecords) {
    return new Store(database.db, database.sql, cache, database.close, redis);
  }
  /** A store bound to an open Prisma transaction: hand-written statements run through it too (login flows kept in
   *  Redis are not part of the transaction). */
  static inTransaction(tx: Db, dialect: SqlRunner['dialect'], redis?: RedisRecords) {
    return new Store(tx, new PrismaRunner(tx, dialect), NO_CACHE, () => tx.$disconnect(), redis);
  }
  // Repositories hold nothing but (database, organisation): one set per organisation serves every request.
  private readonly tenants = new Map<string, TenantStore>();
  forOrg(orgId: string): TenantStore {
    let tenant = this.tenants.get(orgId);
    if (!tenant) {
      if (this.tenants.size >= 10_000) this.tenants.clear();
      tenant = tenantStore(this.db, this.sql, orgId, this.cache, this.redis);
      this.tenants.set(orgId, tenant);
    }
    return tenant;
  }
  /** Runs `work` in one database transaction with a store bound to it. Reads inside it bypass the cache (they must
   *  see the transaction's own writes); the cache is emptied once it commits. `work` must use only `tx`: on SQLite
   *  any other statement waits for the transaction to end (sqlite-transaction-gate.ts). */
  async transaction<T>(work: (tx: Store) => Promise<T>, limits?: { maxWaitMs: number; timeoutMs: number }): Promise<T> {
    const options = limits && { maxWait: limits.maxWaitMs, timeout: limits.timeoutMs };
    try {
      return await this.db.$transaction(
        (tx) => work(Store.inTransaction(tx as unknown as Db, this.sql.dialect, this.redis)),
        options,
      );
    } finally {
      this.cache.clear();
    }
  }
  async ping() {
    await this.db.$queryRawUnsafe('SELECT 1');
  }
  async close() {
    await Promise.all([this.closeDatabase(), this.redis?.close()]);
  }
}
