// Typed OpenID Connect refusals: every failure of an upstream OIDC login is an OidcError with a stable code (logged,
// audited, shown on the branded error page and in the admin's test connection), like SamlError for SAML. The codes
// live here, in one list, so that the error catalogue (src/errors.ts) can take them over as they are.
// `diagnosis` carries expected-vs-received facts for the admin's "test connection"; it is never shown to end users.
import { AppError } from '../../errors.ts';

export const OIDC_ERROR_CODES = [
  'oidc_state_mismatch', // the answer names no sign-in of this organisation waiting for an IdP
  'oidc_idp_error', // the IdP answered with an OAuth error (error=access_denied, ...)
  'oidc_code_rejected', // the token endpoint refused the code (replayed, expired, PKCE or redirect_uri mismatch)
  'oidc_client_auth_failed', // the token endpoint refused our client credentials (invalid_client)
  'oidc_nonce_mismatch', // the ID token's nonce is not the one this sign-in sent
  'oidc_replayed', // this ID token's nonce was already used
  'oidc_unknown_key', // the ID token is signed by a key the IdP's JWKS does not have (kid)
  'oidc_bad_signature', // the signature does not verify
  'oidc_weak_algorithm', // alg none, HMAC, or any algorithm off the allow-list
  'oidc_wrong_issuer', // iss is not the registered issuer (mix-up)
  'oidc_wrong_audience', // aud does not name our client, or azp names another party
  'oidc_expired', // exp is past (beyond the allowed skew)
  'oidc_not_yet_valid', // iat (or nbf) is in the future beyond the allowed skew
  'oidc_malformed', // not a well-formed token or response
  'oidc_too_large', // a message or token over the size limit
  'oidc_hosted_domain', // Google: the account's hosted domain (hd) is not one of the IdP's domains
  'oidc_unavailable', // the IdP's endpoints could not be reached
  'oidc_not_configured', // the IdP's registration is incomplete (no discovery document, client ID or secret)
  'oidc_email_unverified', // the IdP says the email is not verified: it can neither link nor create an account
] as const;
export type OidcErrorCode = (typeof OIDC_ERROR_CODES)[number];

export class OidcError extends AppError {
  constructor(code: OidcErrorCode, message: string, public readonly diagnosis: Record<string, unknown> = {}) {
    super(400, code, message, true, undefined);
    this.name = 'OidcError';
  }
}
