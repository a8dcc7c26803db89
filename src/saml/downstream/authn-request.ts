// Reading an app's AuthnRequest (we are the IdP). Two steps: `parseAuthnRequest` decodes and reads it without
// trusting it (enough to find the app by Issuer); `verifyAuthnRequestSignature` then checks the signature with that
// app's registered certificate only. Nothing in a request decides where a response goes: the broker checks the
// requested ACS URL against the app's registration.
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { digestAlgorithm, signatureAlgorithm } from '../algorithms.ts';
import { decodePostBinding, decodeRedirectBinding } from '../decode.ts';
import { SamlError } from '../errors.ts';
import { createSchemaValidator } from '../schema-validator.ts';
import { childElements, firstChild, NS, parseXml, strictText } from '../xml-dom.ts';

export interface ReceivedAuthnRequest {
  id: string;
  issuer: string;
  acsUrl?: string;
  protocolBinding?: string;
  destination?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  nameIdFormat?: string;
  issueInstant?: string;
  /** an enveloped signature is present (POST binding); says nothing about its validity */
  signed: boolean;
}

const schema = createSchemaValidator();

export async function parseAuthnRequest(input: { binding: 'redirect' | 'post'; samlRequest: string; maxBytes: number }): Promise<ReceivedAuthnRequest> {
  const xml = input.binding === 'redirect' ? decodeRedirectBinding(input.samlRequest, input.maxBytes) : decodePostBinding(input.samlRequest, input.maxBytes, { tolerateDeflate: true });
  try {
    await schema.validate(xml);
  } catch (err) {
    throw new SamlError('saml_schema_invalid', 'The request is not a valid SAML message.', { reason: (err as Error).message });
  }
  const root = parseXml(xml).documentElement;
  if (root.namespaceURI !== NS.samlp || root.localName !== 'AuthnRequest') throw new SamlError('saml_malformed', 'The message is not an AuthnRequest.', { received: root.localName });
  const issuerEl = firstChild(root, NS.saml, 'Issuer');
  const issuer = issuerEl ? strictText(issuerEl, 'Issuer') : '';
  if (!issuer) throw new SamlError('saml_malformed', 'The request names no Issuer, so the application cannot be identified.');
  const policy = firstChild(root, NS.samlp, 'NameIDPolicy');
  const attr = (name: string) => root.getAttribute(name) || undefined;
  return {
    id: root.getAttribute('ID')!,
    issuer,
    acsUrl: attr('AssertionConsumerServiceURL'),
    protocolBinding: attr('ProtocolBinding'),
    destination: attr('Destination'),
    forceAuthn: root.getAttribute('ForceAuthn') === 'true' || root.getAttribute('ForceAuthn') === '1',
    isPassive: root.getAttribute('IsPassive') === 'true' || root.getAttribute('IsPassive') === '1',
    nameIdFormat: policy?.getAttribute('Format') || undefined,
    issueInstant: attr('IssueInstant'),
    signed: childElements(root, NS.ds, 'Signature').length > 0,
  };
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

export function verifyAuthnRequestSignature(input: { binding: 'redirect' | 'post'; rawQuery?: string; samlRequest: string; certificatePem: string; allowSha1?: boolean }): void {
  const key = createPublicKey(input.certificatePem);
  if (input.binding === 'redirect') {
    const q = input.rawQuery ?? '';
    const [request, relayState, sigAlg, signature] = ['SAMLRequest', 'RelayState', 'SigAlg', 'Signature'].map((n) => rawParam(q, n));
    if (!request || !sigAlg || !signature) throw new SamlError('saml_request_unsigned', 'The application must sign its requests, and this one is not signed.');
    const alg = signatureAlgorithm(decodeParam(sigAlg), !!input.allowSha1);
    if (alg.verdict === 'weak') throw new SamlError('saml_weak_algorithm', 'The request is signed with SHA-1, which is refused.', { algorithm: decodeParam(sigAlg) });
    if (alg.verdict !== 'ok') throw new SamlError('saml_request_bad_signature', 'The request is signed with an unsupported algorithm.', { algorithm: decodeParam(sigAlg) });
    // The signature covers the parameters as they were URL-encoded by the sender, in this order.
    const signed = `SAMLRequest=${request}${relayState !== undefined ? `&RelayState=${relayState}` : ''}&SigAlg=${sigAlg}`;
    if (!verifySignature(alg.hash!, Buffer.from(signed), key, Buffer.from(decodeParam(signature), 'base64'))) {
      throw new SamlError('saml_request_bad_signature', 'The request signature does not match the application\'s certificate.');
    }
    return;
  }
  const xml = decodePostBinding(input.samlRequest, Number.MAX_SAFE_INTEGER, { tolerateDeflate: true });
  const root = parseXml(xml).documentElement;
  const signatures = childElements(root, NS.ds, 'Signature');
  if (signatures.length !== 1) throw new SamlError('saml_request_unsigned', 'The application must sign its requests, and this one is not signed.');
  checkSignedInfoAlgorithms(signatures[0], !!input.allowSha1);
  const sig = new SignedXml({ publicCert: input.certificatePem, getCertFromKeyInfo: () => null });
  sig.loadSignature(signatures[0]);
  const refs = sig.getReferences();
  // Only a signature over the whole request (its root, by ID) counts; a signed fragment elsewhere does not.
  if (refs.length !== 1 || refs[0].uri !== `#${root.getAttribute('ID')}`) throw new SamlError('saml_request_bad_signature', 'The request signature does not cover the request.');
  let valid = false;
  try {
    valid = sig.checkSignature(xml);
  } catch {
    valid = false;
  }
  if (!valid) throw new SamlError('saml_request_bad_signature', 'The request signature does not match the application\'s certificate.');
}

export function checkSignedInfoAlgorithms(signature: Element, allowSha1: boolean) {
  const signedInfo = firstChild(signature, NS.ds, 'SignedInfo');
  const method = signedInfo && firstChild(signedInfo, NS.ds, 'SignatureMethod')?.getAttribute('Algorithm');
  const verdict = signatureAlgorithm(method, allowSha1).verdict;
  const digests = signedInfo ? childElements(signedInfo, NS.ds, 'Reference').map((r) => firstChild(r, NS.ds, 'DigestMethod')?.getAttribute('Algorithm')) : [];
  const digestVerdicts = digests.map((d) => digestAlgorithm(d, allowSha1));
  if (verdict === 'weak' || digestVerdicts.includes('weak')) throw new SamlError('saml_weak_algorithm', 'The message is signed with SHA-1, which is refused.', { signatureMethod: method, digests });
  if (verdict !== 'ok' || digestVerdicts.includes('unknown')) throw new SamlError('saml_bad_signature', 'The message is signed with an unsupported algorithm.', { signatureMethod: method, digests });
}
