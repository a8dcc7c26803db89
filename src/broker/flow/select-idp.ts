// Stage `idp_selected`: which upstream IdP a login goes to. In order: the `idp` parameter (an IdP id or entity ID),
// the app's primary IdP, the organisation's only IdP, the IdP that owns the domain of a login hint (home-realm
// discovery: an email from the app's request or typed on the chooser); else the user chooses. Only this
// organisation's enabled IdPs are ever candidates, whatever a parameter or a hint says. A hint only picks an IdP:
// who signs in is decided by that IdP's assertion, never by the hint.
import type { Tenant } from '../../plugins/tenant.ts';
import type { Application } from '../../store/applications.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { AppError } from '../../errors.ts';
import { emailDomain, ownerOfEmail } from '../../orgs/remote/email-domains.ts';

export type IdpChoice = { idp: IdentityProvider } | { choices: IdentityProvider[] };

export interface IdpHints {
  /** `?idp=`: an IdP id or entity ID */
  idp?: string;
  /** an email address: the app's login hint, or what the user typed on the chooser */
  email?: string;
}

/** Email addresses are at most 254 characters (RFC 5321); anything longer is not a hint worth reading. */
export const MAX_LOGIN_HINT = 254;

/** The local part of an address as people type it: no spaces, controls, quotes or angle brackets (quoted local
 *  parts are legal but no work address uses them, and a hint that is not plainly an address is better ignored). */
const LOCAL_PART = /^[^\s\x00-\x1f\x7f"<>@]+$/;

/** A login hint as received (query, form, AuthnRequest Subject), or undefined when it cannot be an address. */
export function loginHint(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const hint = value.trim();
  if (!hint || hint.length > MAX_LOGIN_HINT || !emailDomain(hint)) return undefined;
  return LOCAL_PART.test(hint.slice(0, hint.lastIndexOf('@'))) ? hint : undefined;
}

export async function enabledIdps(tenant: Tenant): Promise<IdentityProvider[]> {
  const enabled = await tenant.store.identityProviders.list({ enabledOnly: true });
  if (!enabled.length)
    throw new AppError(
      'no_identity_provider',
      `${tenant.org.name} has no identity provider configured yet. Ask your administrator.`,
    );
  return enabled;
}

/** `app`: null for a sign-in to the account page, which has no primary IdP. */
export async function selectIdp(tenant: Tenant, app: Application | null, hints: IdpHints = {}): Promise<IdpChoice> {
  const enabled = await enabledIdps(tenant);
  if (hints.idp) {
    const hinted = enabled.find((i) => i.id === hints.idp || i.entityId === hints.idp);
    if (hinted) return { idp: hinted };
  }
  const primary = app?.primaryIdpId ? enabled.find((i) => i.id === app.primaryIdpId) : undefined;
  if (primary) return { idp: primary };
  if (enabled.length === 1) return { idp: enabled[0] };
  const owner = ownerOfEmail(enabled, hints.email);
  if (owner) return { idp: owner };
  return { choices: enabled };
}

/** Home-realm discovery on the chooser: the enabled IdP that owns a typed address, or the note to show with the
 *  list again (and the address to keep in the field). */
export function discover(
  enabled: IdentityProvider[],
  typed: string,
): { idp: IdentityProvider } | { note: string; shown: string } {
  const email = loginHint(typed);
  const owner = ownerOfEmail(enabled, email);
  if (owner) return { idp: owner };
  const shown = typed.trim().slice(0, MAX_LOGIN_HINT);
  return {
    shown,
    note: email
      ? `No sign-in option is set up for ${emailDomain(email)}; choose one below.`
      : 'Enter an email address like name@example.com, or choose one below.',
  };
}
