// Turns a verified upstream assertion into the canonical profile (email, first name, last name, groups) through
// the IdP's mapping. Attribute names are matched exactly; values are trimmed and bounded in length.
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
  const groups = (attr('groups') ?? [])
    .map((g) => g.trim())
    .filter((g) => g.length > 0 && g.length <= 256)
    .slice(0, 500);
  return {
    email: email?.toLowerCase() ?? null,
    firstName: bounded(first(attr('firstName'))),
    lastName: bounded(first(attr('lastName'))),
    groups: [...new Set(groups)],
  };
}
