// Our AuthnRequest to an upstream IdP. Signed with RSA-SHA256 when the IdP wants signed requests (WSO2 does):
// over the query string for HTTP-Redirect, as an enveloped XML signature for HTTP-POST.
import { createSign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../algorithms.ts';
import { newSamlId } from '../downstream/response.ts';
import { xmlEscape as e } from '../xml.ts';
import type { LocalSp, UpstreamIdp } from './types.ts';

export type UpstreamAuthnRequest = { id: string } & ({ binding: 'redirect'; url: string } | { binding: 'post'; url: string; fields: Record<string, string> });

export function authnRequestXml(sp: LocalSp, idp: UpstreamIdp, id: string, now: Date, forceAuthn = false): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${id}" Version="2.0" IssueInstant="${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}" Destination="${e(idp.ssoUrl)}" ` +
    `AssertionConsumerServiceURL="${e(sp.acsUrl)}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"${forceAuthn ? ' ForceAuthn="true"' : ''}>` +
    `<saml:Issuer>${e(sp.entityId)}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>`
  );
}

export function buildUpstreamAuthnRequest(sp: LocalSp, idp: UpstreamIdp, opts: { relayState: string; now: Date; forceAuthn?: boolean }): UpstreamAuthnRequest {
  const id = newSamlId();
  const xml = authnRequestXml(sp, idp, id, opts.now, opts.forceAuthn);
  if (idp.ssoBinding === 'post') {
    let body = xml;
    if (idp.signRequests) {
      const sig = new SignedXml({ privateKey: sp.signingKeyPem, publicCert: sp.certificatePem, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: EXC_C14N });
      sig.addReference({ xpath: `/*[@ID='${id}']`, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
      sig.computeSignature(xml, { prefix: 'ds', location: { reference: `/*/*[local-name(.)='Issuer']`, action: 'after' } });
      body = sig.getSignedXml();
    }
    return { id, binding: 'post', url: idp.ssoUrl, fields: { SAMLRequest: Buffer.from(body).toString('base64'), RelayState: opts.relayState } };
  }
  let query = `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}&RelayState=${encodeURIComponent(opts.relayState)}`;
  if (idp.signRequests) {
    query += `&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
    const signature = createSign('RSA-SHA256').update(query).sign(sp.signingKeyPem, 'base64');
    query += `&Signature=${encodeURIComponent(signature)}`;
  }
  return { id, binding: 'redirect', url: `${idp.ssoUrl}${idp.ssoUrl.includes('?') ? '&' : '?'}${query}` };
}
