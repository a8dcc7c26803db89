// Reads a partner's SAML metadata (upstream IdP or downstream SP) into registration fields. Metadata is hostile
// input like any other document: no DTDs, bounded size, one EntityDescriptor, certificates parsed and checked.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { DOMParser } from '@xmldom/xmldom';
import { ValidationError } from '../errors.ts';
import { BINDINGS } from '../saml/metadata.ts';
import { normaliseCertificate } from '../saml/certificates.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
export const MAX_METADATA_BYTES = 1024 * 1024;

type El = Element;
const children = (el: El | Document, ns: string, name: string): El[] => Array.from(el.getElementsByTagNameNS(ns, name) as unknown as ArrayLike<El>);

function parseEntity(xml: string, roleName: 'IDPSSODescriptor' | 'SPSSODescriptor'): { entity: El; role: El } {
  if (Buffer.byteLength(xml) > MAX_METADATA_BYTES) throw new ValidationError({ metadata: `is larger than ${MAX_METADATA_BYTES} bytes` });
  if (/<!DOCTYPE/i.test(xml)) throw new ValidationError({ metadata: 'must not contain a DOCTYPE' });
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: (level: string, msg: string) => { if (level !== 'warning') errors.push(msg); } } as never).parseFromString(xml, 'text/xml');
  if (errors.length || !doc?.documentElement) throw new ValidationError({ metadata: `is not well-formed XML${errors[0] ? `: ${errors[0]}` : ''}` });
  const root = doc.documentElement as unknown as El;
  let entity: El | undefined;
  if (root.namespaceURI === MD && root.localName === 'EntityDescriptor') entity = root;
  else if (root.namespaceURI === MD && root.localName === 'EntitiesDescriptor') {
    const all = children(root, MD, 'EntityDescriptor').filter((e) => children(e, MD, roleName).length > 0);
    if (all.length !== 1) throw new ValidationError({ metadata: `contains ${all.length} entities with an ${roleName}; upload the metadata of exactly one` });
    entity = all[0];
  }
  if (!entity) throw new ValidationError({ metadata: 'is not SAML 2.0 metadata (no md:EntityDescriptor)' });
  const role = children(entity, MD, roleName)[0];
  if (!role) throw new ValidationError({ metadata: roleName === 'IDPSSODescriptor' ? 'describes no identity provider (no IDPSSODescriptor)' : 'describes no service provider (no SPSSODescriptor)' });
  if (!entity.getAttribute('entityID')) throw new ValidationError({ metadata: 'has no entityID' });
  return { entity, role };
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

export interface ImportedIdp { entityId: string; ssoUrl: string; ssoBinding: 'redirect' | 'post'; sloUrl: string | null; certificates: string[]; signRequests: boolean }

export function parseIdpMetadata(xml: string): ImportedIdp {
  const { entity, role } = parseEntity(xml, 'IDPSSODescriptor');
  const sso = endpoint(role, 'SingleSignOnService', [BINDINGS.redirect, BINDINGS.post]);
  if (!sso) throw new ValidationError({ metadata: 'has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding' });
  const certs = certificates(role, 'signing');
  if (!certs.length) throw new ValidationError({ metadata: 'has no signing certificate for the identity provider' });
  return {
    entityId: entity.getAttribute('entityID')!,
    ssoUrl: sso.url,
    ssoBinding: sso.binding === BINDINGS.post ? 'post' : 'redirect',
    sloUrl: endpoint(role, 'SingleLogoutService', [BINDINGS.redirect, BINDINGS.post])?.url ?? null,
    certificates: certs,
    signRequests: role.getAttribute('WantAuthnRequestsSigned') === 'true',
  };
}

export interface ImportedSp { entityId: string; acsUrls: string[]; sloUrl: string | null; certificate: string | null; encryptionCertificate: string | null; wantAuthnRequestsSigned: boolean; signAssertion: boolean }

export function parseSpMetadata(xml: string): ImportedSp {
  const { entity, role } = parseEntity(xml, 'SPSSODescriptor');
  const acs = children(role, MD, 'AssertionConsumerService')
    .filter((e) => e.getAttribute('Binding') === BINDINGS.post && httpUrl(e.getAttribute('Location')))
    .sort((a, b) => (b.getAttribute('isDefault') === 'true' ? 1 : 0) - (a.getAttribute('isDefault') === 'true' ? 1 : 0) || Number(a.getAttribute('index') ?? 0) - Number(b.getAttribute('index') ?? 0))
    .map((e) => e.getAttribute('Location')!);
  if (!acs.length) throw new ValidationError({ metadata: 'has no AssertionConsumerService with the HTTP-POST binding' });
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

// Loopback, private, link-local (cloud metadata services), unique-local and unspecified ranges.
const PRIVATE = new BlockList();
for (const [net, bits] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['100.64.0.0', 10], ['0.0.0.0', 8]] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::1', 128], ['fc00::', 7], ['fe80::', 10], ['::', 128], ['::ffff:0:0', 96]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

/** Fetches metadata from an http(s) URL with a timeout and a size limit; redirects are not followed, and addresses
 *  inside private networks are refused unless the operator allows them (METADATA_ALLOW_PRIVATE). */
export async function fetchMetadata(url: string, opts: { timeoutMs?: number; maxBytes?: number; allowPrivate?: boolean } = {}): Promise<string> {
  const parsed = httpUrl(url) && new URL(url);
  if (!parsed) throw new ValidationError({ metadataUrl: 'must be an http(s) URL' });
  if (!opts.allowPrivate) {
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true }).catch(() => []);
    if (!addresses.length) throw new ValidationError({ metadataUrl: `could not be resolved (${host})` });
    if (addresses.some((a) => PRIVATE.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'))) {
      throw new ValidationError({ metadataUrl: 'points into a private network; set METADATA_ALLOW_PRIVATE=true if that is intended' });
    }
  }
  const max = opts.maxBytes ?? MAX_METADATA_BYTES;
  let res: Response;
  try {
    res = await fetch(parsed, { redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000), headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
  } catch (err) {
    throw new ValidationError({ metadataUrl: `could not be fetched (${(err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message})` });
  }
  if (res.status >= 300 && res.status < 400) throw new ValidationError({ metadataUrl: `redirects elsewhere (HTTP ${res.status}); use the final URL` });
  if (!res.ok) throw new ValidationError({ metadataUrl: `answered HTTP ${res.status}` });
  const reader = res.body?.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new ValidationError({ metadataUrl: `returned more than ${max} bytes` });
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks).toString('utf8');
}
