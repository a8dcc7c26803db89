// The organisation's public signing keys as a JWK set, at /oidc/jwks.json: what an OpenID Connect IdP registers to
// accept our private_key_jwt client assertions (broker/upstream/oidc-client-keys.ts). The same keys as the SAML
// metadata (active, next and previous), so a key rollover needs nothing at the IdP: the next key is published before it
// signs anything. The kid is the key's JWK thumbprint (RFC 7638): stable for a key, the same on every node.
import { createPublicKey } from 'node:crypto';
import * as jose from 'jose';
import type { Tenant } from '../../plugins/tenant.ts';

/** The algorithm of our client assertions: the organisation's keys are RSA. */
export const CLIENT_ASSERTION_ALG = 'RS256';

/** The public JWK (with its thumbprint kid) of a signing certificate. */
export async function publicJwkOf(certificatePem: string): Promise<jose.JWK & { kid: string }> {
  const jwk = createPublicKey(certificatePem).export({ format: 'jwk' }) as jose.JWK;
  const kid = await jose.calculateJwkThumbprint(jwk, 'sha256');
  return { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, use: 'sig', alg: CLIENT_ASSERTION_ALG };
}

/** The organisation's published signing keys (active first, then next and previous). */
export async function organisationJwks(tenant: Tenant): Promise<{ keys: jose.JWK[] }> {
  const published = await tenant.store.signingKeys.published();
  return { keys: await Promise.all(published.map((k) => publicJwkOf(k.certificatePem))) };
}
