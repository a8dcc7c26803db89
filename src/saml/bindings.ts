// The two front-channel bindings, for every protocol message we send or receive (AuthnRequest, LogoutRequest,
// LogoutResponse): encoding with an RSA-SHA256 signature (over the query string for HTTP-Redirect, enveloped in the
// XML for HTTP-POST), and checking the signature of a received message against the certificates registered for its
// sender only (a certificate carried in the message is never trusted). Enveloped XML signatures are made in
// signature/sign.ts and checked in signature/verify.ts.
import { createSign, verify as verifySignature } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { digestAlgorithm, RSA_SHA256, signatureAlgorithm } from './algorithms.ts';
import { decodePostBinding, decodeRedirectBinding } from './decode.ts';
import { SamlError } from './errors.ts';
import { privateKeyObject, publicKeyObject } from './keys.ts';
import { createSchemaValidator } from './schema-validator.ts';
import { childElements, descendants, firstChild, NS, parseXml, strictText } from './xml-dom.ts';
import { signXml } from './signature/sign.ts';
import { checkSignedInfoAlgorithms, findSigner } from './signature/verify.ts';

export type Binding = 'redirect' | 'post';
export type SamlParam = 'SAMLRequest' | 'SAMLResponse';
export type OutgoingMessage =
  { binding: 'redirect'; url: string } | { binding: 'post'; url: string; fields: Record<string, string> };
export interface Signer {
  keyPem: string;
  certificatePem: string;
}

/** Encodes `xml` (whose root carries ID=`id` and an Issuer) for `destination`; signs it when `signer` is given. */
export function encodeOutgoing(input: {
  xml: string;
  id: string;
  param: SamlParam;
  destination: string;
  binding: Binding;
  relayState?: string | null;
  signer?: Signer;
}): OutgoingMessage {
  const { xml, id, param, destination, relayState, signer } = input;
  if (input.binding === 'post') {
    // Signed: the message is sent in its canonical form with the Signature right after its Issuer. The logout and
    // AuthnRequest templates are not written canonical, so this costs one parse (only for the POST binding).
    const body = signer ? signXml(xml, id, signer) : xml;
    return {
      binding: 'post',
      url: destination,
      fields: { [param]: Buffer.from(body).toString('base64'), ...(relayState != null && { RelayState: relayState }) },
    };
  }
  let query = `${param}=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`;
  if (relayState != null) query += `&RelayState=${encodeURIComponent(relayState)}`;
  if (signer) {
    query += `&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
    query += `&Signature=${encodeURIComponent(createSign('RSA-SHA256').update(query).sign(privateKeyObject(signer.keyPem), 'base64'))}`;
  }
  return { binding: 'redirect', url: `${destination}${destination.includes('?') ? '&' : '?'}${query}` };
}

const schema = createSchemaValidator();

/**
 * Reads a protocol message we receive (AuthnRequest, LogoutRequest, LogoutResponse) without trusting it yet: decoded
 * for its binding under the size limits, valid against the SAML protocol schema, of the expected kind, and naming
 * its Issuer (how the sender is found; its signature is checked next, with that sender's certificates only).
 */
export async function readProtocolMessage(input: {
  binding: Binding;
  message: string;
  maxBytes: number;
  expected: 'AuthnRequest' | 'LogoutRequest' | 'LogoutResponse';
}): Promise<{ root: Element; issuer: string }> {
  const xml =
    input.binding === 'redirect'
      ? decodeRedirectBinding(input.message, input.maxBytes)
      : decodePostBinding(input.message, input.maxBytes, { tolerateDeflate: true });
  try {
    await schema.validate(xml);
  } catch (err) {
    throw new SamlError('saml_schema_invalid', 'The message is not a valid SAML message.', {
      reason: (err as Error).message,
    });
  }
  const root = parseXml(xml).documentElement;
  if (root.namespaceURI !== NS.samlp || root.localName !== input.expected)
    throw new SamlError('saml_malformed', `The message is not a ${input.expected}.`, { received: root.localName });
  const issuerEl = firstChild(root, NS.saml, 'Issuer');
  const issuer = issuerEl ? strictText(issuerEl, 'Issuer') : '';
  if (!issuer)
    throw new SamlError('saml_malformed', 'The message names no Issuer, so its sender cannot be identified.');
  return { root, issuer };
}

/** The raw (still URL-encoded) value of a query parameter, exactly as received. */
function rawParam(rawQuery: string, name: string): string | undefined {
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq) === name) return part.slice(eq + 1);
  }
  return undefined;
}
const decodeParam = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));

/** `sha1`: the signature or a digest used SHA-1 (only possible where allowSha1 was given). */
export interface VerifiedSignature {
  certificate: string;
  algorithm: string;
  digests: string[];
  sha1: boolean;
}

const FAILURES = {
  SAMLRequest: { unsigned: 'saml_request_unsigned', bad: 'saml_request_bad_signature', what: 'request' },
  SAMLResponse: { unsigned: 'saml_unsigned', bad: 'saml_bad_signature', what: 'response' },
} as const;

/**
 * Checks that a received message is signed by one of `certificates`. Redirect binding: the detached signature over
 * the query parameters in the order the sender encoded them. POST binding: one enveloped signature over the root
 * element, by ID. Throws a SamlError naming what is wrong; returns the certificate that verified and the algorithms
 * it was made with, so a caller can record a legacy algorithm it allowed.
 */
export function verifyMessageSignature(input: {
  binding: Binding;
  param: SamlParam;
  rawQuery?: string;
  message: string;
  certificates: string[];
  allowSha1?: boolean;
  maxBytes: number;
}): VerifiedSignature {
  const fail = FAILURES[input.param];
  const allowSha1 = !!input.allowSha1;
  if (!input.certificates.length)
    throw new SamlError(fail.bad, `No certificate is registered to check the ${fail.what} signature.`);
  if (input.binding === 'redirect') {
    const q = input.rawQuery ?? '';
    const [message, relayState, sigAlg, signature] = [input.param, 'RelayState', 'SigAlg', 'Signature'].map((n) =>
      rawParam(q, n),
    );
    if (!message || !sigAlg || !signature)
      throw new SamlError(fail.unsigned, `The ${fail.what} must be signed, and this one is not.`);
    const alg = signatureAlgorithm(decodeParam(sigAlg), allowSha1);
    if (alg.verdict === 'weak')
      throw new SamlError('saml_weak_algorithm', `The ${fail.what} is signed with SHA-1, which is refused.`, {
        algorithm: decodeParam(sigAlg),
      });
    if (alg.verdict !== 'ok')
      throw new SamlError(fail.bad, `The ${fail.what} is signed with an unsupported algorithm.`, {
        algorithm: decodeParam(sigAlg),
      });
    // The signature covers the parameters as they were URL-encoded by the sender, in this order.
    const signed = Buffer.from(
      `${input.param}=${message}${relayState !== undefined ? `&RelayState=${relayState}` : ''}&SigAlg=${sigAlg}`,
    );
    const sigBytes = Buffer.from(decodeParam(signature), 'base64');
    const good = input.certificates.find((pem) => verifySignature(alg.hash!, signed, publicKeyObject(pem), sigBytes));
    if (!good) throw new SamlError(fail.bad, `The ${fail.what} signature does not match the registered certificate.`);
    return { certificate: good, algorithm: decodeParam(sigAlg), digests: [], sha1: alg.hash === 'sha1' };
  }
  const xml = decodePostBinding(input.message, input.maxBytes, { tolerateDeflate: true });
  const root = parseXml(xml).documentElement;
  const signatures = childElements(root, NS.ds, 'Signature');
  if (signatures.length !== 1)
    throw new SamlError(fail.unsigned, `The ${fail.what} must be signed, and this one is not.`);
  checkSignedInfoAlgorithms(signatures[0], allowSha1);
  // Only a signature over the whole message (its root, by ID) counts; a signed fragment elsewhere does not.
  const good = findSigner(root, signatures[0], {
    certificates: input.certificates,
    allowSha1,
    what: fail.what,
    code: fail.bad,
  });
  if (!good) throw new SamlError(fail.bad, `The ${fail.what} signature does not match the registered certificate.`);
  const signedInfo = firstChild(signatures[0], NS.ds, 'SignedInfo')!;
  const algorithm = firstChild(signedInfo, NS.ds, 'SignatureMethod')!.getAttribute('Algorithm')!;
  const digests = childElements(signedInfo, NS.ds, 'Reference').map((r) =>
    firstChild(r, NS.ds, 'DigestMethod')!.getAttribute('Algorithm')!,
  );
  return {
    certificate: good,
    algorithm,
    digests,
    sha1:
      signatureAlgorithm(algorithm, false).verdict === 'weak' ||
      digests.some((d) => digestAlgorithm(d, false) === 'weak'),
  };
}

/** Whether a received message carries any signature at all: detached in the query (Redirect) or a ds:Signature
 *  anywhere in the XML (POST). Only a message with none may take a path for unsigned messages, so a bad or misplaced
 *  signature is never downgraded to "unsigned". */
export function carriesSignature(input: {
  binding: Binding;
  param: SamlParam;
  rawQuery?: string;
  message: string;
  maxBytes: number;
}): boolean {
  if (input.binding === 'redirect')
    return ['SigAlg', 'Signature'].some((n) => rawParam(input.rawQuery ?? '', n) !== undefined);
  return (
    descendants(
      parseXml(decodePostBinding(input.message, input.maxBytes, { tolerateDeflate: true })),
      NS.ds,
      'Signature',
    ).length > 0
  );
}
