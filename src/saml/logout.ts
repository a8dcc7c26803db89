// SAML 2.0 single logout messages, in both roles: reading a LogoutRequest or LogoutResponse (from an app or from an
// upstream IdP) without trusting it yet, and writing our own. Signatures are checked and made by bindings.ts; what a
// message may ask for (which session, which issuer) is decided by the broker, not here.
import { newSamlId } from './downstream/response.ts';
import { readProtocolMessage, type Binding, type SamlParam } from './bindings.ts';
import { SamlError } from './errors.ts';
import { childElements, firstChild, NS, strictText } from './xml-dom.ts';
import { xmlEscape as e } from './xml.ts';

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
export type LogoutStatus = 'Success' | 'PartialLogout' | 'UnknownPrincipal' | 'RequestDenied';

export interface ReceivedLogoutRequest {
  kind: 'request';
  id: string;
  issuer: string;
  destination?: string;
  notOnOrAfter?: Date;
  nameId: string;
  nameIdFormat?: string;
  sessionIndexes: string[];
}

export interface ReceivedLogoutResponse {
  kind: 'response';
  id: string;
  issuer: string;
  destination?: string;
  inResponseTo?: string;
  /** top-level status code without the URN prefix, e.g. Success, Requester, Responder */
  status: string;
  /** second-level status code without the prefix, e.g. PartialLogout */
  subStatus?: string;
}

/** Decodes and reads a logout message; `param` says which one the binding carried. */
export async function parseLogoutMessage(input: {
  binding: Binding;
  param: SamlParam;
  message: string;
  maxBytes: number;
}): Promise<ReceivedLogoutRequest | ReceivedLogoutResponse> {
  const expected = input.param === 'SAMLRequest' ? 'LogoutRequest' : 'LogoutResponse';
  const { root, issuer } = await readProtocolMessage({ ...input, expected });
  const attr = (name: string) => root.getAttribute(name) || undefined;
  const id = root.getAttribute('ID')!;

  if (expected === 'LogoutResponse') {
    const top = firstChild(firstChild(root, NS.samlp, 'Status')!, NS.samlp, 'StatusCode')!;
    const sub = firstChild(top, NS.samlp, 'StatusCode');
    const strip = (v: string | null) => (v ?? '').replace(STATUS, '');
    return {
      kind: 'response',
      id,
      issuer,
      destination: attr('Destination'),
      inResponseTo: attr('InResponseTo'),
      status: strip(top.getAttribute('Value')),
      ...(sub && { subStatus: strip(sub.getAttribute('Value')) }),
    };
  }
  // An EncryptedID cannot name a session we can find without decrypting; we never ask apps to encrypt NameIDs.
  const nameIdEl = firstChild(root, NS.saml, 'NameID');
  if (!nameIdEl) throw new SamlError('saml_missing_name_id', 'The logout request carries no NameID.');
  const notOnOrAfter = attr('NotOnOrAfter');
  return {
    kind: 'request',
    id,
    issuer,
    destination: attr('Destination'),
    ...(notOnOrAfter && { notOnOrAfter: new Date(notOnOrAfter) }),
    nameId: strictText(nameIdEl, 'NameID'),
    nameIdFormat: nameIdEl.getAttribute('Format') || undefined,
    sessionIndexes: childElements(root, NS.samlp, 'SessionIndex').map((el) => strictText(el, 'SessionIndex')),
  };
}

const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const PROTOCOL_NS =
  'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"';

export function logoutRequestXml(m: {
  id?: string;
  issuer: string;
  destination: string;
  now: Date;
  nameId: string;
  nameIdFormat?: string | null;
  nameQualifier?: string | null;
  spNameQualifier?: string | null;
  sessionIndex?: string | null;
  validSeconds?: number;
}): { id: string; xml: string } {
  const id = m.id ?? newSamlId();
  const notOnOrAfter = new Date(m.now.getTime() + (m.validSeconds ?? 300) * 1000);
  const xml =
    `<samlp:LogoutRequest ${PROTOCOL_NS} ID="${id}" Version="2.0" IssueInstant="${instant(m.now)}" Destination="${e(m.destination)}" NotOnOrAfter="${instant(notOnOrAfter)}">` +
    `<saml:Issuer>${e(m.issuer)}</saml:Issuer>` +
    `<saml:NameID${m.nameIdFormat ? ` Format="${e(m.nameIdFormat)}"` : ''}${m.nameQualifier ? ` NameQualifier="${e(m.nameQualifier)}"` : ''}${m.spNameQualifier ? ` SPNameQualifier="${e(m.spNameQualifier)}"` : ''}>${e(m.nameId)}</saml:NameID>` +
    (m.sessionIndex ? `<samlp:SessionIndex>${e(m.sessionIndex)}</samlp:SessionIndex>` : '') +
    `</samlp:LogoutRequest>`;
  return { id, xml };
}

/** PartialLogout is a second-level code under Success (the responder did log the session out, not all of it);
 *  UnknownPrincipal and RequestDenied sit under Requester. */
export function logoutResponseXml(m: {
  issuer: string;
  destination: string;
  now: Date;
  inResponseTo: string;
  status: LogoutStatus;
  message?: string;
}): { id: string; xml: string } {
  const id = newSamlId();
  const top = m.status === 'Success' || m.status === 'PartialLogout' ? 'Success' : 'Requester';
  const sub = m.status === 'Success' ? '' : `<samlp:StatusCode Value="${STATUS}${m.status}"/>`;
  const xml =
    `<samlp:LogoutResponse ${PROTOCOL_NS} ID="${id}" Version="2.0" IssueInstant="${instant(m.now)}" Destination="${e(m.destination)}" InResponseTo="${e(m.inResponseTo)}">` +
    `<saml:Issuer>${e(m.issuer)}</saml:Issuer>` +
    `<samlp:Status>${sub ? `<samlp:StatusCode Value="${STATUS}${top}">${sub}</samlp:StatusCode>` : `<samlp:StatusCode Value="${STATUS}${top}"/>`}${m.message ? `<samlp:StatusMessage>${e(m.message)}</samlp:StatusMessage>` : ''}</samlp:Status>` +
    `</samlp:LogoutResponse>`;
  return { id, xml };
}
