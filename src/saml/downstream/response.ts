// The Responses we send to apps (we are the IdP). Templates write every element already in exclusive-C14N form
// (canonical-xml.ts: attribute order, `<a></a>`, namespace declarations where C14N puts them, C14N escaping), so
// signing needs no parse: the assertion is signed when the app wants it (and always when the response itself is
// not signed: an unsigned assertion is never issued), then the response. The signature goes right after the
// Issuer, where the schema puts it. An encrypted assertion is the exception: xml-encryption's output is not in
// canonical form, so a response around one is signed by xml-crypto, which canonicalises it.
import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { keyInfoContent, privateKeyObject } from '../keys.ts';
import xmlenc from 'xml-encryption';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../algorithms.ts';
import { c14nAttr as a, c14nText as t, signCanonical } from '../canonical-xml.ts';
import { NAMEID_FORMATS } from '../metadata.ts';

export interface IdpIdentity { entityId: string; signingKeyPem: string; certificatePem: string }

export interface DownstreamApp {
  entityId: string;
  acsUrl: string;
  signResponse: boolean;
  signAssertion: boolean;
  encryptAssertion: boolean;
  certificatePem?: string | null;
  nameIdFormat: 'emailAddress' | 'persistent' | 'unspecified';
}

export const newSamlId = () => `_${randomBytes(20).toString('hex')}`;
const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
// AttributeValue carries xsi:type="xs:string": xs is used only inside a value, so the transform names it.
const INCLUSIVE = ['xs'];

const signer = (idp: IdpIdentity) => ({ keyPem: idp.signingKeyPem, certificatePem: idp.certificatePem });

/** xml-crypto's signer, for a response whose content we did not write in canonical form (an encrypted assertion). */
function signParsed(xml: string, idp: IdpIdentity, id: string): string {
  const sig = new SignedXml({ privateKey: privateKeyObject(idp.signingKeyPem), publicCert: idp.certificatePem, getKeyInfoContent: keyInfoContent(idp.certificatePem), signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: EXC_C14N });
  sig.addReference({ xpath: `/*[@ID='${id}']`, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `/*/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

function encrypt(assertionXml: string, certificatePem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    xmlenc.encrypt(
      assertionXml,
      {
        rsa_pub: certificatePem,
        pem: certificatePem,
        encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
        keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
        disallowEncryptionWithInsecureAlgorithm: true,
      },
      (err: Error | null, result: string) => (err ? reject(err) : resolve(result)),
    );
  });
}

export interface LoginResponseInput {
  idp: IdpIdentity;
  app: DownstreamApp;
  inResponseTo: string | null;
  nameId: string;
  sessionIndex: string;
  attributes: Record<string, string[]>;
  now: Date;
  /** how long the assertion may be presented, default 300 s */
  lifetimeSeconds?: number;
  authnInstant: Date;
  authnContextClassRef?: string;
}

export async function buildLoginResponse(input: LoginResponseInput): Promise<{ id: string; assertionId: string; samlResponse: string }> {
  const { idp, app, now } = input;
  const id = newSamlId();
  const assertionId = newSamlId();
  const issued = instant(now);
  const notBefore = instant(new Date(now.getTime() - 30_000)); // small allowance for the app's clock
  const notOnOrAfter = instant(new Date(now.getTime() + (input.lifetimeSeconds ?? 300) * 1000));
  const inResponseTo = input.inResponseTo ? ` InResponseTo="${a(input.inResponseTo)}"` : '';
  const attributes = Object.entries(input.attributes)
    .filter(([, values]) => values.length)
    .map(([name, values]) => `<saml:Attribute Name="${a(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${t(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
    .join('');
  let assertion =
    `<saml:Assertion xmlns:saml="${ASSERTION}" ID="${assertionId}" IssueInstant="${issued}" Version="2.0">` +
    `<saml:Issuer>${t(idp.entityId)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${NAMEID_FORMATS[app.nameIdFormat]}">${t(input.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${notOnOrAfter}" Recipient="${a(app.acsUrl)}"></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${t(app.entityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(input.authnInstant)}" SessionIndex="${a(input.sessionIndex)}" SessionNotOnOrAfter="${instant(new Date(now.getTime() + 8 * 3600_000))}"><saml:AuthnContext><saml:AuthnContextClassRef>${t(input.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
    `</saml:Assertion>`;
  if (app.signAssertion || !app.signResponse) assertion = signCanonical(assertion, assertionId, signer(idp), INCLUSIVE);
  let encrypted = false;
  if (app.encryptAssertion) {
    if (!app.certificatePem) throw new Error('assertion encryption needs the app certificate');
    assertion = `<saml:EncryptedAssertion xmlns:saml="${ASSERTION}">${await encrypt(assertion, app.certificatePem)}</saml:EncryptedAssertion>`;
    encrypted = true;
  }
  // saml is declared on the Issuer, not the Response: the Response element itself does not use it (C14N form).
  let response =
    `<samlp:Response xmlns:samlp="${PROTOCOL}" Destination="${a(app.acsUrl)}" ID="${id}"${inResponseTo} IssueInstant="${issued}" Version="2.0">` +
    `<saml:Issuer xmlns:saml="${ASSERTION}">${t(idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS}Success"></samlp:StatusCode></samlp:Status>` +
    assertion +
    `</samlp:Response>`;
  if (app.signResponse) response = encrypted ? signParsed(response, idp, id) : signCanonical(response, id, signer(idp), INCLUSIVE);
  return { id, assertionId, samlResponse: Buffer.from(response).toString('base64') };
}

export interface ErrorResponseInput {
  idp: IdpIdentity;
  acsUrl: string;
  appEntityId: string;
  inResponseTo: string | null;
  status: 'Requester' | 'Responder';
  subStatus?: 'RequestDenied' | 'AuthnFailed' | 'NoPassive' | 'UnsupportedBinding' | 'NoAvailableIDP';
  message?: string;
  now: Date;
}

/** A signed Response with a failure status and no assertion. */
export function buildErrorResponse(input: ErrorResponseInput): { id: string; samlResponse: string } {
  const id = newSamlId();
  const inResponseTo = input.inResponseTo ? ` InResponseTo="${a(input.inResponseTo)}"` : '';
  const sub = input.subStatus ? `<samlp:StatusCode Value="${STATUS}${input.subStatus}"></samlp:StatusCode>` : '';
  const message = input.message ? `<samlp:StatusMessage>${t(input.message)}</samlp:StatusMessage>` : '';
  const response =
    `<samlp:Response xmlns:samlp="${PROTOCOL}" Destination="${a(input.acsUrl)}" ID="${id}"${inResponseTo} IssueInstant="${instant(input.now)}" Version="2.0">` +
    `<saml:Issuer xmlns:saml="${ASSERTION}">${t(input.idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS}${input.status}">${sub}</samlp:StatusCode>${message}</samlp:Status>` +
    `</samlp:Response>`;
  return { id, samlResponse: Buffer.from(signCanonical(response, id, signer(input.idp))).toString('base64') };
}
