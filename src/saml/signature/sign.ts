// Enveloped XML signatures (XML-DSig) we make: our Responses to apps, our POST-binding AuthnRequests and logout
// messages (verify.ts checks the ones we receive; algorithms.ts names the algorithms of both).
//
// SIGNING does not parse. Our templates (downstream/response.ts) write the element to sign already in its exclusive
// C14N form: attributes in canonical order, `<a></a>` for empty elements, namespace declarations exactly where
// exc-c14n renders them, values escaped as C14N does (xml.ts c14nText / c14nAttr). Its digest is then the SHA-256 of
// the text itself. The canonical SignedInfo is written here, signed with node:crypto, and the Signature is placed
// right after the element's Issuer, where the SAML schema puts it. XML that is not written that way (the output of
// xml-encryption, the logout and AuthnRequest templates) is canonicalised by one parse and xml-crypto's
// ExclusiveCanonicalization (`canonicalXml`, `signXml`). Tests prove, for every kind of message we sign and hostile
// values, that xml-crypto's canonicalisation of the parsed element equals our text and that xml-crypto, node-saml
// and xmlsec1 accept the signature (test/unit/xml-signature-signing.test.ts).
//
// Why the hand-written canonical form is kept (issue 18, `npm run bench:xml -- --only c`, 2 shared cores, µs per
// operation, wall / CPU): signing a login assertion with signEnveloped 349 / 303, with xml-crypto's SignedXml on the
// same text (given the same parsed key and KeyInfo) 2169 / 1647, with one parse and xml-crypto's C14N (signXml)
// 609 / 488; assertion then Response 626 / 578 against 3885 / 3519 with SignedXml: about six times faster; what is
// left is mostly the RSA-2048 signature itself (about 275 µs CPU on the same machine).
import { constants, createHash, sign as rsaSign } from 'node:crypto';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../algorithms.ts';
import { keyInfoContent, privateKeyObject } from '../keys.ts';
import { NS, parseXml } from '../xml-dom.ts';
import { canonicalizer, DEFAULT_NS_FOR_PREFIX } from './c14n.ts';

const DS = NS.ds;

export interface SigningKey {
  keyPem: string;
  certificatePem: string;
}

/** The <ds:KeyInfo> we publish with each signature (keys.ts builds its content once per certificate). */
const keyInfo = (certificatePem: string) =>
  `<ds:KeyInfo>${keyInfoContent(certificatePem)({ prefix: 'ds' })}</ds:KeyInfo>`;

// An xs:ID is an NCName; ours are `_` + hex. Anything else would need escaping in the Reference URI: refuse it.
const ID_SYNTAX = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const PREFIX_SYNTAX = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Signs an element we wrote in exclusive-C14N form, given as `head` (its start tag and its Issuer element, end tag
 * included) and `tail` (everything after the Issuer, its end tag included): returns head + <ds:Signature> + tail.
 * `id` is the element's ID; `prefixList` is the InclusiveNamespaces PrefixList the canonical text was written for
 * (prefixes whose declarations exc-c14n keeps even where they are not visibly used, such as `xs` for xsi:type).
 * The text must be canonical: if it is not, the signature is simply invalid (the tests check every template).
 */
export function signEnveloped(
  head: string,
  tail: string,
  id: string,
  key: SigningKey,
  prefixList: readonly string[] = [],
): string {
  if (!ID_SYNTAX.test(id)) throw new Error(`cannot sign an element whose ID is not an NCName: ${id}`);
  if (!prefixList.every((p) => PREFIX_SYNTAX.test(p))) throw new Error('InclusiveNamespaces prefixes must be NCNames');
  const privateKey = privateKeyObject(key.keyPem);
  // The SignatureMethod says RSA: never let another key type sign under that name.
  if (privateKey.asymmetricKeyType !== 'rsa')
    throw new Error(`signing key is ${privateKey.asymmetricKeyType}, not RSA`);
  const digest = createHash('sha256').update(head).update(tail).digest('base64');
  const inclusive = prefixList.length
    ? `<ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}" PrefixList="${prefixList.join(' ')}"></ec:InclusiveNamespaces>`
    : '';
  // SignedInfo's content; its canonical form declares ds on SignedInfo itself (the apex of that canonicalisation),
  // and in the document the declaration is on the enclosing Signature.
  const content =
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${RSA_SHA256}"></ds:SignatureMethod>` +
    `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="${ENVELOPED}"></ds:Transform><ds:Transform Algorithm="${EXC_C14N}">${inclusive}</ds:Transform></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod><ds:DigestValue>${digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>`;
  const value = rsaSign('sha256', Buffer.from(`<ds:SignedInfo xmlns:ds="${DS}">${content}`), {
    key: privateKey,
    padding: constants.RSA_PKCS1_PADDING,
  }).toString('base64');
  return `${head}<ds:Signature xmlns:ds="${DS}"><ds:SignedInfo>${content}<ds:SignatureValue>${value}</ds:SignatureValue>${keyInfo(key.certificatePem)}</ds:Signature>${tail}`;
}

/** The exclusive-C14N form of the root element of `xml` (one parse), for XML we did not write canonical. */
export function canonicalXml(xml: string, prefixList: readonly string[] = []): string {
  return canonicalizer.process(parseXml(xml).documentElement, {
    inclusiveNamespacesPrefixList: [...prefixList],
    defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX,
  });
}

/**
 * Signs a message whose template is not written canonical (the root carries ID=`id`, and its first child element is
 * the Issuer). It is parsed once and canonicalised with xml-crypto for the digest; the text sent is the message as
 * written, with the Signature inserted right after its Issuer (what a receiver canonicalises is then exactly what
 * was digested). When the text before the Issuer's end holds anything but tags and text (a comment, CDATA, a
 * processing instruction, where an end tag could be spelled out), the canonical form is sent instead.
 */
export function signXml(xml: string, id: string, key: SigningKey): string {
  const root = parseXml(xml).documentElement;
  if (root.getAttribute('ID') !== id) throw new Error('the message to sign does not carry the given ID');
  let issuer: Element | null = null;
  for (let n = root.firstChild; n && !issuer; n = n.nextSibling) if (n.nodeType === 1) issuer = n as Element;
  if (!issuer || issuer.namespaceURI !== NS.saml || issuer.localName !== 'Issuer')
    throw new Error('the message to sign does not start with its Issuer');
  for (let n = issuer.firstChild; n; n = n.nextSibling)
    if (n.nodeType !== 3) throw new Error('the Issuer of the message to sign is not plain text');
  const canonical = canonicalizer.process(root, {
    inclusiveNamespacesPrefixList: [],
    defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX,
  });
  // In well-formed XML `<` only starts markup (text and attribute values carry it as &lt;); without comments, CDATA
  // or processing instructions before it, the first end tag of the Issuer's name is the end of that first child.
  const end = `</${issuer.tagName}>`;
  const at = canonical.indexOf(end) + end.length;
  const signed = signEnveloped(canonical.slice(0, at), canonical.slice(at), id, key);
  const asWritten = xml.indexOf(end) + end.length;
  if (asWritten < end.length || /<[!?]/.test(xml.slice(0, asWritten))) return signed;
  const signature = signed.slice(at, signed.length - (canonical.length - at));
  return xml.slice(0, asWritten) + signature + xml.slice(asWritten);
}
