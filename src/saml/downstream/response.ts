// The Responses we send to apps (we are the IdP). Every element is written from a template already in its
// exclusive-C14N form, every value escaped as C14N does (xml.ts), so that signing needs no parse: the digest is the
// SHA-256 of the text itself (signature/sign.ts; the tests prove each template canonical with hostile values).
// RSA-SHA256, SHA-256 digests, exclusive C14N with InclusiveNamespaces PrefixList="xs" (which keeps the xmlns:xs that
// xsi:type="xs:string" needs, as Okta and ADFS do). The assertion is signed when the app wants it (and always when
// the response itself is not signed: an unsigned assertion is never issued), then the response. The signature goes
// right after the Issuer, where the schema puts it.
//
// Canonical form, for whoever edits these templates: attributes sorted by name (no namespace first, uppercase before
// lowercase), namespace declarations before attributes and only on the element that first uses the prefix (so the
// Response declares samlp only, and saml is declared on its Issuer and on its Assertion), `<a></a>` never `<a/>`,
// c14nText for text and c14nAttr for attribute values.
import { pooledRandomBytes } from '../../crypto/random-ids.ts';
import xmlenc from 'xml-encryption';
import { NAMEID_FORMATS } from '../metadata.ts';
import { c14nAttr as a, c14nText as t } from '../xml.ts';
import { canonicalXml, signEnveloped } from '../signature/sign.ts';

export interface IdpIdentity {
  entityId: string;
  signingKeyPem: string;
  certificatePem: string;
}

export interface DownstreamApp {
  entityId: string;
  acsUrl: string;
  signResponse: boolean;
  signAssertion: boolean;
  encryptAssertion: boolean;
  certificatePem?: string | null;
  nameIdFormat: 'emailAddress' | 'persistent' | 'unspecified';
}

export const newSamlId = () => `_${pooledRandomBytes(20).toString('hex')}`;
const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const XS = 'http://www.w3.org/2001/XMLSchema';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
/** The InclusiveNamespaces PrefixList of login Responses and assertions: xs is only used inside xsi:type values. */
const PREFIXES = ['xs'];

/** head + tail, signed (the Signature between them) or not. */
const join = (head: string, tail: string, id: string, idp: IdpIdentity, signed: boolean, prefixes: string[]) =>
  signed
    ? signEnveloped(head, tail, id, { keyPem: idp.signingKeyPem, certificatePem: idp.certificatePem }, prefixes)
    : head + tail;

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

export async function buildLoginResponse(
  input: LoginResponseInput,
): Promise<{ id: string; assertionId: string; samlResponse: string }> {
  const { idp, app, now } = input;
  const id = newSamlId();
  const assertionId = newSamlId();
  const issued = instant(now);
  const notBefore = instant(new Date(now.getTime() - 30_000)); // small allowance for the app's clock
  const notOnOrAfter = instant(new Date(now.getTime() + (input.lifetimeSeconds ?? 300) * 1000));
  const inResponseTo = input.inResponseTo ? ` InResponseTo="${a(input.inResponseTo)}"` : '';
  const attributes = Object.entries(input.attributes)
    .filter(([, values]) => values.length)
    .map(
      ([name, values]) =>
        `<saml:Attribute Name="${a(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xmlns:xs="${XS}" xmlns:xsi="${XSI}" xsi:type="xs:string">${t(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`,
    )
    .join('');
  const assertionHead =
    `<saml:Assertion xmlns:saml="${ASSERTION}" ID="${assertionId}" IssueInstant="${issued}" Version="2.0">` +
    `<saml:Issuer>${t(idp.entityId)}</saml:Issuer>`;
  const assertionTail =
    `<saml:Subject><saml:NameID Format="${NAMEID_FORMATS[app.nameIdFormat]}">${t(input.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${notOnOrAfter}" Recipient="${a(app.acsUrl)}"></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${t(app.entityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(input.authnInstant)}" SessionIndex="${a(input.sessionIndex)}" SessionNotOnOrAfter="${instant(new Date(now.getTime() + 8 * 3600_000))}"><saml:AuthnContext><saml:AuthnContextClassRef>${t(input.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
    `</saml:Assertion>`;
  let assertion = join(
    assertionHead,
    assertionTail,
    assertionId,
    idp,
    app.signAssertion || !app.signResponse,
    PREFIXES,
  );
  if (app.encryptAssertion) {
    if (!app.certificatePem) throw new Error('assertion encryption needs the app certificate');
    // xml-encryption's output is not canonical: made so by one parse (only for apps that want encryption), with the
    // response's PrefixList, as the response's canonicalisation will see it.
    assertion = canonicalXml(
      `<saml:EncryptedAssertion xmlns:saml="${ASSERTION}">${await encrypt(assertion, app.certificatePem)}</saml:EncryptedAssertion>`,
      PREFIXES,
    );
  }
  const head =
    `<samlp:Response xmlns:samlp="${PROTOCOL}" Destination="${a(app.acsUrl)}" ID="${id}"${inResponseTo} IssueInstant="${issued}" Version="2.0">` +
    `<saml:Issuer xmlns:saml="${ASSERTION}">${t(idp.entityId)}</saml:Issuer>`;
  const tail = `<samlp:Status><samlp:StatusCode Value="${STATUS}Success"></samlp:StatusCode></samlp:Status>${assertion}</samlp:Response>`;
  const response = join(head, tail, id, idp, app.signResponse, PREFIXES);
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
  const sub = input.subStatus ? `<samlp:StatusCode Value="${a(STATUS + input.subStatus)}"></samlp:StatusCode>` : '';
  const message = input.message ? `<samlp:StatusMessage>${t(input.message)}</samlp:StatusMessage>` : '';
  const head =
    `<samlp:Response xmlns:samlp="${PROTOCOL}" Destination="${a(input.acsUrl)}" ID="${id}"${inResponseTo} IssueInstant="${instant(input.now)}" Version="2.0">` +
    `<saml:Issuer xmlns:saml="${ASSERTION}">${t(input.idp.entityId)}</saml:Issuer>`;
  const tail = `<samlp:Status><samlp:StatusCode Value="${a(STATUS + input.status)}">${sub}</samlp:StatusCode>${message}</samlp:Status></samlp:Response>`;
  return { id, samlResponse: Buffer.from(join(head, tail, id, input.idp, true, [])).toString('base64') };
}
