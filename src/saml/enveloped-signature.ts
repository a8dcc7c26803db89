// Checks an enveloped signature on the DOM the caller already parsed. xml-crypto's checkSignature parses the whole
// document again, finds the referenced element and the ancestor namespaces with XPath over the whole tree, and the
// caller then parsed the signed copy a third time: a quarter of the broker's CPU per login. Here the referenced
// element is the one the caller holds (IDs are unique in the document, and the one Reference must name this
// element's ID), so only canonicalisation (xml-crypto's own canonicaliser), the digest and the RSA check remain.
//
// Only the shape every SAML IdP we know sends is handled: exclusive C14N for SignedInfo, one Reference with the
// transforms enveloped-signature then exclusive C14N (with or without an InclusiveNamespaces PrefixList), an RSA
// signature. Anything else is 'unsupported' and the caller verifies with xml-crypto's general path, which is
// equally strict. Algorithm policy (SHA-1) is the caller's, checked before.
import { createHash, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { digestAlgorithm, ENVELOPED, EXC_C14N, signatureAlgorithm } from './algorithms.ts';
import { childElements, firstChild, NS } from './xml-dom.ts';

const DIGEST_HASH: Record<string, string> = {
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
};
const XMLNS = 'http://www.w3.org/2000/xmlns/';

export type EnvelopedVerdict = 'valid' | 'invalid' | 'unsupported';

/** Namespace declarations in scope from the ancestors of `el` (nearest first), for PrefixList prefixes. */
function ancestorNamespaces(el: Element): { prefix: string; namespaceURI: string }[] {
  const seen = new Set<string>();
  const out: { prefix: string; namespaceURI: string }[] = [];
  for (let p = el.parentNode as Element | null; p && p.nodeType === 1; p = p.parentNode as Element | null) {
    for (let i = 0; i < p.attributes.length; i++) {
      const attr = p.attributes[i];
      if (attr.namespaceURI !== XMLNS || attr.name === 'xmlns') continue;
      const prefix = attr.localName;
      if (seen.has(prefix)) continue;
      seen.add(prefix);
      if (attr.value) out.push({ prefix, namespaceURI: attr.value });
    }
  }
  return out;
}

/** Exclusive C14N of a copy of `el` without `omit` (the enveloped signature) and without comments. */
function canonical(el: Element, prefixList: string[], omit?: Element): string {
  const copy = el.cloneNode(true) as Element;
  if (omit) {
    const index = Array.prototype.indexOf.call(el.childNodes, omit);
    copy.removeChild(copy.childNodes[index]);
  }
  return new ExclusiveCanonicalization().process(copy as never, { inclusiveNamespacesPrefixList: prefixList, ancestorNamespaces: ancestorNamespaces(el) }) as string;
}

const prefixListOf = (parent: Element) => (firstChild(parent, EXC_C14N, 'InclusiveNamespaces')?.getAttribute('PrefixList') ?? '').split(/\s+/).filter(Boolean);

/**
 * `signature` must be a child of `element`; `keys` are the only keys that count. 'valid' only when the digest of
 * `element` (signature removed) and the signature over SignedInfo both check out with one of `keys`.
 */
export function checkEnvelopedSignature(signature: Element, element: Element, keys: KeyObject[], allowSha1: boolean): EnvelopedVerdict {
  if (signature.parentNode !== element) return 'unsupported';
  const signedInfos = childElements(signature, NS.ds, 'SignedInfo');
  if (signedInfos.length !== 1) return 'unsupported';
  const signedInfo = signedInfos[0];
  const c14n = childElements(signedInfo, NS.ds, 'CanonicalizationMethod');
  if (c14n.length !== 1 || c14n[0].getAttribute('Algorithm') !== EXC_C14N) return 'unsupported';
  const hash = signatureAlgorithm(firstChild(signedInfo, NS.ds, 'SignatureMethod')?.getAttribute('Algorithm'), allowSha1).hash;
  const references = childElements(signedInfo, NS.ds, 'Reference');
  if (!hash || references.length !== 1) return 'unsupported';
  const reference = references[0];
  const id = element.getAttribute('ID');
  if (!id || reference.getAttribute('URI') !== `#${id}`) return 'unsupported';
  const transforms = childElements(firstChild(reference, NS.ds, 'Transforms') ?? reference, NS.ds, 'Transform');
  if (transforms.length !== 2 || transforms[0].getAttribute('Algorithm') !== ENVELOPED || transforms[1].getAttribute('Algorithm') !== EXC_C14N) return 'unsupported';
  const digestUri = firstChild(reference, NS.ds, 'DigestMethod')?.getAttribute('Algorithm');
  if (digestAlgorithm(digestUri, allowSha1) !== 'ok') return 'unsupported';
  const digestValue = firstChild(reference, NS.ds, 'DigestValue')?.textContent?.replace(/\s+/g, '') ?? '';
  const signatureValue = firstChild(signature, NS.ds, 'SignatureValue')?.textContent?.replace(/\s+/g, '') ?? '';

  const expected = Buffer.from(digestValue, 'base64');
  const actual = createHash(DIGEST_HASH[digestUri!]).update(canonical(element, prefixListOf(transforms[1]), signature)).digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return 'invalid';
  const signedOctets = canonical(signedInfo, prefixListOf(c14n[0]));
  const value = Buffer.from(signatureValue, 'base64');
  const signed = Buffer.from(signedOctets);
  return keys.some((key) => {
    try {
      return verify(hash, signed, key, value);
    } catch {
      return false; // a configured key of another type (EC) than the RSA signature method
    }
  }) ? 'valid' : 'invalid';
}
