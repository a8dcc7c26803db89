// Where each upstream IdP product puts the canonical profile fields. An IdP's own attributeMapping overrides the
// preset field by field; `custom` starts from nothing.
import type { CanonicalField, MappingPreset } from '../store/identity-providers.ts';

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
  custom: {},
};

export const MAPPING_PRESETS = Object.keys(ATTRIBUTE_PRESETS) as MappingPreset[];
