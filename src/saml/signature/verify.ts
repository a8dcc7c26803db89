// Checking the enveloped XML signatures (XML-DSig) we receive: IdP Responses and assertions at the ACS, apps'
// POST-binding requests, and signed metadata (sign.ts makes ours; algorithms.ts names the algorithms of both).
//
// VERIFYING works on the DOM the caller already parsed (no second parse of the document, no XPath):
//  - the Signature is a child of the element it signs, and its one Reference must name that element by its own ID
//    ("#" + ID). Nothing is looked up by ID, so another element carrying the same ID cannot stand in for it (the
//    ACS also refuses duplicate IDs before it gets here);
//  - the only accepted reference transforms are enveloped-signature then exc-c14n, with an optional
//    InclusiveNamespaces PrefixList (honoured, with the listed prefixes inherited from outside the element); SignedInfo
//    must be canonicalised with exc-c14n. Anything else (inclusive C14N, XPath, XSLT, base64, the WithComments
//    variants, a different order) is refused. Algorithms are exactly those algorithms.ts allows (SHA-1 only where
//    allowed);
//  - comments: the WithComments algorithms are refused (a same-document reference drops comments before any
//    transform anyway, so they could only add a code path). Comments inside a signed element are therefore not
//    covered by the digest; they cannot change what is read, because readers refuse comments and processing
//    instructions inside every value they take (xml-dom.ts strictText, the ACS's checkNoComments) and DOM text and
//    attribute reads skip them. Inside SignedInfo, the values read here (digest, signature) must be plain text;
//  - the canonicalisation is xml-crypto's own (ExclusiveCanonicalization), applied to the element with its Signature
//    taken out for the time of the call. Processing instructions inside it are refused: xml-crypto would digest
//    their data as text while readers skip them. The digest is compared in constant time, and the canonical
//    SignedInfo is verified with the configured certificates only. A certificate carried in KeyInfo is never used to
//    verify, only to tell the admin which certificate signed (saml_untrusted_certificate with both fingerprints).
//
// THE RULE that keeps signature wrapping out: callers read identity only from what the signature covers. Here that
// is the verified element itself (the one `verifyEnvelopedSignature` returns): the text digested is the canonical
// form of exactly that element, minus its own Signature and comments, and the reference names it by its own ID.
// Nothing outside it (its parents, siblings, or another element with the same ID) is covered; callers must not read
// upwards from it.
import { constants, createHash, timingSafeEqual, verify as rsaVerify, X509Certificate } from 'node:crypto';
import {
  digestAlgorithm,
  digestHash as acceptedDigestHash,
  ENVELOPED,
  EXC_C14N,
  signatureAlgorithm,
} from '../algorithms.ts';
import { SamlError } from '../errors.ts';
import { publicKeyObject } from '../keys.ts';
import { childElements, descendants, firstChild, NS } from '../xml-dom.ts';
import { canonicalizer, DEFAULT_NS_FOR_PREFIX } from './c14n.ts';

const DS = NS.ds;

export type BadSignatureCode = 'saml_bad_signature' | 'saml_request_bad_signature';
export interface SignatureCheck {
  /** PEM certificates trusted for the sender; a certificate carried in the message is never used to verify */
  certificates: string[];
  allowSha1: boolean;
  /** what is signed, for messages ("response", "assertion", "request", "metadata") */
  what: string;
  /** the code of a refused signature (saml_request_bad_signature for requests from apps) */
  code?: BadSignatureCode;
}

/** The signature and digest algorithms of a Signature must be known, and SHA-1 only where allowed. */
export function checkSignedInfoAlgorithms(signature: Element, allowSha1: boolean) {
  const signedInfo = firstChild(signature, NS.ds, 'SignedInfo');
  const method = signedInfo && firstChild(signedInfo, NS.ds, 'SignatureMethod')?.getAttribute('Algorithm');
  const verdict = signatureAlgorithm(method, allowSha1).verdict;
  const digests = signedInfo
    ? childElements(signedInfo, NS.ds, 'Reference').map((r) =>
        firstChild(r, NS.ds, 'DigestMethod')?.getAttribute('Algorithm'),
      )
    : [];
  const digestVerdicts = digests.map((d) => digestAlgorithm(d, allowSha1));
  if (verdict === 'weak' || digestVerdicts.includes('weak'))
    throw new SamlError('saml_weak_algorithm', 'The message is signed with SHA-1, which is refused.', {
      signatureMethod: method,
      digests,
    });
  if (verdict !== 'ok' || digestVerdicts.includes('unknown'))
    throw new SamlError('saml_bad_signature', 'The message is signed with an unsupported algorithm.', {
      signatureMethod: method,
      digests,
    });
}

/**
 * IdP Responses and assertions, and signed metadata: checks `signature` (a child of `element`) with the configured
 * certificates and returns `element`, now the trusted copy to read from. Throws saml_weak_algorithm,
 * saml_bad_signature (structure, transforms, digest, signature value) or saml_untrusted_certificate (signed with a
 * certificate that is not configured, both fingerprints in the diagnosis).
 */
export function verifyEnvelopedSignature(
  element: Element,
  signature: Element,
  check: Omit<SignatureCheck, 'code'>,
): Element {
  checkSignedInfoAlgorithms(signature, check.allowSha1);
  if (!check.certificates.length)
    throw new SamlError('saml_untrusted_certificate', 'No certificate is configured for this identity provider.');
  if (findSigner(element, signature, { ...check, code: 'saml_bad_signature' })) return element;
  const { what } = check;
  const carried = firstChild(signature, NS.ds, 'KeyInfo');
  const carriedCert = carried
    ? descendants(carried, NS.ds, 'X509Certificate')[0]?.textContent?.replace(/\s+/g, '')
    : undefined;
  const expected = check.certificates.map(fingerprint);
  const received = carriedCert
    ? fingerprint(`-----BEGIN CERTIFICATE-----\n${carriedCert}\n-----END CERTIFICATE-----`)
    : null;
  if (received && !expected.includes(received)) {
    throw new SamlError(
      'saml_untrusted_certificate',
      `The ${what} is signed with a certificate that is not the identity provider's.`,
      { expectedFingerprints: expected, receivedFingerprint: received },
    );
  }
  throw new SamlError(
    'saml_bad_signature',
    `The ${what} signature is not valid: it was changed after signing or signed with another key.`,
    { expectedFingerprints: expected },
  );
}

function fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return 'unparseable';
  }
}

/**
 * The enveloped `signature` (a child of `element`) must be the kind described in the header. Throws a SamlError
 * with `check.code` when it is not; returns the certificate whose key made it, or null when the digest does not
 * match or no configured key verifies it. Callers run checkSignedInfoAlgorithms first (its codes come first).
 */
export function findSigner(element: Element, signature: Element, check: SignatureCheck): string | null {
  const code = check.code ?? 'saml_bad_signature';
  const { what } = check;
  const malformed = (detail: string) => new SamlError(code, `The ${what} signature is malformed: ${detail}.`);
  if (signature.parentNode !== element) throw malformed('it is not inside the signed element');

  const signedInfos = childElements(signature, DS, 'SignedInfo');
  if (signedInfos.length !== 1) throw malformed('it needs exactly one SignedInfo');
  const signedInfo = signedInfos[0];
  // Only a signature over this element, named by its own ID, counts; a signed fragment elsewhere does not.
  const references = childElements(signedInfo, DS, 'Reference');
  const id = element.getAttribute('ID');
  if (references.length !== 1 || !id || references[0].getAttribute('URI') !== `#${id}`) {
    throw new SamlError(code, `The ${what} signature does not cover the ${what}.`, {
      reference: references.map((r) => r.getAttribute('URI')),
    });
  }

  // SignedInfo: CanonicalizationMethod, SignatureMethod, Reference, in that order and nothing else.
  const [c14nMethod, signatureMethod, reference, ...extra] = elementsOf(signedInfo, malformed);
  if (
    !isDs(c14nMethod, 'CanonicalizationMethod') ||
    !isDs(signatureMethod, 'SignatureMethod') ||
    reference !== references[0] ||
    extra.length
  )
    throw malformed('SignedInfo is not CanonicalizationMethod, SignatureMethod, Reference');
  if (c14nMethod.getAttribute('Algorithm') !== EXC_C14N)
    throw new SamlError(code, `The ${what} signature uses a canonicalization method that is not accepted.`, {
      canonicalization: c14nMethod.getAttribute('Algorithm'),
    });
  const signedInfoPrefixes = inclusivePrefixes(c14nMethod, malformed);
  const alg = signatureAlgorithm(signatureMethod.getAttribute('Algorithm'), check.allowSha1);
  if (alg.verdict !== 'ok' || elementsOf(signatureMethod, malformed).length)
    throw new SamlError(code, `The ${what} is signed with an unsupported algorithm.`, {
      signatureMethod: signatureMethod.getAttribute('Algorithm'),
    });

  // Reference: Transforms (enveloped-signature, then exc-c14n), DigestMethod, DigestValue.
  const [transforms, digestMethod, digestValue, ...extraInReference] = elementsOf(reference, malformed);
  if (
    !isDs(transforms, 'Transforms') ||
    !isDs(digestMethod, 'DigestMethod') ||
    !isDs(digestValue, 'DigestValue') ||
    extraInReference.length
  )
    throw malformed('the Reference is not Transforms, DigestMethod, DigestValue');
  const steps = elementsOf(transforms, malformed);
  const algorithms = steps.map((s) =>
    s.namespaceURI === DS && s.localName === 'Transform'
      ? s.getAttribute('Algorithm')
      : `{${s.namespaceURI}}${s.localName}`,
  );
  if (steps.length !== 2 || algorithms[0] !== ENVELOPED || algorithms[1] !== EXC_C14N)
    throw new SamlError(code, `The ${what} signature uses a transform that is not accepted.`, {
      transforms: algorithms,
    });
  // enveloped-signature takes no parameter. xml-crypto's signer copies the InclusiveNamespaces element into every
  // transform, this one included (there in the enveloped-signature namespace): meaningless there, so ignored; any
  // other content is refused.
  if (
    elementsOf(steps[0], malformed).some(
      (p) => p.localName !== 'InclusiveNamespaces' || (p.namespaceURI !== ENVELOPED && p.namespaceURI !== EXC_C14N),
    )
  )
    throw malformed('the enveloped-signature transform takes no parameters');
  const prefixes = inclusivePrefixes(steps[1], malformed);
  const digestUri = digestMethod.getAttribute('Algorithm');
  const digestHash = acceptedDigestHash(digestUri, check.allowSha1);
  if (!digestHash || elementsOf(digestMethod, malformed).length)
    throw new SamlError(code, `The ${what} is signed with an unsupported algorithm.`, { digests: [digestUri] });
  const expectedDigest = base64Value(digestValue, malformed);

  const signatureValues = childElements(signature, DS, 'SignatureValue');
  if (signatureValues.length !== 1) throw malformed('it needs exactly one SignatureValue');
  const signatureBytes = base64Value(signatureValues[0], malformed);

  // xml-crypto's canonicaliser renders a processing instruction as bare text (its data), while DOM readers skip it:
  // inside a signed element one could split a value so that the digest still matches and the value read is shorter.
  // No IdP writes one there, so the signature is refused.
  if (hasProcessingInstruction(element)) throw malformed(`the signed ${what} contains a processing instruction`);

  // Enveloped-signature then exc-c14n, by xml-crypto's canonicaliser, on the element itself (see canonicalWithout).
  let signedText: string;
  let signedInfoText: string;
  try {
    signedText = canonicalWithout(element, signature, prefixes);
    signedInfoText = canonicalWithout(signedInfo, null, signedInfoPrefixes);
  } catch {
    return null; // a node the canonicalizer cannot render: nothing a signer could have signed
  }
  const digest = createHash(digestHash).update(signedText).digest();
  if (digest.length !== expectedDigest.length || !timingSafeEqual(digest, expectedDigest)) return null;

  const signedInfoBytes = Buffer.from(signedInfoText);
  for (const pem of check.certificates) {
    try {
      const key = publicKeyObject(pem);
      // The SignatureMethod is RSA (algorithms.ts knows no other): a key of another type must not verify under it.
      if (key.asymmetricKeyType !== 'rsa') continue;
      if (rsaVerify(alg.hash!, signedInfoBytes, { key, padding: constants.RSA_PKCS1_PADDING }, signatureBytes))
        return pem;
    } catch {
      // an unreadable configured certificate: try the next one
    }
  }
  return null;
}

const isDs = (el: Element | undefined, localName: string): el is Element =>
  !!el && el.namespaceURI === DS && el.localName === localName;

/** The element children of a signature part. Between them only whitespace and comments may appear: text or
 *  processing instructions there are not XML-DSig, and would be signed without meaning anything. */
function elementsOf(parent: Element, malformed: (detail: string) => SamlError): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) out.push(n as Element);
    else if (n.nodeType === 8 || (n.nodeType === 3 && !/\S/.test(n.nodeValue ?? ''))) continue;
    else throw malformed(`${parent.localName} holds something other than elements`);
  }
  return out;
}

/** The PrefixList of the one optional ec:InclusiveNamespaces inside an exc-c14n method or transform. */
function inclusivePrefixes(method: Element, malformed: (detail: string) => SamlError): string[] {
  const children = elementsOf(method, malformed);
  if (!children.length) return [];
  const [inclusive] = children;
  const list =
    inclusive
      .getAttribute('PrefixList')
      ?.split(/[ \t\r\n]+/)
      .filter(Boolean) ?? [];
  if (
    children.length > 1 ||
    inclusive.namespaceURI !== EXC_C14N ||
    inclusive.localName !== 'InclusiveNamespaces' ||
    !list.length
  )
    throw malformed('exc-c14n takes only an InclusiveNamespaces PrefixList');
  return list;
}

/** A DigestValue or SignatureValue: only text (a comment or processing instruction inside is refused), base64. */
function base64Value(el: Element, malformed: (detail: string) => SamlError): Buffer {
  let text = '';
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 3) throw malformed(`${el.localName} is not plain text`);
    text += n.nodeValue ?? '';
  }
  const compact = text.replace(/[ \t\r\n]+/g, '');
  if (!compact || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact))
    throw malformed(`${el.localName} is not base64`);
  return Buffer.from(compact, 'base64');
}

const XMLNS = 'http://www.w3.org/2000/xmlns/';

/**
 * Exclusive C14N of `el` without its child `omit` (the enveloped-signature transform). xml-crypto's canonicaliser
 * renders the node it is given, and declares inherited PrefixList namespaces by adding them to that node; copying the
 * element first would cost more than parsing the whole message again (xmldom's cloneNode), so the element itself is
 * canonicalised with its Signature taken out, and the DOM is put back exactly as it was (same position, no added
 * declaration) before anything else runs: this is synchronous, and `finally` restores it even when the
 * canonicaliser throws.
 */
function canonicalWithout(el: Element, omit: Element | null, prefixes: string[]): string {
  const declared = inherited(el, prefixes); // not declared on `el` itself, so the ones xml-crypto adds are exactly these
  const next = omit ? omit.nextSibling : null;
  if (omit) el.removeChild(omit);
  try {
    return canonicalizer.process(el, {
      inclusiveNamespacesPrefixList: prefixes,
      ancestorNamespaces: declared,
      defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX,
    });
  } finally {
    for (const { prefix } of declared) el.removeAttributeNS(XMLNS, prefix);
    if (omit) el.insertBefore(omit, next);
  }
}

function hasProcessingInstruction(node: Node): boolean {
  for (let n = node.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 7 || (n.nodeType === 1 && hasProcessingInstruction(n))) return true;
  }
  return false;
}

/** Declarations of the PrefixList prefixes that `el` inherits from its ancestors (the nearest one wins; an
 *  undeclaration inherits nothing), which exc-c14n renders on the apex as inclusive C14N would. The element's own
 *  declarations and its own prefix are rendered anyway. */
function inherited(el: Element, prefixes: string[]): { prefix: string; namespaceURI: string }[] {
  const out: { prefix: string; namespaceURI: string }[] = [];
  for (const prefix of prefixes) {
    if (prefix === (el.prefix ?? '') || el.getAttributeNode(`xmlns:${prefix}`)) continue;
    for (let p = el.parentNode; p && p.nodeType === 1; p = p.parentNode) {
      const declaration = (p as Element).getAttributeNode(`xmlns:${prefix}`);
      if (declaration) {
        if (declaration.value) out.push({ prefix, namespaceURI: declaration.value });
        break;
      }
    }
  }
  return out;
}
