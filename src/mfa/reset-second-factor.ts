// An administrator's or the helpdesk's "reset second factor" (console, API, CLI): everything that could pass the
// second factor goes, so that a user who lost both phone and key, or whose factor may be in someone else's hands,
// starts again from nothing at the next login: the authenticator app (active or pending), every passkey and security
// key, the recovery codes, and the remembered devices. The audit line says what was removed (names of the passkeys,
// not their keys), so the helpdesk can tell the user and a later review can see what the reset took away.
import type { Clock } from '../clock.ts';
import type { TenantStore } from '../store/store.ts';

export interface SecondFactorRemoved {
  authenticatorApp: 'active' | 'pending' | null;
  passkeys: { id: string; name: string }[];
  recoveryCodes: number;
  rememberedDevices: number;
}

export async function resetSecondFactor(
  store: TenantStore,
  clock: Clock,
  userId: string,
  actor: string,
): Promise<SecondFactorRemoved> {
  const [factor, passkeys, recoveryCodes] = await Promise.all([
    store.totp.find(userId),
    store.webauthn.list(userId),
    store.totp.unusedRecoveryCodes(userId),
  ]);
  const now = clock.now();
  await store.totp.deleteAll(userId); // the factor and every recovery code, used or not
  await store.webauthn.removeAll(userId);
  const rememberedDevices = await store.devices.revoke(userId, null, now);
  const removed: SecondFactorRemoved = {
    authenticatorApp: factor ? (factor.status === 'active' ? 'active' : 'pending') : null,
    passkeys: passkeys.map((c) => ({ id: c.id, name: c.name })),
    recoveryCodes: recoveryCodes.length,
    rememberedDevices,
  };
  await store.audit.record({ type: 'mfa.reset', actor, userId, at: now, details: { removed } });
  return removed;
}
