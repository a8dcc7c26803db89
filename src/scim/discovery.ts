// The static discovery documents (RFC 7644 4, RFC 7643 5-7), true to what this server does: PATCH, filters (at most
// MAX_RESULTS per page), ETags; sorting (sortBy, sortOrder); no bulk, no password change.
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, MAX_RESULTS, USER_SCHEMA } from './resources.ts';

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://github.com/saml-broker/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description:
          'A SCIM token of this identity provider, created in the admin console, the admin API or the CLI: Authorization: Bearer scim_…',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypes(baseUrl: string) {
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'A person of the directory provisioned through this identity provider',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'A group whose name app policies can test',
      schema: GROUP_SCHEMA,
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

const attr = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...extra,
});
const multi = (name: string, subAttributes: unknown[], extra: Record<string, unknown> = {}) =>
  attr(name, 'complex', { multiValued: true, subAttributes, ...extra });

export function schemas(baseUrl: string) {
  const user = {
    id: USER_SCHEMA,
    name: 'User',
    description: 'User account',
    attributes: [
      attr('userName', 'string', {
        required: true,
        uniqueness: 'server',
        description: 'Unique per identity provider; the SAML NameID the IdP sends for the user',
      }),
      attr('name', 'complex', {
        subAttributes: [
          attr('givenName', 'string'),
          attr('familyName', 'string'),
          attr('formatted', 'string', { mutability: 'readOnly' }),
        ],
      }),
      attr('displayName', 'string', { mutability: 'readOnly', description: 'given and family name' }),
      attr('active', 'boolean', {
        description: 'false disables the user at once: sign-ins refused, broker sessions and remembered devices ended',
      }),
      multi('emails', [attr('value', 'string'), attr('type', 'string'), attr('primary', 'boolean')], {
        required: true,
        description: 'The primary (else work, else first) address is the directory email; unique in the organisation',
      }),
      multi('phoneNumbers', [attr('value', 'string'), attr('type', 'string'), attr('primary', 'boolean')], {
        description: 'one number is kept',
      }),
      multi(
        'groups',
        [
          attr('value', 'string', { mutability: 'readOnly' }),
          attr('display', 'string', { mutability: 'readOnly' }),
          attr('$ref', 'reference', { mutability: 'readOnly', referenceTypes: ['Group'] }),
        ],
        { mutability: 'readOnly' },
      ),
    ],
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${USER_SCHEMA}` },
  };
  const group = {
    id: GROUP_SCHEMA,
    name: 'Group',
    description: 'Group',
    attributes: [
      attr('displayName', 'string', { required: true, uniqueness: 'server' }),
      multi('members', [
        attr('value', 'string', { mutability: 'immutable' }),
        attr('display', 'string', { mutability: 'readOnly' }),
        attr('type', 'string', { mutability: 'immutable' }),
        attr('$ref', 'reference', { mutability: 'immutable', referenceTypes: ['User'] }),
      ]),
    ],
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${GROUP_SCHEMA}` },
  };
  const enterprise = {
    id: ENTERPRISE_SCHEMA,
    name: 'EnterpriseUser',
    description: 'Accepted and not stored: its attributes are ignored',
    attributes: [
      attr('employeeNumber', 'string'),
      attr('department', 'string'),
      attr('organization', 'string'),
      attr('division', 'string'),
      attr('costCenter', 'string'),
    ],
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${ENTERPRISE_SCHEMA}` },
  };
  return [user, group, enterprise].map((s) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'], ...s }));
}

export const listOf = (resources: unknown[]) => ({
  schemas: [LIST],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});
