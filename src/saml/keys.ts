// Parsed keys, kept per process. Node parses a PEM string again on every sign or verify call (an RSA private key
// costs about as much to parse as to sign with), so each PEM is turned into a KeyObject once. Keys are public
// material or already in memory (SigningCredentials); the map only grows by the keys of configured peers.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { certificateBody } from './certificates.ts';

const MAX_KEYS = 10_000;
const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();

function memo(map: Map<string, KeyObject>, pem: string, parse: (pem: string) => KeyObject): KeyObject {
  let key = map.get(pem);
  if (!key) {
    if (map.size >= MAX_KEYS) map.clear();
    key = parse(pem);
    map.set(pem, key);
  }
  return key;
}

/** The private key of a PEM (PKCS#8 or PKCS#1). */
export const privateKeyObject = (pem: string) => memo(privateKeys, pem, createPrivateKey);
/** The public key of a PEM certificate (or public key). */
export const publicKeyObject = (pem: string) => memo(publicKeys, pem, createPublicKey);

const keyInfos = new Map<string, string>();
/** The <X509Data> we publish in our signatures' KeyInfo, built once per certificate (xml-crypto would parse the
 *  certificate on every signature to build it). */
export function keyInfoContent(certificatePem: string) {
  let body = keyInfos.get(certificatePem);
  if (body === undefined) {
    if (keyInfos.size >= MAX_KEYS) keyInfos.clear();
    body = certificateBody(certificatePem);
    keyInfos.set(certificatePem, body);
  }
  const cert = body;
  return ({ prefix }: { prefix?: string | null }) => {
    const p = prefix ? `${prefix}:` : '';
    return `<${p}X509Data><${p}X509Certificate>${cert}</${p}X509Certificate></${p}X509Data>`;
  };
}
