// The broker's own SAML 2.0 metadata, one document per role and organisation. Written directly (rather than via
// samlify) so several certificates can be published at once during a key rollover, and so the output is exactly
// what the SAML metadata schema allows (tested against saml-schema-metadata-2.0.xsd).
import { certificateBody } from './certificates.ts';
import { xmlEscape } from './xml.ts';

export const NAMEID_FORMATS = {
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
} as const;

export const BINDINGS = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

const keyDescriptors = (certificates: string[], uses: ('signing' | 'encryption')[]) =>
  certificates
    .flatMap((pem) =>
      uses.map(
        (use) => `
    <md:KeyDescriptor use="${use}">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${certificateBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>`,
      ),
    )
    .join('');

const organization = (displayName: string, url: string) => `
  <md:Organization>
    <md:OrganizationName xml:lang="en">${xmlEscape(displayName)}</md:OrganizationName>
    <md:OrganizationDisplayName xml:lang="en">${xmlEscape(displayName)}</md:OrganizationDisplayName>
    <md:OrganizationURL xml:lang="en">${xmlEscape(url)}</md:OrganizationURL>
  </md:Organization>`;

export interface IdpMetadataInput {
  entityId: string;
  ssoUrl: string;
  sloUrl: string;
  /** active first, then next/previous keys during a rollover */
  certificates: string[];
  wantAuthnRequestsSigned?: boolean;
  organizationName: string;
  organizationUrl: string;
}

export function idpMetadata(m: IdpMetadataInput): string {
  const e = xmlEscape;
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${e(m.entityId)}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="${m.wantAuthnRequestsSigned ? 'true' : 'false'}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keyDescriptors(m.certificates, ['signing'])}
    <md:SingleLogoutService Binding="${BINDINGS.redirect}" Location="${e(m.sloUrl)}"/>
    <md:SingleLogoutService Binding="${BINDINGS.post}" Location="${e(m.sloUrl)}"/>
    <md:NameIDFormat>${NAMEID_FORMATS.emailAddress}</md:NameIDFormat>
    <md:NameIDFormat>${NAMEID_FORMATS.persistent}</md:NameIDFormat>
    <md:NameIDFormat>${NAMEID_FORMATS.unspecified}</md:NameIDFormat>
    <md:SingleSignOnService Binding="${BINDINGS.redirect}" Location="${e(m.ssoUrl)}"/>
    <md:SingleSignOnService Binding="${BINDINGS.post}" Location="${e(m.ssoUrl)}"/>
  </md:IDPSSODescriptor>${organization(m.organizationName, m.organizationUrl)}
</md:EntityDescriptor>
`;
}

export interface SpMetadataInput {
  entityId: string;
  acsUrl: string;
  sloUrl: string;
  certificates: string[];
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  organizationName: string;
  organizationUrl: string;
}

export function spMetadata(m: SpMetadataInput): string {
  const e = xmlEscape;
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${e(m.entityId)}">
  <md:SPSSODescriptor AuthnRequestsSigned="${m.authnRequestsSigned}" WantAssertionsSigned="${m.wantAssertionsSigned}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keyDescriptors(m.certificates, ['signing', 'encryption'])}
    <md:SingleLogoutService Binding="${BINDINGS.redirect}" Location="${e(m.sloUrl)}"/>
    <md:SingleLogoutService Binding="${BINDINGS.post}" Location="${e(m.sloUrl)}"/>
    <md:NameIDFormat>${NAMEID_FORMATS.emailAddress}</md:NameIDFormat>
    <md:NameIDFormat>${NAMEID_FORMATS.persistent}</md:NameIDFormat>
    <md:NameIDFormat>${NAMEID_FORMATS.unspecified}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="${BINDINGS.post}" Location="${e(m.acsUrl)}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>${organization(m.organizationName, m.organizationUrl)}
</md:EntityDescriptor>
`;
}
