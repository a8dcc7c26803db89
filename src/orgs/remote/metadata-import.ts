// Reads a partner's SAML metadata (upstream IdP or downstream SP) into registration fields, and fetches it from a
// URL. Metadata is hostile input like any other document: no DTDs, bounded size, one EntityDescriptor (or the one
// with a known entity ID on a refresh), certificates parsed and checked.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { DOMParser } from '@xmldom/xmldom';
import { ValidationError } from '../../errors.ts';
import { BINDINGS } from '../../saml/metadata.ts';
import { normaliseCertificate } from '../../saml/certificates.ts';
import { verifyMetadataSignature } from '../../saml/metadata-signature.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
export const MAX_METADATA_BYTES = 1024 * 1024;

type El = Element;
const children = (el: El | Document, ns: string, name: string): El[] =>
  Array.from(el.getElementsByTagNameNS(ns, name) as unknown as ArrayLike<El>);

function parseDocument(xml: string): El {
  if (Buffer.byteLength(xml) > MAX_METADATA_BYTES)
    throw new ValidationError({ metadata: `is larger than ${MAX_METADATA_BYTES} bytes` });
  if (/<!DOCTYPE/i.test(xml)) throw new ValidationError({ metadata: 'must not contain a DOCTYPE' });
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: (level: string, msg: string) => {
      if (level !== 'warning') errors.push(msg);
    },
  } as never).parseFromString(xml, 'text/xml');
  if (errors.length || !doc?.documentElement)
    throw new ValidationError({ metadata: `is not well-formed XML${errors[0] ? `: ${errors[0]}` : ''}` });
  return doc.documentElement as unknown as El;
}

/** The entity to read: the only one with the wanted role, or (on a refresh, where the entity ID is known and never
 *  changes) the one with that entity ID, even inside an aggregate of many. */
function pickEntity(
  root: El,
  roleName: 'IDPSSODescriptor' | 'SPSSODescriptor',
  entityId?: string,
): { entity: El; role: El } {
  const isMetadata = (name: string) => root.namespaceURI === MD && root.localName === name;
  let entity: El | undefined;
  if (!isMetadata('EntityDescriptor') && !isMetadata('EntitiesDescriptor'))
    throw new ValidationError({ metadata: 'is not SAML 2.0 metadata (no md:EntityDescriptor)' });
  if (entityId !== undefined) {
    const all = isMetadata('EntityDescriptor') ? [root] : children(root, MD, 'EntityDescriptor');
    entity = all.find((e) => e.getAttribute('entityID') === entityId);
    if (!entity) throw new ValidationError({ metadata: `does not contain the entity "${entityId}"` });
  } else if (isMetadata('EntityDescriptor')) entity = root;
  else {
    const all = children(root, MD, 'EntityDescriptor').filter((e) => children(e, MD, roleName).length > 0);
    if (all.length !== 1)
      throw new ValidationError({
        metadata: `contains ${all.length} entities with an ${roleName}; upload the metadata of exactly one`,
      });
    entity = all[0];
  }
  if (!entity) throw new ValidationError({ metadata: 'is not SAML 2.0 metadata (no md:EntityDescriptor)' });
  const role = children(entity, MD, roleName)[0];
  if (!role)
    throw new ValidationError({
      metadata:
        roleName === 'IDPSSODescriptor'
          ? 'describes no identity provider (no IDPSSODescriptor)'
          : 'describes no service provider (no SPSSODescriptor)',
    });
  if (!entity.getAttribute('entityID')) throw new ValidationError({ metadata: 'has no entityID' });
  return { entity, role };
}

function parseEntity(xml: string, roleName: 'IDPSSODescriptor' | 'SPSSODescriptor') {
  return pickEntity(parseDocument(xml), roleName);
}

function certificates(role: El, use: 'signing' | 'encryption'): string[] {
  const out: string[] = [];
  for (const kd of children(role, MD, 'KeyDescriptor')) {
    const u = kd.getAttribute('use');
    if (u && u !== use) continue;
    for (const c of children(kd, DS, 'X509Certificate')) {
      try {
        out.push(normaliseCertificate(c.textContent ?? ''));
      } catch {
        throw new ValidationError({ metadata: 'contains a certificate that cannot be parsed' });
      }
    }
  }
  return [...new Set(out)];
}

const httpUrl = (value: string | null) => {
  if (!value) return null;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? value : null;
  } catch {
    return null;
  }
};

function endpoint(role: El, name: string, bindings: string[]): { url: string; binding: string } | null {
  const eps = children(role, MD, name);
  for (const binding of bindings) {
    const ep = eps.find((e) => e.getAttribute('Binding') === binding && httpUrl(e.getAttribute('Location')));
    if (ep) return { url: ep.getAttribute('Location')!, binding };
  }
  return null;
}

/** `signRequests` is present only when the metadata asks for signed requests (WantAuthnRequestsSigned="true"): it can
 *  turn signing on, never off, since requests are signed by default and an IdP that does not ask ignores it. */
export interface ImportedIdp {
  entityId: string;
  ssoUrl: string;
  ssoBinding: 'redirect' | 'post';
  sloUrl: string | null;
  certificates: string[];
  signRequests?: true;
}

export function parseIdpMetadata(xml: string): ImportedIdp {
  return idpFromEntity(parseEntity(xml, 'IDPSSODescriptor'));
}

function idpFromEntity({ entity, role }: { entity: El; role: El }): ImportedIdp {
  const sso = endpoint(role, 'SingleSignOnService', [BINDINGS.redirect, BINDINGS.post]);
  if (!sso)
    throw new ValidationError({ metadata: 'has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding' });
  const certs = certificates(role, 'signing');
  if (!certs.length) throw new ValidationError({ metadata: 'has no signing certificate for the identity provider' });
  return {
    entityId: entity.getAttribute('entityID')!,
    ssoUrl: sso.url,
    ssoBinding: sso.binding === BINDINGS.post ? 'post' : 'redirect',
    sloUrl: endpoint(role, 'SingleLogoutService', [BINDINGS.redirect, BINDINGS.post])?.url ?? null,
    certificates: certs,
    ...(role.getAttribute('WantAuthnRequestsSigned') === 'true' && { signRequests: true as const }),
  };
}

export interface IdpMetadataDocument {
  idp: ImportedIdp;
  /** the earliest validUntil on the entity or any EntitiesDescriptor around it */
  validUntil: Date | null;
  /** the shortest cacheDuration on the entity or any EntitiesDescriptor around it */
  cacheDurationSeconds: number | null;
}

/**
 * Reads one known IdP (by entity ID) out of a fetched metadata document, for a scheduled refresh. With a
 * `signingCertificate`, the document's root must carry a signature by that certificate, and everything is read from
 * the copy the signature covers (never from the document as received, which may wrap extra content around it).
 * Throws a ValidationError for a refused document, a SamlError for a refused signature.
 */
export function readIdpMetadata(
  xml: string,
  opts: { entityId: string; signingCertificate?: string | null },
): IdpMetadataDocument {
  let root = parseDocument(xml);
  if (opts.signingCertificate) root = verifyMetadataSignature(root, opts.signingCertificate);
  const picked = pickEntity(root, 'IDPSSODescriptor', opts.entityId);
  // validUntil and cacheDuration apply to everything inside the element that carries them.
  const scopes: El[] = [];
  for (let el: El | null = picked.entity; el; el = el === root ? null : (el.parentNode as El | null)) scopes.push(el);
  let validUntil: Date | null = null;
  let cacheDurationSeconds: number | null = null;
  for (const el of scopes) {
    const until = el.getAttribute('validUntil');
    if (until) {
      const at = new Date(until);
      if (Number.isNaN(at.getTime()))
        throw new ValidationError({ metadata: `has an unreadable validUntil ("${until}")` });
      if (!validUntil || at < validUntil) validUntil = at;
    }
    const cache = el.getAttribute('cacheDuration');
    if (cache) {
      const seconds = parseXsDuration(cache);
      if (seconds === null) throw new ValidationError({ metadata: `has an unreadable cacheDuration ("${cache}")` });
      if (cacheDurationSeconds === null || seconds < cacheDurationSeconds) cacheDurationSeconds = seconds;
    }
  }
  return { idp: idpFromEntity(picked), validUntil, cacheDurationSeconds };
}

/** xs:duration (PnYnMnDTnHnMnS) in seconds; months and years count as 30 and 365 days, which is plenty for a
 *  cache lifetime. Negative or malformed durations give null. */
export function parseXsDuration(value: string): number | null {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value.trim());
  if (!m || value.trim() === 'P' || value.trim().endsWith('T')) return null;
  const [, y, mo, d, h, mi, s] = m.map((v) => Number(v ?? 0));
  return y * 365 * 86400 + mo * 30 * 86400 + d * 86400 + h * 3600 + mi * 60 + s;
}

export interface ImportedSp {
  entityId: string;
  acsUrls: string[];
  sloUrl: string | null;
  certificate: string | null;
  encryptionCertificate: string | null;
  wantAuthnRequestsSigned: boolean;
  signAssertion: boolean;
}

export function parseSpMetadata(xml: string): ImportedSp {
  const { entity, role } = parseEntity(xml, 'SPSSODescriptor');
  const acs = children(role, MD, 'AssertionConsumerService')
    .filter((e) => e.getAttribute('Binding') === BINDINGS.post && httpUrl(e.getAttribute('Location')))
    .sort(
      (a, b) =>
        (b.getAttribute('isDefault') === 'true' ? 1 : 0) - (a.getAttribute('isDefault') === 'true' ? 1 : 0) ||
        Number(a.getAttribute('index') ?? 0) - Number(b.getAttribute('index') ?? 0),
    )
    .map((e) => e.getAttribute('Location')!);
  if (!acs.length)
    throw new ValidationError({ metadata: 'has no AssertionConsumerService with the HTTP-POST binding' });
  const signing = certificates(role, 'signing');
  return {
    entityId: entity.getAttribute('entityID')!,
    acsUrls: [...new Set(acs)],
    sloUrl: endpoint(role, 'SingleLogoutService', [BINDINGS.redirect, BINDINGS.post])?.url ?? null,
    certificate: signing[0] ?? null,
    encryptionCertificate: certificates(role, 'encryption')[0] ?? null,
    wantAuthnRequestsSigned: role.getAttribute('AuthnRequestsSigned') === 'true',
    signAssertion: role.getAttribute('WantAssertionsSigned') === 'true',
  };
}

// Every address that is not plainly on the public internet (the IANA special-purpose registries): loopback, private,
// shared (carrier-grade NAT), link-local (cloud metadata services), unspecified, IETF-reserved, documentation,
// benchmarking, multicast and reserved IPv4; and in IPv6 the same, plus every form that carries an IPv4 address
// inside it (IPv4-mapped and -compatible, NAT64, 6to4, Teredo), through which an internal IPv4 address could be reached.
const PRIVATE = new BlockList();
const PRIVATE_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const PRIVATE_V6: [string, number][] = [
  ['::', 96],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];
for (const [net, bits] of PRIVATE_V4) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of PRIVATE_V6) PRIVATE.addSubnet(net, bits, 'ipv6');

export const MAX_METADATA_REDIRECTS = 5;

export interface FetchMetadataOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** METADATA_ALLOW_PRIVATE: every address is allowed, private networks included */
  allowPrivate?: boolean;
  /** private addresses or CIDR ranges allowed all the same (one internal IdP), every other private address refused */
  allowAddresses?: string[];
  /** the Accept header (default: SAML metadata); OpenID Connect discovery and JWKS ask for JSON */
  accept?: string;
}

const PRIVATE_HINT = 'set METADATA_ALLOW_PRIVATE=true if that is intended';

class RefusedAddressError extends Error {
  constructor(readonly host: string) {
    super(`${host} is in a private network`);
  }
}

function addressPolicy(opts: FetchMetadataOptions): (address: string, family: number) => boolean {
  const allowed = new BlockList();
  for (const entry of opts.allowAddresses ?? []) {
    const [address, bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits !== undefined) allowed.addSubnet(address, Number(bits), type);
    else allowed.addAddress(address, type);
  }
  return (address, family) => {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    return !!opts.allowPrivate || !PRIVATE.check(address, type) || allowed.check(address, type);
  };
}

/** A DNS lookup for the socket itself that refuses private addresses: the address checked is the address connected
 *  to, so a name that resolves differently a second time (DNS rebinding) cannot slip through. */
function guardedLookup(allowedAddress: (address: string, family: number) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      if (!list.length || list.some((a) => !allowedAddress(a.address, a.family)))
        return callback(new RefusedAddressError(hostname) as NodeJS.ErrnoException, '', 0);
      if (options.all) callback(null, list);
      else callback(null, list[0].address, list[0].family);
    });
  };
}

function get(
  url: URL,
  signal: AbortSignal,
  lookup: LookupFunction,
  accept = 'application/samlmetadata+xml, application/xml, text/xml',
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', signal, lookup, agent: false, headers: { accept } }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function readBody(res: IncomingMessage, max: number): Promise<string> {
  if (Number(res.headers['content-length'] ?? 0) > max) {
    res.destroy();
    throw new ValidationError({ metadataUrl: `returned more than ${max} bytes` });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > max) {
      res.destroy();
      throw new ValidationError({ metadataUrl: `returned more than ${max} bytes` });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Fetches metadata from an http(s) URL within one timeout and a size limit. Redirects are followed by hand (at most
 * MAX_METADATA_REDIRECTS, never from https down to http) so that every hop is checked like the first: addresses
 * inside private networks are refused unless the operator allows them (METADATA_ALLOW_PRIVATE), whether the URL
 * names them directly or through DNS, so a partner's URL cannot be used to reach the broker's own network.
 */
export async function fetchMetadata(url: string, opts: FetchMetadataOptions = {}): Promise<string> {
  let current = httpUrl(url) && new URL(url);
  if (!current) throw new ValidationError({ metadataUrl: 'must be an http(s) URL' });
  const allowedAddress = addressPolicy(opts);
  const lookup = guardedLookup(allowedAddress);
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
  for (let hop = 0; ; hop++) {
    const where = hop === 0 ? 'points' : `redirects (to ${current.host})`;
    const host = current.hostname.replace(/^\[|\]$/g, '');
    // Literal addresses never go through the lookup, so they are checked here.
    if (isIP(host) && !allowedAddress(host, isIP(host)))
      throw new ValidationError({ metadataUrl: `${where} into a private network; ${PRIVATE_HINT}` });
    let res: IncomingMessage;
    try {
      res = await get(current, signal, lookup, opts.accept);
    } catch (err) {
      if (err instanceof RefusedAddressError)
        throw new ValidationError({ metadataUrl: `${where} into a private network; ${PRIVATE_HINT}` });
      if (signal.aborted) throw new ValidationError({ metadataUrl: 'could not be fetched (timed out)' });
      if ((err as NodeJS.ErrnoException).code === 'ENOTFOUND')
        throw new ValidationError({ metadataUrl: `could not be resolved (${host})` });
      throw new ValidationError({ metadataUrl: `could not be fetched (${(err as Error).message})` });
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location) {
      res.resume();
      if (hop >= MAX_METADATA_REDIRECTS)
        throw new ValidationError({ metadataUrl: `redirects more than ${MAX_METADATA_REDIRECTS} times` });
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new ValidationError({ metadataUrl: `redirects to an invalid address (${location.slice(0, 200)})` });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new ValidationError({ metadataUrl: `redirects to a non-http(s) address (${next.protocol})` });
      if (current.protocol === 'https:' && next.protocol === 'http:')
        throw new ValidationError({ metadataUrl: 'redirects from https to plain http' });
      current = next;
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new ValidationError({ metadataUrl: `answered HTTP ${status}` });
    }
    try {
      return await readBody(res, opts.maxBytes ?? MAX_METADATA_BYTES);
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      if (signal.aborted) throw new ValidationError({ metadataUrl: 'could not be fetched (timed out)' });
      throw new ValidationError({ metadataUrl: `could not be fetched (${(err as Error).message})` });
    }
  }
}
