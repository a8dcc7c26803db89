// Our AuthnRequest to an upstream IdP. Signed with RSA-SHA256 when the IdP wants signed requests (WSO2 does):
// over the query string for HTTP-Redirect, as an enveloped XML signature for HTTP-POST.
import { encodeOutgoing } from '../bindings.ts';
import { newSamlId } from '../downstream/response.ts';
import { xmlEscape as e } from '../xml.ts';
import type { LocalSp, UpstreamIdp } from './types.ts';

export type UpstreamAuthnRequest = { id: string } & (
  { binding: 'redirect'; url: string } | { binding: 'post'; url: string; fields: Record<string, string> }
);

/** The Subject of an AuthnRequest naming the user by email (SAML core 3.4.1: the IdP is to authenticate this
 *  subject; Okta, Entra ID and ADFS prefill their sign-in with it). Who signs in is still what the assertion says. */
const subjectXml = (email: string) =>
  `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${e(email)}</saml:NameID></saml:Subject>`;

export function authnRequestXml(
  sp: LocalSp,
  idp: UpstreamIdp,
  id: string,
  now: Date,
  forceAuthn = false,
  subjectEmail?: string,
): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${id}" Version="2.0" IssueInstant="${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}" Destination="${e(idp.ssoUrl)}" ` +
    `AssertionConsumerServiceURL="${e(sp.acsUrl)}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"${forceAuthn ? ' ForceAuthn="true"' : ''}>` +
    `<saml:Issuer>${e(sp.entityId)}</saml:Issuer>${subjectEmail ? subjectXml(subjectEmail) : ''}` +
    `<samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>`
  );
}

export function buildUpstreamAuthnRequest(
  sp: LocalSp,
  idp: UpstreamIdp,
  opts: { relayState: string; now: Date; forceAuthn?: boolean; subjectEmail?: string },
): UpstreamAuthnRequest {
  const id = newSamlId();
  const xml = authnRequestXml(sp, idp, id, opts.now, opts.forceAuthn, opts.subjectEmail);
  const signer = idp.signRequests ? { keyPem: sp.signingKeyPem, certificatePem: sp.certificatePem } : undefined;
  return {
    id,
    ...encodeOutgoing({
      xml,
      id,
      param: 'SAMLRequest',
      destination: idp.ssoUrl,
      binding: idp.ssoBinding,
      relayState: opts.relayState,
      signer,
    }),
  };
}
