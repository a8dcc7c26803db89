// A first login from an IdP that its linking rules do not allow (see resolve-user.ts). One stable code for the
// person and the app (`link_refused`), a reason for admins (audit, metrics), and a message that says what to do.
// The message names only this login's IdP, the IdP that owns the address's domain (organisation configuration,
// not user data) and the address's domain: never whether or how another user is linked.
import { AppError } from '../errors.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';

export type LinkRefusalReason =
  /** the IdP's mode is `never` and a directory user already has this address */
  | 'mode_never'
  /** `verified-domains`: the address's domain is not among this IdP's domains */
  | 'domain_not_owned'
  /** `verified-domains`: the user already has a link to another IdP, or to this IdP with another NameID */
  | 'other_idp'
  /** just-in-time creation of an address whose domain another IdP of the organisation owns */
  | 'domain_owned_by_other_idp'
  /** the address has no domain that ownership could be checked against */
  | 'email_domain_invalid';

export const LINK_REFUSAL_REASONS: readonly LinkRefusalReason[] = [
  'mode_never',
  'domain_not_owned',
  'other_idp',
  'domain_owned_by_other_idp',
  'email_domain_invalid',
];

export class LinkRefusal extends AppError {
  constructor(
    readonly reason: LinkRefusalReason,
    /** the IdP's linking mode at the time (for the audit line) */
    readonly mode: IdentityProvider['linkingMode'],
    message: string,
    /** the existing directory user the login would have been linked to: for the audit log only, never shown */
    readonly existingUserId: string | null,
  ) {
    super('link_refused', message, { reason });
    this.name = 'LinkRefusal';
  }
}

const ASK = 'Ask your administrator to link your account to this identity provider.';

/** The refusal for `reason`, worded for the person signing in. `owner`: the IdP of the organisation that owns the
 *  address's domain, if any (named so the person knows where to sign in instead). */
export function linkRefusal(
  reason: LinkRefusalReason,
  at: { idp: IdentityProvider; domain: string | null; owner: IdentityProvider | null; existingUserId: string | null },
): LinkRefusal {
  const via = `“${at.idp.name}”`;
  const elsewhere = at.owner
    ? ` Addresses at ${at.domain} sign in through “${at.owner.name}”: use that one, or ${ASK.charAt(0).toLowerCase()}${ASK.slice(1)}`
    : ` ${ASK}`;
  const messages: Record<LinkRefusalReason, string> = {
    mode_never: `Your sign-in through ${via} cannot be connected to an existing account of this organisation: this identity provider may not link accounts by email address. ${ASK}`,
    domain_not_owned: `Your sign-in through ${via} cannot be connected to an account for this email address: ${via} is not registered as the identity provider for ${at.domain ?? 'its domain'}.${elsewhere}`,
    other_idp: `Your sign-in through ${via} cannot be connected to the account for this email address, because that account already signs in another way. Sign in as you usually do, or ${ASK.charAt(0).toLowerCase()}${ASK.slice(1)}`,
    domain_owned_by_other_idp: `No account can be created for you through ${via}: addresses at ${at.domain} belong to another identity provider of this organisation.${elsewhere}`,
    email_domain_invalid: `Your sign-in through ${via} cannot be connected to an account: the email address it sent has no domain this organisation can check. Ask your administrator to check the attribute mapping.`,
  };
  return new LinkRefusal(reason, at.idp.linkingMode, messages[reason], at.existingUserId);
}
