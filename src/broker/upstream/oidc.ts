// The OpenID Connect upstream protocol (we are the relying party): the authorization code flow with PKCE (S256),
// run by openid-client (a certified relying party) on the IdP's cached discovery document.
// - state is the login flow's id: the callback finds the flow waiting for this IdP by it (the flow service), and the
//   flow's browser binding is checked on the next page (continue.ts), as for a SAML answer.
// - The PKCE verifier is the flow's upstreamRequestId, kept server-side on the stored flow and never sent to the
//   browser; the nonce is derived from it (a hash), so nothing else needs storing and a nonce names one flow only.
// - The ID token is checked by openid-client: signature by the IdP's JWKS (fetched under the metadata SSRF rules,
//   refetched on an unknown kid, so a key rotation is followed), iss, aud, azp, exp, nonce, and the algorithm against
//   our allow-list (asymmetric algorithms only: never `none`, never HMAC, whose key would be our client secret or,
//   worse, a public key). We add the iat skew check and the email_verified rule.
// - Identity is (IdP, sub); for Entra ID (tid, oid), stable across the tenant's apps where sub is pairwise.
import { createHash } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import { coversEmail } from '../../orgs/remote/email-domains.ts';
import { fetchMetadata } from '../../orgs/remote/metadata-import.ts';
import { readDiscovery, type OidcDiscovery } from '../../orgs/remote/oidc-discovery.ts';
import { secretSealContext } from '../../orgs/remote/oidc-registration.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { entraGroups } from './entra-graph.ts';
import { clientAssertionKey } from './oidc-client-keys.ts';
import { OidcError } from './oidc-errors.ts';
import { mapProfile } from './profile.ts';
import { readAtMost } from './bounded-body.ts';
import type { UpstreamLogin, UpstreamProtocol } from './protocol.ts';

/** ID token algorithms we accept: asymmetric only. */
export const OIDC_ALLOWED_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
/** The largest callback query, token endpoint or userinfo answer we read. */
export const MAX_OIDC_RESPONSE_BYTES = 64 * 1024;

/** The sealing context of a login's ID token, kept for RP-initiated logout: bound to the organisation and the IdP,
 *  so a sealed token copied into another organisation's or IdP's session does not open there. */
export const idTokenSealContext = (orgId: string, idpId: string) => `oidc-id-token:${orgId}:${idpId}`;

/** Whether the IdP's discovery document names an end_session_endpoint (RP-initiated logout). */
export function offersEndSession(idp: IdentityProvider): boolean {
  try {
    return !!(idp.oidcDiscovery && discoveryOf(idp).end_session_endpoint);
  } catch {
    return false;
  }
}

/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the URL of the IdP's end_session_endpoint with
 * id_token_hint (the login's ID token, opened from its sealed copy), our client_id, our post-logout redirect URI and
 * `state`; null when the IdP offers no end_session_endpoint (the logout then stays local).
 */
export function endSessionUrl(
  ctx: AppContext,
  tenant: Tenant,
  idp: IdentityProvider,
  opts: { sealedIdToken: string | null; state: string },
): string | null {
  const endpoint = idp.oidcDiscovery ? discoveryOf(idp).end_session_endpoint : undefined;
  if (!endpoint) return null;
  const url = new URL(endpoint);
  if (opts.sealedIdToken) {
    try {
      url.searchParams.set(
        'id_token_hint',
        ctx.box.open(opts.sealedIdToken, idTokenSealContext(tenant.org.id, idp.id)).toString('utf8'),
      );
    } catch {
      // A token sealed under an earlier master key: the IdP will ask the user to confirm instead of trusting a hint.
    }
  }
  if (idp.oidcClientId) url.searchParams.set('client_id', idp.oidcClientId);
  url.searchParams.set('post_logout_redirect_uri', tenant.urls.oidcLogoutCallback);
  url.searchParams.set('state', opts.state);
  return url.href;
}

const nonceOf = (verifier: string) => createHash('sha256').update(`nonce:${verifier}`).digest('base64url');

export function discoveryOf(idp: IdentityProvider): OidcDiscovery {
  if (!idp.oidcDiscovery)
    throw new OidcError('oidc_not_configured', 'This identity provider has no discovery document yet.', {
      idp: idp.entityId,
    });
  try {
    return readDiscovery(idp.oidcDiscovery, idp.entityId);
  } catch (err) {
    if (err instanceof ValidationError)
      throw new OidcError(
        'oidc_not_configured',
        'The stored discovery document of this identity provider is not usable.',
        { problem: err.message },
      );
    throw err;
  }
}

/** The response with its body read up to `max` bytes (an IdP answer is hostile input like any other). */
async function bounded(res: Response, max: number): Promise<Response> {
  const body = await readAtMost(res, max);
  if (!body)
    throw new OidcError('oidc_too_large', 'The identity provider sent an answer that is too large.', { maxBytes: max });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** openid-client's configuration for `idp`: the cached discovery document, our client, our clock, and our fetch. */
export async function clientConfig(
  ctx: AppContext,
  tenant: Tenant,
  idp: IdentityProvider,
): Promise<client.Configuration> {
  const d = discoveryOf(idp);
  if (!idp.oidcClientId)
    throw new OidcError('oidc_not_configured', 'This identity provider has no client ID.', { idp: idp.entityId });
  let auth: client.ClientAuth;
  if (idp.oidcClientAuth === 'private_key_jwt') {
    // A client assertion signed with the organisation's active key (its JWKS URL is registered at the IdP).
    auth = client.PrivateKeyJwt(await clientAssertionKey(ctx, tenant));
  } else {
    if (!idp.oidcClientSecret)
      throw new OidcError('oidc_not_configured', 'This identity provider has no client secret.', { idp: idp.entityId });
    const secret = ctx.box.open(idp.oidcClientSecret, secretSealContext(tenant.org.id, idp.entityId)).toString('utf8');
    auth =
      idp.oidcClientAuth === 'client_secret_post' ? client.ClientSecretPost(secret) : client.ClientSecretBasic(secret);
  }
  const algs = OIDC_ALLOWED_ALGS.filter(
    (a) => !d.id_token_signing_alg_values_supported || d.id_token_signing_alg_values_supported.includes(a),
  );
  const config = new client.Configuration(
    d as client.ServerMetadata,
    idp.oidcClientId,
    {
      id_token_signed_response_alg: algs as unknown as string,
      [client.clockSkew]: Math.round((ctx.clock.now().getTime() - Date.now()) / 1000),
      [client.clockTolerance]: ctx.config.clockSkewSeconds,
    },
    auth,
  );
  const timeoutMs = ctx.config.metadataFetchTimeoutSeconds * 1000;
  config[client.customFetch] = async (url, options) => {
    // The token and userinfo endpoints, named by the checked discovery document: a bounded answer within the
    // metadata fetch timeout. (The JWKS is fetched by verifySignature under the metadata SSRF rules.)
    const res = await fetch(url, { ...options, signal: AbortSignal.timeout(timeoutMs) } as RequestInit).catch((err) => {
      throw new OidcError('oidc_unavailable', 'The identity provider could not be reached.', {
        url,
        problem: (err as Error).message,
      });
    });
    return bounded(res, MAX_OIDC_RESPONSE_BYTES);
  };
  // Plain http only where the operator allows private addresses (a lab or test IdP on the local network).
  if (ctx.config.metadataAllowPrivate) client.allowInsecureRequests(config);
  return config;
}

/** The IdPs' key sets by jwks_uri, shared by this process's logins; fetched again on a kid it does not have (a key
 *  rotation), at most once every JWKS_REFETCH_SECONDS so that forged kids cannot make us hammer the IdP. */
const jwksCache = new Map<string, { keys: jose.JSONWebKeySet; fetchedAt: number }>();
const JWKS_REFETCH_SECONDS = 30;

async function fetchJwks(ctx: AppContext, uri: string): Promise<jose.JSONWebKeySet> {
  let text: string;
  try {
    text = await fetchMetadata(uri, {
      allowPrivate: ctx.config.metadataAllowPrivate,
      timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
      accept: 'application/jwk-set+json, application/json',
      maxBytes: MAX_OIDC_RESPONSE_BYTES,
    });
  } catch (err) {
    throw new OidcError('oidc_unavailable', "The identity provider's signing keys could not be fetched.", {
      jwksUri: uri,
      problem: (err as Error).message,
    });
  }
  let keys: unknown;
  try {
    keys = JSON.parse(text);
  } catch {
    keys = null;
  }
  if (!keys || typeof keys !== 'object' || !Array.isArray((keys as { keys?: unknown }).keys))
    throw new OidcError('oidc_unavailable', "The identity provider's signing keys are not a JWK set.", {
      jwksUri: uri,
    });
  jwksCache.set(uri, { keys: keys as jose.JSONWebKeySet, fetchedAt: Date.now() });
  return keys as jose.JSONWebKeySet;
}

async function verifySignature(ctx: AppContext, d: OidcDiscovery, idToken: string) {
  const allowed = OIDC_ALLOWED_ALGS.filter(
    (a) => !d.id_token_signing_alg_values_supported || d.id_token_signing_alg_values_supported.includes(a),
  );
  const verifyWith = (set: jose.JSONWebKeySet) =>
    jose.compactVerify(idToken, jose.createLocalJWKSet(set), { algorithms: allowed });
  const cached = jwksCache.get(d.jwks_uri);
  try {
    await verifyWith(cached?.keys ?? (await fetchJwks(ctx, d.jwks_uri)));
  } catch (err) {
    if (
      !(err instanceof jose.errors.JWKSNoMatchingKey) ||
      !cached ||
      Date.now() - cached.fetchedAt < JWKS_REFETCH_SECONDS * 1000
    )
      throw joseRefusal(err, idToken);
    try {
      await verifyWith(await fetchJwks(ctx, d.jwks_uri));
    } catch (again) {
      throw joseRefusal(again, idToken);
    }
  }
}

const headerOf = (token: string): { kid?: string; alg?: string } => {
  try {
    return jose.decodeProtectedHeader(token) as { kid?: string; alg?: string };
  } catch {
    return {};
  }
};

function joseRefusal(err: unknown, idToken: string): unknown {
  if (err instanceof jose.errors.JWKSNoMatchingKey)
    return new OidcError(
      'oidc_unknown_key',
      'The sign-in token is signed by a key the identity provider does not publish.',
      { kid: headerOf(idToken).kid ?? null, alg: headerOf(idToken).alg ?? null },
    );
  if (err instanceof jose.errors.JWSSignatureVerificationFailed)
    return new OidcError('oidc_bad_signature', "The sign-in token's signature is not valid.", {});
  if (err instanceof jose.errors.JOSEAlgNotAllowed || err instanceof jose.errors.JOSENotSupported)
    return new OidcError('oidc_weak_algorithm', 'The sign-in token uses an algorithm that is not accepted.', {});
  if (err instanceof jose.errors.JOSEError)
    return new OidcError('oidc_malformed', 'The sign-in token could not be read.', { library: err.code });
  return err;
}

/** openid-client's (oauth4webapi's) refusals, as our codes. */
export function refusalOf(err: unknown): OidcError {
  if (err instanceof OidcError) return err;
  // openid-client wraps oauth4webapi's errors (and ours, from the fetch) in a ClientError: the cause says what failed.
  const wrapped = (err as { cause?: unknown }).cause;
  if (wrapped instanceof OidcError) return wrapped;
  if (wrapped instanceof Error && (err as Error).name === 'ClientError') err = wrapped;
  const e = err as {
    code?: string;
    error?: string;
    error_description?: string;
    message?: string;
    cause?: unknown;
    name?: string;
  };
  const cause = (e.cause ?? {}) as {
    claim?: string;
    header?: { alg?: string; kid?: string };
    alg?: string;
    expected?: unknown;
    claims?: Record<string, unknown>;
  };
  const msg = String(e.message ?? '');
  const diagnosis: Record<string, unknown> = { library: msg.slice(0, 300), ...(e.code && { libraryCode: e.code }) };
  if (cause.claim) diagnosis.claim = cause.claim;
  if (cause.expected !== undefined) diagnosis.expected = cause.expected;
  if (cause.claims && cause.claim) diagnosis.received = cause.claims[cause.claim];
  if (cause.header?.kid) diagnosis.kid = cause.header.kid;
  switch (e.code) {
    case 'OAUTH_AUTHORIZATION_RESPONSE_ERROR':
      return new OidcError('oidc_idp_error', 'The identity provider did not sign you in.', {
        ...diagnosis,
        error: e.error,
        description: e.error_description?.slice(0, 300),
      });
    case 'OAUTH_RESPONSE_BODY_ERROR':
      if (e.error === 'invalid_client' || e.error === 'unauthorized_client')
        return new OidcError(
          'oidc_client_auth_failed',
          "The identity provider refused the broker's client credentials.",
          { ...diagnosis, error: e.error },
        );
      return new OidcError(
        'oidc_code_rejected',
        "The identity provider refused this sign-in's code (it may have been used already, or expired).",
        { ...diagnosis, error: e.error, description: e.error_description?.slice(0, 300) },
      );
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      if (cause.claim === 'iss')
        return new OidcError(
          'oidc_wrong_issuer',
          'The sign-in token was issued by another identity provider.',
          diagnosis,
        );
      if (cause.claim === 'aud' || cause.claim === 'azp')
        return new OidcError('oidc_wrong_audience', 'The sign-in token was issued for another application.', diagnosis);
      if (cause.claim === 'nonce')
        return new OidcError('oidc_nonce_mismatch', 'The sign-in token does not belong to this sign-in.', diagnosis);
      if (cause.claim === 'state')
        return new OidcError('oidc_state_mismatch', 'The answer does not belong to this sign-in.', diagnosis);
      break;
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      if (cause.claim === 'nbf')
        return new OidcError('oidc_not_yet_valid', 'The sign-in token is not valid yet (check the clocks).', diagnosis);
      return new OidcError('oidc_expired', 'The sign-in token has expired (check the clocks).', diagnosis);
    case 'OAUTH_KEY_SELECTION_FAILED':
      return new OidcError(
        'oidc_unknown_key',
        'The sign-in token is signed by a key the identity provider does not publish.',
        diagnosis,
      );
    case 'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new OidcError('oidc_bad_signature', "The sign-in token's signature is not valid.", diagnosis);
    case 'OAUTH_UNSUPPORTED_OPERATION':
      return new OidcError(
        'oidc_weak_algorithm',
        'The sign-in token uses an algorithm that is not accepted.',
        diagnosis,
      );
    case 'OAUTH_INVALID_RESPONSE':
      if (/"alg"/.test(msg))
        return new OidcError(
          'oidc_weak_algorithm',
          'The sign-in token uses an algorithm that is not accepted.',
          diagnosis,
        );
      if (/"state"/.test(msg))
        return new OidcError('oidc_state_mismatch', 'The answer does not belong to this sign-in.', diagnosis);
      if (/"iss"/.test(msg))
        return new OidcError('oidc_wrong_issuer', 'The answer was issued by another identity provider.', diagnosis);
      break;
    default:
  }
  if (e.name === 'OidcError') return err as OidcError;
  return new OidcError('oidc_malformed', "The identity provider's answer could not be read.", diagnosis);
}

/** Claims as the attribute lists that mapProfile reads: strings and numbers as one value, arrays of strings as they are. */
function claimsAsAttributes(claims: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(claims)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = [String(v)];
    else if (Array.isArray(v)) out[k] = v.filter((x) => typeof x === 'string').slice(0, 1000) as string[];
  }
  return out;
}

/** Entra ID's groups overage reference, if the token carries one: where it says the groups are (the endpoint's
 *  origin and path only, for the audit log), or null when the source is not readable. */
function overageOf(claims: Record<string, unknown>): { source: string | null } | null {
  const names = claims._claim_names;
  if (!names || typeof names !== 'object' || !('groups' in names)) return null;
  const sourceName = (names as Record<string, unknown>).groups;
  const sources = claims._claim_sources;
  const endpoint =
    typeof sourceName === 'string' && sources && typeof sources === 'object'
      ? (sources as Record<string, { endpoint?: unknown }>)[sourceName]?.endpoint
      : undefined;
  try {
    const url = typeof endpoint === 'string' ? new URL(endpoint) : null;
    return { source: url ? `${url.origin}${url.pathname}`.slice(0, 300) : null };
  } catch {
    return { source: null };
  }
}

/** The upstream identity: (IdP, sub), or for Entra ID (tid, oid). */
function subjectOf(idp: IdentityProvider, claims: Record<string, unknown>): string {
  if (idp.mappingPreset === 'oidc-entra' && typeof claims.tid === 'string' && typeof claims.oid === 'string')
    return `${claims.tid}/${claims.oid}`;
  return String(claims.sub);
}

export const oidc: UpstreamProtocol = {
  name: 'oidc',

  async start(ctx, tenant, idp, { flowId, forceAuthn, loginHint }) {
    const config = await clientConfig(ctx, tenant, idp);
    const verifier = client.randomPKCECodeVerifier();
    const params: Record<string, string> = {
      redirect_uri: tenant.urls.oidcCallback,
      scope: idp.oidcScopes,
      response_type: 'code',
      state: flowId,
      nonce: nonceOf(verifier),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (forceAuthn) params.prompt = 'login';
    // A hint only (OpenID Connect Core 3.1.2.1): the IdP prefills its sign-in; who signs in is still what the ID token says.
    if (loginHint) params.login_hint = loginHint;
    // Google Workspace: offer only accounts of the hosted domain (the ID token's hd is checked all the same).
    if (idp.mappingPreset === 'oidc-google' && idp.emailDomains.length === 1 && !idp.emailDomains[0].startsWith('*'))
      params.hd = idp.emailDomains[0];
    return {
      requestId: verifier,
      dispatch: { binding: 'redirect', url: client.buildAuthorizationUrl(config, params).href },
    };
  },

  async finish(ctx, tenant, idp, returned, expectedRequestId) {
    // OpenID Connect has no unsolicited login at the callback (third-party initiated login starts a normal flow).
    if (!expectedRequestId)
      throw new OidcError(
        'oidc_state_mismatch',
        'This answer does not belong to a sign-in that is waiting. Start again from your application.',
      );
    if (returned.message.length > MAX_OIDC_RESPONSE_BYTES)
      throw new OidcError('oidc_too_large', 'The answer of the identity provider is too large.');
    const now = ctx.clock.now();
    const config = await clientConfig(ctx, tenant, idp);
    const nonce = nonceOf(expectedRequestId);
    let claims: Record<string, unknown>;
    let accessToken: string;
    let idToken: string;
    try {
      const callback = new URL(tenant.urls.oidcCallback);
      callback.search = returned.message;
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: expectedRequestId,
        expectedNonce: nonce,
        expectedState: returned.relayState ?? '',
        idTokenExpected: true,
      });
      claims = { ...(tokens.claims() as Record<string, unknown>) };
      accessToken = tokens.access_token;
      idToken = tokens.id_token!;
      // openid-client takes the token endpoint's TLS for the ID token's origin and does not check its signature
      // (OpenID Connect Core 3.1.3.7 allows that); we check it all the same, against the IdP's JWKS.
      await verifySignature(ctx, discoveryOf(idp), tokens.id_token!);
    } catch (err) {
      throw refusalOf(err);
    }
    const skew = ctx.config.clockSkewSeconds;
    if (typeof claims.iat === 'number' && claims.iat > now.getTime() / 1000 + skew)
      throw new OidcError('oidc_not_yet_valid', 'The sign-in token was issued in the future (check the clocks).', {
        claim: 'iat',
        received: claims.iat,
        now: Math.floor(now.getTime() / 1000),
      });
    if (idp.oidcUserinfo && config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await client.fetchUserInfo(config, accessToken, String(claims.sub));
        // The ID token's own claims win: they are signed, userinfo only fills in what it lacks.
        claims = { ...(info as Record<string, unknown>), ...claims };
      } catch (err) {
        throw refusalOf(err);
      }
    }
    if (
      idp.mappingPreset === 'oidc-google' &&
      idp.emailDomains.length &&
      !(typeof claims.hd === 'string' && coversEmail(idp.emailDomains, `x@${claims.hd}`))
    ) {
      throw new OidcError(
        'oidc_hosted_domain',
        "This Google account does not belong to the organisation's Google Workspace.",
        { claim: 'hd', received: claims.hd ?? null, expected: idp.emailDomains },
      );
    }
    const attributes = claimsAsAttributes(claims);
    // Entra ID sends `email` only as an optional claim; its preferred_username (the UPN) stands in for it.
    if (idp.mappingPreset === 'oidc-entra' && !attributes.email && attributes.preferred_username)
      attributes.email = attributes.preferred_username;
    // Entra ID's groups overage: over 200 groups, the token names a Graph query (_claim_names, _claim_sources)
    // instead of the groups. We read them from Microsoft Graph (entra-graph.ts: the configured Graph origin only,
    // never the endpoint the token names) so that group conditions still apply. When that fails, or the IdP is not
    // an Entra ID one (we know of no other source to ask, and its access token must not go to Microsoft), the sign-in
    // stops with oidc_groups_unavailable: going on without groups would let a "deny group" rule pass and would release
    // an empty list to apps that decide on it (docs/oidc-idps.md).
    const groupsOverage = overageOf(claims);
    if (groupsOverage) {
      if (idp.mappingPreset !== 'oidc-entra')
        throw new OidcError('oidc_groups_unavailable', 'Your groups could not be read from the identity provider.', {
          source: groupsOverage.source,
          problem: 'a groups overage is read from Microsoft Graph for the Entra ID preset only',
        });
      attributes.groups = await entraGroups(ctx, typeof claims.oid === 'string' ? claims.oid : '', accessToken);
    }
    const subject = subjectOf(idp, claims);
    const profile = mapProfile(idp, { nameId: subject, attributes });
    // An email the IdP says is unverified never links an account nor creates one (src/users/resolve-user.ts).
    if (claims.email_verified === false || claims.email_verified === 'false') profile.emailUnverified = true;
    const diagnosis: Record<string, unknown> = {
      sub: claims.sub,
      iss: claims.iss,
      ...(typeof claims.sid === 'string' && { sid: claims.sid }),
      ...(groupsOverage && { groupsOverage: true }),
    };
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : now.getTime();
    const login: UpstreamLogin = {
      result: {
        nameId: subject,
        ...(typeof claims.sid === 'string' && { sessionIndex: claims.sid }),
        attributes,
        assertionId: nonce,
        // Sealed before it is stored with the flow and then the broker session: the id_token_hint of RP-initiated logout.
        idTokenSealed: ctx.box.seal(idToken, idTokenSealContext(tenant.org.id, idp.id)),
      },
      profile,
      signed: { response: false, assertion: true },
      ...(groupsOverage && { groupsOverage: { ...groupsOverage, groups: attributes.groups!.length } }),
      // Kept until the token could no longer be accepted anyway (its expiry plus the allowed skew).
      once: { key: `${idp.id}:${nonce}`, keepUntil: new Date(Math.max(exp, now.getTime()) + skew * 1000), diagnosis },
    };
    return login;
  },

  async readUnsolicited() {
    // Reached only when no flow of this organisation waits for the answer's state.
    throw new OidcError(
      'oidc_state_mismatch',
      'This answer does not belong to a sign-in that is waiting. Start again from your application.',
    );
  },

  async consume(_ctx, tenant, _idp, login, now) {
    const first = await tenant.store.oneTimeUse.consume('oidc_nonce', login.once.key, login.once.keepUntil, now);
    if (!first) throw new OidcError('oidc_replayed', 'This sign-in token was already used.', login.once.diagnosis);
  },
};
