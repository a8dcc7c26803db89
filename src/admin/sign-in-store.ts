// What the console sign-in (admin-auth.ts, admin-lockout.ts, admin-totp.ts's code check) needs of a store: accounts
// with a password, an optional sealed TOTP factor and a lockout count; sessions; an audit log; one-time-use records.
// An organisation's TenantStore is one (its admins); the platform's store (store/platform.ts) is another (its
// operators), so that operators sign in through the very same code. `orgId` scopes the sealed tickets and factors.
import type { AdminRow } from '../store/admins.ts';
import type { AuditInput } from '../store/audit.ts';
import type { OneTimeUseStore } from '../store/one-time-use.ts';

export type SignInAccount = Pick<
  AdminRow,
  'id' | 'email' | 'passwordHash' | 'totpSecretEnc' | 'failedLogins' | 'lockedUntil' | 'mustChangePassword'
>;
type AccountUpdate = Partial<
  Pick<
    AdminRow,
    'failedLogins' | 'lockedUntil' | 'lastLoginAt' | 'totpSecretEnc' | 'passwordHash' | 'mustChangePassword'
  >
>;

export interface SignInStore<A extends SignInAccount = AdminRow> {
  orgId: string;
  admins: {
    findByEmail(email: string): Promise<A | null>;
    findById(id: string): Promise<A | null>;
    update(id: string, data: AccountUpdate): Promise<unknown>;
    recordFailedLogin(id: string): Promise<number>;
  };
  adminSessions: {
    create(data: { id: string; adminId: string; csrfToken: string; expiresAt: Date }): Promise<unknown>;
    findActive(id: string, now: Date): Promise<{ id: string; adminId: string; csrfToken: string } | null>;
  };
  audit: { record(e: AuditInput): Promise<void> };
  oneTimeUse: OneTimeUseStore;
}
