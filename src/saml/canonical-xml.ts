// Enveloped XML signatures over XML we write ourselves, without parsing it back. A general signer (xml-crypto) parses
// the document, finds the element with XPath, canonicalises it (exclusive C14N) and serialises the tree again: on a
// login that was 15 % of the broker's CPU. Our templates instead write the signed element already in exclusive-C14N
// form, so its canonical octets are the string itself: the digest is SHA-256 of the string, and SignedInfo is written
// in canonical form too. What C14N form means for a template (https://www.w3.org/TR/xml-exc-c14n/):
//  - attributes in order: namespace declarations first (by prefix), then unqualified attributes by name, then
//    qualified ones by namespace URI and name; values in double quotes, escaped with `c14nAttr`;
//  - a namespace declared on the first element (in document order) of the signed subtree that uses its prefix in
//    its name or an attribute name, and nowhere below it; prefixes used only inside values (xs in xsi:type="xs:string")
//    are declared where used and listed in the transform's InclusiveNamespaces PrefixList;
//  - no self-closing tags (`<a></a>`), no XML declaration, no comments, no whitespace between elements;
//  - text escaped with `c14nText`.
// test/unit/canonical-xml.test.ts proves every signed message we build equals xml-crypto's canonicalisation of it.
import { createHash, createSign } from 'node:crypto';
import { EXC_C14N, ENVELOPED, RSA_SHA256, SHA256 } from './algorithms.ts';
import { keyInfoContent, privateKeyObject } from './keys.ts';

const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

// Characters XML 1.0 cannot carry at all (controls other than tab, LF, CR; lone surrogates; U+FFFE/U+FFFF). A hostile
// attribute value from an IdP could hold them; they become U+FFFD rather than an unparseable document.
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const TEXT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };
const ATTR: Record<string, string> = { '&': '&amp;', '<': '&lt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };

/** Text content as C14N writes it. */
export const c14nText = (value: string) => value.replace(NOT_XML, '\uFFFD').replace(/[&<>\r]/g, (c) => TEXT[c]);
/** An attribute value (inside double quotes) as C14N writes it. */
export const c14nAttr = (value: string) => value.replace(NOT_XML, '\uFFFD').replace(/[&<"\t\n\r]/g, (c) => ATTR[c]);

export interface XmlSigner { keyPem: string; certificatePem: string }

/**
 * Signs `canonical` (an element in exclusive-C14N form, whose ID is `id`) with RSA-SHA256 and returns it with the
 * ds:Signature inserted right after the element's first child, the Issuer, where the SAML schemas put it.
 * `inclusivePrefixes`: prefixes the exc-c14n transform must treat inclusively (see the header).
 */
export function signCanonical(canonical: string, id: string, signer: XmlSigner, inclusivePrefixes: string[] = []): string {
  const issuerEnd = canonical.indexOf('</saml:Issuer>');
  if (!canonical.startsWith('<') || issuerEnd < 0) throw new Error('signCanonical: the element must start with its saml:Issuer');
  const digest = createHash('sha256').update(canonical).digest('base64');
  const prefixList = inclusivePrefixes.length ? `<ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}" PrefixList="${inclusivePrefixes.join(' ')}"></ec:InclusiveNamespaces>` : '';
  const signedInfoBody =
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${RSA_SHA256}"></ds:SignatureMethod>` +
    `<ds:Reference URI="#${c14nAttr(id)}"><ds:Transforms><ds:Transform Algorithm="${ENVELOPED}"></ds:Transform><ds:Transform Algorithm="${EXC_C14N}">${prefixList}</ds:Transform></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod><ds:DigestValue>${digest}</ds:DigestValue></ds:Reference>`;
  // SignedInfo canonicalised on its own declares ds itself; inside the Signature it inherits the declaration.
  const signatureValue = createSign('RSA-SHA256').update(`<ds:SignedInfo xmlns:ds="${DSIG}">${signedInfoBody}</ds:SignedInfo>`).sign(privateKeyObject(signer.keyPem), 'base64');
  const signature = `<ds:Signature xmlns:ds="${DSIG}"><ds:SignedInfo>${signedInfoBody}</ds:SignedInfo><ds:SignatureValue>${signatureValue}</ds:SignatureValue><ds:KeyInfo>${keyInfoContent(signer.certificatePem)({ prefix: 'ds' })}</ds:KeyInfo></ds:Signature>`;
  const at = issuerEnd + '</saml:Issuer>'.length;
  return canonical.slice(0, at) + signature + canonical.slice(at);
}
