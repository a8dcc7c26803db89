// The data layer's front door. Tenant-owned data is reached only through `forOrg(orgId)`, whose repositories
// carry the orgId in every query: code holding one organisation's repositories cannot name another's rows.
import type { Db } from './database.ts';
import { OrganizationRepository } from './organizations.ts';
import { SigningKeyRepository } from './signing-keys.ts';
import { IdentityProviderRepository } from './identity-providers.ts';
import { ApplicationRepository } from './applications.ts';
import { UserRepository } from './users.ts';
import { AdminRepository } from './admins.ts';
import { AuditRepository } from './audit.ts';
import { OneTimeUseRepository } from './one-time-use.ts';
import { LoginFlowRepository } from './login-flows.ts';
import { BrokerSessionRepository } from './broker-sessions.ts';
import { AdminSessionRepository } from './admin-sessions.ts';
import { RememberedDeviceRepository, TotpFactorRepository } from './totp-factors.ts';
import { ImportJobRepository } from './import-jobs.ts';
import { ApiTokenRepository } from './api-tokens.ts';

export interface TenantStore {
  orgId: string;
  signingKeys: SigningKeyRepository;
  identityProviders: IdentityProviderRepository;
  applications: ApplicationRepository;
  users: UserRepository;
  admins: AdminRepository;
  audit: AuditRepository;
  oneTimeUse: OneTimeUseRepository;
  flows: LoginFlowRepository;
  sessions: BrokerSessionRepository;
  adminSessions: AdminSessionRepository;
  totp: TotpFactorRepository;
  devices: RememberedDeviceRepository;
  importJobs: ImportJobRepository;
  apiTokens: ApiTokenRepository;
}

export function tenantStore(db: Db, orgId: string): TenantStore {
  if (!orgId) throw new Error('tenantStore needs an orgId');
  return {
    orgId,
    signingKeys: new SigningKeyRepository(db, orgId),
    identityProviders: new IdentityProviderRepository(db, orgId),
    applications: new ApplicationRepository(db, orgId),
    users: new UserRepository(db, orgId),
    admins: new AdminRepository(db, orgId),
    audit: new AuditRepository(db, orgId),
    oneTimeUse: new OneTimeUseRepository(db, orgId),
    flows: new LoginFlowRepository(db, orgId),
    sessions: new BrokerSessionRepository(db, orgId),
    adminSessions: new AdminSessionRepository(db, orgId),
    totp: new TotpFactorRepository(db, orgId),
    devices: new RememberedDeviceRepository(db, orgId),
    importJobs: new ImportJobRepository(db, orgId),
    apiTokens: new ApiTokenRepository(db, orgId),
  };
}

export class Store {
  readonly organizations: OrganizationRepository;
  constructor(readonly db: Db) {
    this.organizations = new OrganizationRepository(db);
  }
  forOrg(orgId: string): TenantStore {
    return tenantStore(this.db, orgId);
  }
  /** Runs `work` in one database transaction with a store bound to it. */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    return this.db.$transaction((tx) => work(new Store(tx as unknown as Db)));
  }
  async ping() {
    await this.db.$queryRawUnsafe('SELECT 1');
  }
  close() {
    return this.db.$disconnect();
  }
}
