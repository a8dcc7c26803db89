// Where each upstream IdP product puts the canonical profile fields. An IdP's own attributeMapping overrides the
// preset field by field; `custom` starts from nothing.
import type { CanonicalField, MappingPreset } from '../../store/identity-providers.ts';

export const ATTRIBUTE_PRESETS: Record<MappingPreset, Partial<Record<CanonicalField, string>>> = {
  // Okta's attribute statements as the guides configure them; NameID is the email (format emailAddress).
  okta: { email: 'Email', firstName: 'firstName', lastName: 'lastName', groups: 'groups' },
  // WSO2 Identity Server claim URIs.
  wso2: {
    email: 'http://wso2.org/claims/emailaddress',
    firstName: 'http://wso2.org/claims/givenname',
    lastName: 'http://wso2.org/claims/lastname',
    groups: 'http://wso2.org/claims/role',
  },
  // ADFS and Entra ID claim types.
  adfs: {
    email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    firstName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
    lastName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
    groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
  },
  // OpenID Connect IdPs: claims of the ID token (and userinfo, when on). Entra ID: `email` is an optional claim,
  // preferred_username (the UPN) stands in for it (src/broker/upstream/oidc.ts); groups are object IDs.
  'oidc-entra': { email: 'email', firstName: 'given_name', lastName: 'family_name', groups: 'groups' },
  // Google Workspace sends no groups; `hd` (the hosted domain) is checked against the IdP's email domains.
  'oidc-google': { email: 'email', firstName: 'given_name', lastName: 'family_name' },
  // Okta and Keycloak: `groups` once a groups claim (Okta) or the group membership mapper (Keycloak) is added.
  'oidc-okta': { email: 'email', firstName: 'given_name', lastName: 'family_name', groups: 'groups' },
  'oidc-keycloak': { email: 'email', firstName: 'given_name', lastName: 'family_name', groups: 'groups' },
  custom: {},
};

export const MAPPING_PRESETS = Object.keys(ATTRIBUTE_PRESETS) as MappingPreset[];
