// An OpenID Connect IdP's discovery document (/.well-known/openid-configuration): fetched under the same SSRF rules,
// timeout and size limit as SAML metadata (fetchMetadata), read as hostile JSON, and kept on the IdP registration
// (oidcDiscovery) so that a login needs no fetch but the JWKS. The issuer inside must be exactly the issuer asked
// for (OpenID Connect Discovery 1.0, section 4.3), or any document could claim to speak for any issuer.
import { ValidationError } from '../../errors.ts';
import { fetchMetadata, type FetchMetadataOptions } from './metadata-import.ts';

/** The fields of a discovery document the broker uses. */
export interface OidcDiscovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  end_session_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  code_challenge_methods_supported?: string[];
}

export const MAX_DISCOVERY_BYTES = 256 * 1024;

export const discoveryUrlOf = (issuer: string) => `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;

const isHttpUrl = (v: unknown): v is string => {
  if (typeof v !== 'string' || v.length > 2048) return false;
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
  } catch {
    return false;
  }
};
const strings = (v: unknown) =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length <= 100).slice(0, 50) : undefined;

/** Reads a discovery document (JSON text or parsed) for `expectedIssuer`; throws a ValidationError on `field`. */
export function readDiscovery(doc: string | unknown, expectedIssuer: string | null, field = 'issuer'): OidcDiscovery {
  let raw: unknown = doc;
  if (typeof doc === 'string') {
    if (Buffer.byteLength(doc) > MAX_DISCOVERY_BYTES)
      throw new ValidationError({ [field]: `the discovery document is larger than ${MAX_DISCOVERY_BYTES} bytes` });
    try {
      raw = JSON.parse(doc);
    } catch {
      throw new ValidationError({ [field]: 'the discovery document is not JSON' });
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new ValidationError({ [field]: 'the discovery document is not a JSON object' });
  const d = raw as Record<string, unknown>;
  if (!isHttpUrl(d.issuer)) throw new ValidationError({ [field]: 'the discovery document has no issuer URL' });
  if (expectedIssuer !== null && d.issuer !== expectedIssuer)
    throw new ValidationError({
      [field]: `the discovery document is for the issuer "${String(d.issuer).slice(0, 200)}", not "${expectedIssuer}"`,
    });
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const)
    if (!isHttpUrl(d[k])) throw new ValidationError({ [field]: `the discovery document has no valid ${k}` });
  const rt = strings(d.response_types_supported);
  if (rt && !rt.includes('code'))
    throw new ValidationError({ [field]: 'the identity provider does not support the authorization code flow' });
  const pkce = strings(d.code_challenge_methods_supported);
  if (pkce && !pkce.includes('S256'))
    throw new ValidationError({ [field]: 'the identity provider does not support PKCE with S256' });
  return {
    issuer: d.issuer as string,
    authorization_endpoint: d.authorization_endpoint as string,
    token_endpoint: d.token_endpoint as string,
    jwks_uri: d.jwks_uri as string,
    ...(isHttpUrl(d.userinfo_endpoint) && { userinfo_endpoint: d.userinfo_endpoint }),
    ...(isHttpUrl(d.end_session_endpoint) && { end_session_endpoint: d.end_session_endpoint }),
    ...(strings(d.id_token_signing_alg_values_supported) && {
      id_token_signing_alg_values_supported: strings(d.id_token_signing_alg_values_supported),
    }),
    ...(strings(d.token_endpoint_auth_methods_supported) && {
      token_endpoint_auth_methods_supported: strings(d.token_endpoint_auth_methods_supported),
    }),
    ...(pkce && { code_challenge_methods_supported: pkce }),
  };
}

/** Fetches and reads the discovery document of `issuer` (an issuer URL, exactly as the IdP names itself). */
export async function fetchDiscovery(
  issuer: string,
  opts: FetchMetadataOptions & { field?: string } = {},
): Promise<OidcDiscovery> {
  const field = opts.field ?? 'issuer';
  if (!isHttpUrl(issuer)) throw new ValidationError({ [field]: 'must be an http(s) URL' });
  let text: string;
  try {
    text = await fetchMetadata(discoveryUrlOf(issuer), {
      ...opts,
      accept: 'application/json',
      maxBytes: MAX_DISCOVERY_BYTES,
    });
  } catch (err) {
    // fetchMetadata names its own field (metadataUrl); here the admin typed an issuer.
    if (err instanceof ValidationError)
      throw new ValidationError({
        [field]: `discovery document: ${Object.values(err.fields ?? {})[0] ?? err.message}`,
      });
    throw err;
  }
  return readDiscovery(text, issuer, field);
}
