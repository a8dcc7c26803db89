// Turns a verified upstream assertion into the canonical profile (email, first name, last name, groups) through
// the IdP's mapping. Attribute names are matched exactly; values are trimmed and bounded in length.
import { AppError } from '../../errors.ts';
import { ATTRIBUTE_PRESETS } from '../../orgs/remote/attribute-presets.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { NAMEID_FORMATS } from '../../saml/metadata.ts';

export interface Profile {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  groups: string[];
  /** the IdP said the email is not verified (OpenID Connect email_verified: false): it may not link nor create */
  emailUnverified?: true;
}

/** The most groups one sign-in may carry (a bound on memory, flow and audit size). Past it the sign-in is refused,
 *  never cut short: a cut list could drop the very group an app policy's deny rule names. (Names longer than 256
 *  characters are dropped, which is safe: a policy cannot name such a group, src/policy/rules.ts.) */
export const MAX_PROFILE_GROUPS = 500;

/** An upstream login whose claims the profile cannot hold faithfully (SAML or OIDC alike). */
export class ProfileError extends AppError {
  constructor(
    code: 'upstream_too_many_groups',
    message: string,
    public readonly diagnosis: Record<string, unknown> = {},
  ) {
    super(code, message);
    this.name = 'ProfileError';
  }
}

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
const first = (values: string[] | undefined) => values?.map((v) => v.trim()).find((v) => v.length > 0) ?? null;
const bounded = (v: string | null, max = 256) => (v && v.length <= max ? v : null);

export function mapProfile(
  idp: Pick<IdentityProvider, 'mappingPreset' | 'attributeMapping'>,
  assertion: { nameId: string; nameIdFormat?: string; attributes: Record<string, string[]> },
): Profile {
  const mapping = { ...ATTRIBUTE_PRESETS[idp.mappingPreset], ...idp.attributeMapping };
  const attr = (field: keyof typeof mapping) => (mapping[field] ? assertion.attributes[mapping[field]!] : undefined);
  let email = bounded(first(attr('email')), 254);
  // Okta and most IdPs send the email as an emailAddress NameID; use it when no email attribute came.
  if (!email && (assertion.nameIdFormat === NAMEID_FORMATS.emailAddress || EMAIL.test(assertion.nameId)))
    email = assertion.nameId;
  if (email && !EMAIL.test(email)) email = null;
  const groups = [
    ...new Set((attr('groups') ?? []).map((g) => g.trim()).filter((g) => g.length > 0 && g.length <= 256)),
  ];
  if (groups.length > MAX_PROFILE_GROUPS)
    throw new ProfileError('upstream_too_many_groups', 'Your identity provider sent more groups than can be checked.', {
      attribute: mapping.groups,
      groups: groups.length,
      limit: MAX_PROFILE_GROUPS,
    });
  return {
    email: email?.toLowerCase() ?? null,
    firstName: bounded(first(attr('firstName'))),
    lastName: bounded(first(attr('lastName'))),
    groups,
  };
}
