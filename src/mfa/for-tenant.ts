// The TOTP service and remembered devices of one organisation, with its settings and the operator's lockout.
import type { AppContext } from '../context.ts';
import type { Organization } from '../store/organizations.ts';
import type { TenantStore } from '../store/store.ts';
import { RememberedDevices } from './remembered-devices.ts';
import { TotpService, type TotpAlgorithm } from './totp-service.ts';
import { relyingPartyOf, WebAuthnService, type WebAuthnCounterPolicy } from './webauthn-service.ts';

export function totpFor(ctx: AppContext, org: Organization, store: TenantStore) {
  return new TotpService(store, ctx.box, ctx.clock, {
    digits: org.totpDigits,
    period: org.totpPeriod,
    algorithm: org.totpAlgorithm as TotpAlgorithm,
    issuer: org.name,
    lockoutThreshold: ctx.config.mfaLockoutThreshold,
    lockoutSeconds: ctx.config.mfaLockoutSeconds,
  });
}

export const devicesFor = (ctx: AppContext, store: TenantStore) =>
  new RememberedDevices(store, ctx.deviceKey, ctx.clock);

/** Passkeys of one organisation: the relying party is its own host (`baseUrl`, from orgs/urls.ts). */
export const webauthnFor = (ctx: AppContext, org: Organization, store: TenantStore, baseUrl: string) =>
  new WebAuthnService(
    store,
    ctx.clock,
    relyingPartyOf(baseUrl, org.name),
    org.webauthnCounterPolicy as WebAuthnCounterPolicy,
  );
