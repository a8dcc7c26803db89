// Signature and digest algorithms we accept. SHA-1 is broken for signatures: refused unless an IdP or app is
// explicitly marked legacy.
export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

const SIGNATURE: Record<string, { hash: string; weak: boolean }> = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': { hash: 'sha256', weak: false },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': { hash: 'sha384', weak: false },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { hash: 'sha512', weak: false },
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': { hash: 'sha1', weak: true },
};
const DIGEST: Record<string, { hash: string; weak: boolean }> = {
  'http://www.w3.org/2001/04/xmlenc#sha256': { hash: 'sha256', weak: false },
  'http://www.w3.org/2001/04/xmldsig-more#sha384': { hash: 'sha384', weak: false },
  'http://www.w3.org/2001/04/xmlenc#sha512': { hash: 'sha512', weak: false },
  'http://www.w3.org/2000/09/xmldsig#sha1': { hash: 'sha1', weak: true },
};

export type AlgorithmVerdict = 'ok' | 'weak' | 'unknown';

export function signatureAlgorithm(
  uri: string | null | undefined,
  allowSha1: boolean,
): { verdict: AlgorithmVerdict; hash?: string } {
  const alg = uri ? SIGNATURE[uri] : undefined;
  if (!alg) return { verdict: 'unknown' };
  if (alg.weak && !allowSha1) return { verdict: 'weak' };
  return { verdict: 'ok', hash: alg.hash };
}

/** Node's name of the hash of a digest algorithm that is accepted (SHA-1 only where allowed), or undefined. */
export function digestHash(uri: string | null | undefined, allowSha1: boolean): string | undefined {
  return digestAlgorithm(uri, allowSha1) === 'ok' ? DIGEST[uri!].hash : undefined;
}

export function digestAlgorithm(uri: string | null | undefined, allowSha1: boolean): AlgorithmVerdict {
  const alg = uri ? DIGEST[uri] : undefined;
  if (!alg) return 'unknown';
  return alg.weak && !allowSha1 ? 'weak' : 'ok';
}
