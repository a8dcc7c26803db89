// Verifying an upstream IdP's Response at our ACS (we are the SP). Every check the broker owns happens here, each
// failure with its own code. The rule that keeps signature wrapping out: identity and conditions are read only from
// what a signature covers, which is the element whose signature was verified on this very DOM (signature/verify.ts: its
// one Reference names that element by its own ID, and IDs are unique in the document), never from outside it; and
// the received document must contain exactly one assertion, wherever an attacker might hide another.
//
// Why our own check rather than samlify's parseLoginResponse: samlify reads several fields from the unsigned
// document, checks neither Audience, Recipient, InResponseTo nor algorithms, and costs about twice as much.
import xmlenc from 'xml-encryption';
import { checkXmlText, decodePostBinding } from '../decode.ts';
import { sameEndpoint } from '../endpoint-match.ts';
import { SamlError } from '../errors.ts';
import { createSchemaValidator } from '../schema-validator.ts';
import { childElements, descendants, firstChild, NS, parseXml, strictText } from '../xml-dom.ts';
import { verifyEnvelopedSignature } from '../signature/verify.ts';
import type { LocalSp, UpstreamIdp, VerifiedAssertion } from './types.ts';

const schema = createSchemaValidator();
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

/** What verifying a parsed Response needs: our SP, the IdP's registration, and the request it must answer. */
export interface VerifyOptions {
  sp: LocalSp;
  idp: UpstreamIdp;
  /** the ID of our AuthnRequest; null only for an unsolicited (IdP-initiated) response */
  expectedInResponseTo: string | null;
  now: Date;
  skewSeconds: number;
}

export interface VerifyInput extends VerifyOptions {
  samlResponse: string;
  maxBytes: number;
}

/** A Response decoded and parsed once, with every check on the message as a whole passed (size, no DOCTYPE, the
 *  SAML schema, a samlp:Response at the root, unique IDs) and nothing in it verified yet. Only parseUpstreamResponse
 *  makes one; verifyParsedResponse verifies it against the IdP chosen, for an unsolicited login, by its claimed
 *  issuer. */
export class ParsedResponse {
  readonly document: Document;
  /** The Issuer the message claims (the Response's own, else the first in it), unverified: only to pick which IdP's
   *  settings to verify it with. Empty when it names none. */
  readonly claimedIssuer: string;

  private constructor(document: Document, claimedIssuer: string) {
    this.document = document;
    this.claimedIssuer = claimedIssuer;
  }

  /** See parseUpstreamResponse. */
  static async parse(samlResponse: string, maxBytes: number): Promise<ParsedResponse> {
    const xml = decodePostBinding(samlResponse, maxBytes);
    try {
      await schema.validate(xml);
    } catch (err) {
      throw new SamlError('saml_schema_invalid', 'The response is not a valid SAML message.', {
        reason: (err as Error).message,
      });
    }
    const doc = parseXml(xml);
    const response = doc.documentElement;
    if (response.namespaceURI !== NS.samlp || response.localName !== 'Response')
      throw new SamlError('saml_malformed', 'The message is not a SAML Response.');
    checkUniqueIds(doc);
    const issuer = firstChild(response, NS.saml, 'Issuer') ?? descendants(response, NS.saml, 'Issuer')[0];
    return new ParsedResponse(doc, issuer?.textContent?.trim() ?? '');
  }
}

/** Decodes the POSTed SAMLResponse and parses it, once: every size, DOCTYPE and schema check comes first. */
export const parseUpstreamResponse = (samlResponse: string, maxBytes: number): Promise<ParsedResponse> =>
  ParsedResponse.parse(samlResponse, maxBytes);

/** Parses and verifies in one step (a login this broker asked for: the IdP is known before the message is read). */
export async function verifyUpstreamResponse(input: VerifyInput): Promise<VerifiedAssertion> {
  return verifyParsedResponse(await parseUpstreamResponse(input.samlResponse, input.maxBytes), input);
}

export async function verifyParsedResponse(parsed: ParsedResponse, input: VerifyOptions): Promise<VerifiedAssertion> {
  if (!(parsed instanceof ParsedResponse))
    throw new TypeError('verifyParsedResponse takes what parseUpstreamResponse made');
  const { idp, sp } = input;
  const doc = parsed.document;
  const response = doc.documentElement;

  const status = firstChild(response, NS.samlp, 'Status');
  const codes = status ? descendants(status, NS.samlp, 'StatusCode').map((c) => c.getAttribute('Value')) : [];
  if (codes[0] !== SUCCESS) {
    const message = status && firstChild(status, NS.samlp, 'StatusMessage')?.textContent;
    throw new SamlError('saml_status_failure', 'The identity provider did not sign you in.', {
      statusCodes: codes,
      message: message ?? null,
    });
  }

  // Exactly one assertion, counted across the whole document (Extensions, ds:Object, Advice included).
  const plain = descendants(doc, NS.saml, 'Assertion');
  const encrypted = descendants(doc, NS.saml, 'EncryptedAssertion');
  if (plain.length + encrypted.length === 0)
    throw new SamlError('saml_no_assertion', 'The response carries no assertion.');
  if (plain.length + encrypted.length > 1)
    throw new SamlError('saml_multiple_assertions', 'The response carries more than one assertion.', {
      count: plain.length + encrypted.length,
    });
  const placed = plain[0] ?? encrypted[0];
  if (placed.parentNode !== response)
    throw new SamlError('saml_multiple_assertions', 'The assertion is not where a Response puts it.');

  const responseIssuer = firstChild(response, NS.saml, 'Issuer')?.textContent?.trim();
  if (responseIssuer !== undefined && responseIssuer !== idp.entityId)
    throw new SamlError('saml_wrong_issuer', 'The response comes from another identity provider.', {
      expected: idp.entityId,
      received: responseIssuer,
    });

  // The response signature, if any. It is verified on this very element, so once it holds, the response's own
  // fields and its direct children are what the signature covers.
  const responseSignature = childElements(response, NS.ds, 'Signature')[0];
  if (responseSignature)
    verifyEnvelopedSignature(response, responseSignature, {
      certificates: idp.certificates,
      allowSha1: idp.allowSha1,
      what: 'response',
    });
  const responseSigned = !!responseSignature;
  if (idp.wantResponseSigned && !responseSigned)
    throw new SamlError(
      'saml_unsigned',
      'The identity provider must sign the whole response, and this one is not signed.',
      { missing: 'response' },
    );

  // The assertion: decrypt if needed, then verify its own signature. The one assertion is a direct child of the
  // response (checked above), so a verified response signature covers it, encrypted or not.
  let assertion: Element;
  if (plain.length) {
    assertion = plain[0];
    checkNoComments(assertion);
  } else {
    const assertionXml = await decrypt(encrypted[0], sp.decryptionKeys);
    const assertionDoc = parseXml(checkXmlText(assertionXml));
    assertion = assertionDoc.documentElement;
    if (assertion.namespaceURI !== NS.saml || assertion.localName !== 'Assertion')
      throw new SamlError('saml_decryption_failed', 'The encrypted assertion does not contain an assertion.');
    if (descendants(assertionDoc, NS.saml, 'Assertion').length !== 1)
      throw new SamlError('saml_multiple_assertions', 'The encrypted assertion carries more than one assertion.');
    checkUniqueIds(assertionDoc);
    checkNoComments(assertion);
  }
  const assertionSignature = childElements(assertion, NS.ds, 'Signature')[0];
  if (assertionSignature)
    verifyEnvelopedSignature(assertion, assertionSignature, {
      certificates: idp.certificates,
      allowSha1: idp.allowSha1,
      what: 'assertion',
    });
  const assertionSigned = !!assertionSignature;
  if (idp.wantAssertionSigned && !assertionSigned)
    throw new SamlError('saml_unsigned', 'The identity provider must sign the assertion, and this one is not signed.', {
      missing: 'assertion',
    });
  if (!responseSigned && !assertionSigned)
    throw new SamlError('saml_unsigned', 'The response is not signed.', { missing: 'response and assertion' });

  // Response-level fields: covered by the response signature when there is one; otherwise they are only claims, so
  // they may refuse a response but never make one acceptable.
  const destination = response.getAttribute('Destination');
  if (destination ? !sameEndpoint(destination, sp.acsUrl) : responseSigned)
    throw new SamlError('saml_wrong_destination', 'The response was sent to another address.', {
      expected: sp.acsUrl,
      received: destination || null,
    });
  checkInResponseTo(response.getAttribute('InResponseTo') || null, input.expectedInResponseTo, false);

  return readAssertion(assertion, input, { responseSigned, assertionSigned });
}

function checkUniqueIds(doc: Document) {
  const seen = new Set<string>();
  const all = doc.getElementsByTagName('*') as unknown as ArrayLike<Element>;
  for (let i = 0; i < all.length; i++) {
    for (const name of ['ID', 'Id', 'id']) {
      const v = all[i].getAttribute(name);
      if (!v) continue;
      if (seen.has(v))
        throw new SamlError('saml_duplicate_id', 'The message contains two elements with the same ID.', { id: v });
      seen.add(v);
    }
  }
}

/** Comments or processing instructions inside identity values are how some parsers are tricked into reading a
 *  shortened NameID or attribute value; no IdP needs them, so they are refused outright. */
function checkNoComments(assertion: Element) {
  const suspicious = [
    ...descendants(assertion, NS.saml, 'NameID'),
    ...descendants(assertion, NS.saml, 'AttributeValue'),
    ...descendants(assertion, NS.saml, 'Audience'),
  ];
  for (const el of suspicious) {
    for (let n = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 8 || n.nodeType === 7)
        throw new SamlError('saml_comment_injection', 'The assertion contains comments inside an identity value.');
    }
  }
}

async function decrypt(encrypted: Element, keys: string[]): Promise<string> {
  const data = firstChild(encrypted, NS.xenc, 'EncryptedData');
  if (!data) throw new SamlError('saml_decryption_failed', 'The encrypted assertion has no EncryptedData.');
  const serialized = encrypted.toString();
  for (const key of keys) {
    try {
      return await new Promise<string>((resolve, reject) =>
        xmlenc.decrypt(
          serialized,
          { key, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false },
          (err: Error | null, out: string) => (err ? reject(err) : resolve(out)),
        ),
      );
    } catch {
      // try the next published key (key rollover)
    }
  }
  throw new SamlError('saml_decryption_failed', 'The encrypted assertion could not be decrypted with any of our keys.');
}

function checkInResponseTo(received: string | null, expected: string | null, required: boolean) {
  if (expected === null) {
    if (received !== null)
      throw new SamlError('saml_wrong_in_response_to', 'The response answers a request this sign-in did not send.', {
        expected: null,
        received,
      });
    return;
  }
  if (received === null ? required : received !== expected)
    throw new SamlError('saml_wrong_in_response_to', 'The response answers a different request.', {
      expected,
      received,
    });
}

function time(el: Element, name: string): Date | null {
  const v = el.getAttribute(name);
  if (!v) return null;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new SamlError('saml_malformed', `The assertion has an unreadable ${name}.`, { value: v });
  return d;
}

function readAssertion(
  assertion: Element,
  input: VerifyOptions,
  signed: { responseSigned: boolean; assertionSigned: boolean },
): VerifiedAssertion {
  const { idp, sp, now } = input;
  const skew = input.skewSeconds * 1000;
  const offset = (d: Date) => Math.round((now.getTime() - d.getTime()) / 1000);
  // How far the IdP's clock (its IssueInstant) is ahead of ours, for the admin's diagnosis of time failures.
  const issued = new Date(assertion.getAttribute('IssueInstant') ?? '');
  const clock = !Number.isNaN(issued.getTime())
    ? {
        issueInstant: issued.toISOString(),
        idpClockAheadSeconds: Math.round((issued.getTime() - now.getTime()) / 1000),
      }
    : {};

  const issuer = firstChild(assertion, NS.saml, 'Issuer');
  const issuerText = issuer ? strictText(issuer, 'Issuer') : '';
  if (issuerText !== idp.entityId)
    throw new SamlError('saml_wrong_issuer', 'The assertion comes from another identity provider.', {
      expected: idp.entityId,
      received: issuerText,
    });

  const subject = firstChild(assertion, NS.saml, 'Subject');
  const nameIdEl = subject && firstChild(subject, NS.saml, 'NameID');
  const nameId = nameIdEl ? strictText(nameIdEl, 'NameID') : '';
  if (!nameId) throw new SamlError('saml_missing_name_id', 'The assertion does not say who signed in (no NameID).');

  // Bearer confirmation: for us (Recipient), for our request (InResponseTo), still valid (NotOnOrAfter).
  const confirmations = subject
    ? childElements(subject, NS.saml, 'SubjectConfirmation').filter((c) => c.getAttribute('Method') === BEARER)
    : [];
  const data = confirmations
    .map((c) => firstChild(c, NS.saml, 'SubjectConfirmationData'))
    .filter((d): d is Element => !!d);
  if (!data.length) throw new SamlError('saml_wrong_recipient', 'The assertion has no bearer subject confirmation.');
  const forUs = data.filter((d) => sameEndpoint(d.getAttribute('Recipient') ?? '', sp.acsUrl));
  if (!forUs.length)
    throw new SamlError('saml_wrong_recipient', 'The assertion is meant for another address.', {
      expected: sp.acsUrl,
      received: data.map((d) => d.getAttribute('Recipient')),
    });
  const confirmation = forUs[0];
  checkInResponseTo(confirmation.getAttribute('InResponseTo') || null, input.expectedInResponseTo, true);
  const scdNotOnOrAfter = time(confirmation, 'NotOnOrAfter');
  if (!scdNotOnOrAfter) throw new SamlError('saml_expired', 'The assertion does not say until when it is valid.');
  if (now.getTime() >= scdNotOnOrAfter.getTime() + skew)
    throw new SamlError('saml_expired', 'The sign-in response has expired.', {
      notOnOrAfter: scdNotOnOrAfter.toISOString(),
      offsetSeconds: offset(scdNotOnOrAfter),
      ...clock,
    });

  // Conditions: validity window with bounded skew, and we must be the audience.
  const conditions = firstChild(assertion, NS.saml, 'Conditions');
  if (!conditions) throw new SamlError('saml_wrong_audience', 'The assertion does not restrict its audience.');
  const notBefore = time(conditions, 'NotBefore');
  const notOnOrAfter = time(conditions, 'NotOnOrAfter');
  if (notBefore && now.getTime() + skew < notBefore.getTime())
    throw new SamlError(
      'saml_not_yet_valid',
      'The sign-in response is not valid yet: the clocks of the identity provider and this server differ.',
      { notBefore: notBefore.toISOString(), offsetSeconds: offset(notBefore), ...clock },
    );
  if (notOnOrAfter && now.getTime() >= notOnOrAfter.getTime() + skew)
    throw new SamlError('saml_expired', 'The sign-in response has expired.', {
      notOnOrAfter: notOnOrAfter.toISOString(),
      offsetSeconds: offset(notOnOrAfter),
      ...clock,
    });
  const restrictions = childElements(conditions, NS.saml, 'AudienceRestriction');
  const audiences = restrictions.map((r) =>
    childElements(r, NS.saml, 'Audience').map((a) => strictText(a, 'Audience')),
  );
  // Each AudienceRestriction must name us (SAML core 2.5.1.4: all restrictions apply).
  if (!audiences.length || audiences.some((list) => !list.includes(sp.entityId)))
    throw new SamlError('saml_wrong_audience', 'The assertion is meant for another service.', {
      expected: sp.entityId,
      received: audiences.flat(),
    });

  const authn = firstChild(assertion, NS.saml, 'AuthnStatement');
  const attributes: Record<string, string[]> = {};
  for (const statement of childElements(assertion, NS.saml, 'AttributeStatement')) {
    for (const attr of childElements(statement, NS.saml, 'Attribute')) {
      const name = attr.getAttribute('Name');
      if (!name) continue;
      const values = childElements(attr, NS.saml, 'AttributeValue').map((v) => strictText(v, 'attribute value'));
      attributes[name] = [...(attributes[name] ?? []), ...values];
    }
  }
  const expiry = Math.max(scdNotOnOrAfter.getTime(), notOnOrAfter?.getTime() ?? 0);
  return {
    assertionId: assertion.getAttribute('ID')!,
    issuer: issuerText,
    nameId,
    nameIdFormat: nameIdEl!.getAttribute('Format') || undefined,
    nameQualifier: nameIdEl!.getAttribute('NameQualifier') || undefined,
    spNameQualifier: nameIdEl!.getAttribute('SPNameQualifier') || undefined,
    sessionIndex: authn?.getAttribute('SessionIndex') || undefined,
    sessionNotOnOrAfter: authn ? (time(authn, 'SessionNotOnOrAfter') ?? undefined) : undefined,
    attributes,
    inResponseTo: confirmation.getAttribute('InResponseTo') || null,
    notOnOrAfter: new Date(expiry),
    authnInstant: authn ? (time(authn, 'AuthnInstant') ?? undefined) : undefined,
    ...signed,
  };
}
