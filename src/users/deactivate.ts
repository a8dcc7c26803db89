// Disabling a user, wherever it is decided (an admin in the console, API or CLI; a customer's directory over SCIM):
// the status changes, and what would let them in without asking the IdP again ends at once: their broker sessions
// and remembered devices. The second factor stays, so a user enabled again keeps it.
import type { TenantStore } from '../store/store.ts';

export async function deactivateUser(
  store: TenantStore,
  userId: string,
  now: Date,
): Promise<{ sessionsEnded: number; devicesRevoked: number }> {
  await store.users.update(userId, { status: 'disabled' });
  const sessionsEnded = await store.sessions.endForUser(userId, now);
  const devicesRevoked = await store.devices.revoke(userId, null, now);
  return { sessionsEnded, devicesRevoked };
}
