// Reading an app's AuthnRequest (we are the IdP). Two steps: `parseAuthnRequest` decodes and reads it without
// trusting it (enough to find the app by Issuer); `verifyAuthnRequestSignature` then checks the signature with that
// app's registered certificate only. Nothing in a request decides where a response goes: the broker checks the
// requested ACS URL against the app's registration.
import { readProtocolMessage, verifyMessageSignature, type VerifiedSignature } from '../bindings.ts';
import { childElements, firstChild, NS } from '../xml-dom.ts';

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
  /** the request's <saml:Subject><saml:NameID>, when it names one: a login hint (which IdP to ask), never an identity */
  subjectNameId?: string;
}

/** The Subject's NameID text, or undefined when absent or when it holds anything but text (a hint is optional: one
 *  with markup or comments inside is ignored rather than trusted or refused). */
function subjectNameId(root: Element): string | undefined {
  const subject = firstChild(root, NS.saml, 'Subject');
  const nameId = subject && firstChild(subject, NS.saml, 'NameID');
  if (!nameId) return undefined;
  let text = '';
  for (let n = nameId.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 3 && n.nodeType !== 4) return undefined;
    text += n.nodeValue ?? '';
  }
  return text.trim() || undefined;
}

export async function parseAuthnRequest(input: {
  binding: 'redirect' | 'post';
  samlRequest: string;
  maxBytes: number;
}): Promise<ReceivedAuthnRequest> {
  const { root, issuer } = await readProtocolMessage({
    binding: input.binding,
    message: input.samlRequest,
    maxBytes: input.maxBytes,
    expected: 'AuthnRequest',
  });
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
    subjectNameId: subjectNameId(root),
  };
}

/** Checks the request's signature with the app's registered certificate (see bindings.ts for both bindings). */
export function verifyAuthnRequestSignature(input: {
  binding: 'redirect' | 'post';
  rawQuery?: string;
  samlRequest: string;
  certificatePem: string;
  allowSha1?: boolean;
  maxBytes: number;
}): VerifiedSignature {
  return verifyMessageSignature({
    binding: input.binding,
    param: 'SAMLRequest',
    rawQuery: input.rawQuery,
    message: input.samlRequest,
    certificates: [input.certificatePem],
    allowSha1: input.allowSha1,
    maxBytes: input.maxBytes,
  });
}
