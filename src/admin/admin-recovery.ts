// The operator's way back in for an admin who lost their password or their authenticator: a new one-time
// password (replaced at the next sign-in), the admin's TOTP removed, the lockout cleared and every open console
// session of that admin ended. Run from the CLI, which only someone with access to the deployment can use.
import type { Clock } from '../clock.ts';
import { ValidationError } from '../errors.ts';
import { generatePassword, hashPassword } from '../orgs/passwords.ts';
import type { TenantStore } from '../store/store.ts';

export async function resetAdminAccess(
  store: TenantStore,
  clock: Clock,
  email: string,
  actor: string,
): Promise<{ email: string; password: string }> {
  const admin = await store.admins.findByEmail(email);
  if (!admin) throw new ValidationError({ email: 'is not an admin of this organisation' });
  const password = generatePassword();
  await store.admins.update(admin.id, {
    passwordHash: await hashPassword(password),
    mustChangePassword: true,
    totpSecretEnc: null,
    failedLogins: 0,
    lockedUntil: null,
  });
  await store.adminSessions.deleteForAdmin(admin.id);
  await store.audit.record({
    type: 'admin.access_reset',
    actor,
    at: clock.now(),
    details: { admin: admin.email, totpRemoved: !!admin.totpSecretEnc },
  });
  return { email: admin.email, password };
}
