// The Responses we send to apps (we are the IdP). The XML is written from a template with every value escaped,
// then signed with xml-crypto (RSA-SHA256, SHA-256 digests, exclusive C14N): the assertion when the app wants it
// (and always when the response itself is not signed: an unsigned assertion is never issued), then the response.
// The signature goes right after the Issuer, where the schema puts it.
import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { keyInfoContent, privateKeyObject } from '../keys.ts';
import xmlenc from 'xml-encryption';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../algorithms.ts';
import { NAMEID_FORMATS } from '../metadata.ts';
import { xmlEscape as e } from '../xml.ts';

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

function sign(xml: string, idp: IdpIdentity, elementName: 'Response' | 'Assertion', id: string): string {
  const sig = new SignedXml({ privateKey: privateKeyObject(idp.signingKeyPem), publicCert: idp.certificatePem, getKeyInfoContent: keyInfoContent(idp.certificatePem), signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: EXC_C14N });
  sig.addReference({ xpath: `//*[local-name(.)='${elementName}' and @ID='${id}']`, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `//*[local-name(.)='${elementName}' and @ID='${id}']/*[local-name(.)='Issuer']`, action: 'after' } });
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
  const inResponseTo = input.inResponseTo ? ` InResponseTo="${e(input.inResponseTo)}"` : '';
  const attributes = Object.entries(input.attributes)
    .filter(([, values]) => values.length)
    .map(([name, values]) => `<saml:Attribute Name="${e(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${e(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`)
    .join('');
  let assertion =
    `<saml:Assertion xmlns:saml="${ASSERTION}" ID="${assertionId}" Version="2.0" IssueInstant="${issued}">` +
    `<saml:Issuer>${e(idp.entityId)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${NAMEID_FORMATS[app.nameIdFormat]}">${e(input.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${e(app.acsUrl)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${e(app.entityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(input.authnInstant)}" SessionIndex="${e(input.sessionIndex)}" SessionNotOnOrAfter="${instant(new Date(now.getTime() + 8 * 3600_000))}"><saml:AuthnContext><saml:AuthnContextClassRef>${e(input.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
    `</saml:Assertion>`;
  if (app.signAssertion || !app.signResponse) assertion = sign(assertion, idp, 'Assertion', assertionId);
  if (app.encryptAssertion) {
    if (!app.certificatePem) throw new Error('assertion encryption needs the app certificate');
    assertion = `<saml:EncryptedAssertion xmlns:saml="${ASSERTION}">${await encrypt(assertion, app.certificatePem)}</saml:EncryptedAssertion>`;
  }
  let response =
    `<samlp:Response xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="${id}" Version="2.0" IssueInstant="${issued}" Destination="${e(app.acsUrl)}"${inResponseTo}>` +
    `<saml:Issuer>${e(idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS}Success"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`;
  if (app.signResponse) response = sign(response, idp, 'Response', id);
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
  const inResponseTo = input.inResponseTo ? ` InResponseTo="${e(input.inResponseTo)}"` : '';
  const sub = input.subStatus ? `<samlp:StatusCode Value="${STATUS}${input.subStatus}"/>` : '';
  const message = input.message ? `<samlp:StatusMessage>${e(input.message)}</samlp:StatusMessage>` : '';
  const response =
    `<samlp:Response xmlns:samlp="${PROTOCOL}" xmlns:saml="${ASSERTION}" ID="${id}" Version="2.0" IssueInstant="${instant(input.now)}" Destination="${e(input.acsUrl)}"${inResponseTo}>` +
    `<saml:Issuer>${e(input.idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS}${input.status}">${sub}</samlp:StatusCode>${message}</samlp:Status>` +
    `</samlp:Response>`;
  return { id, samlResponse: Buffer.from(sign(response, input.idp, 'Response', id)).toString('base64') };
}
