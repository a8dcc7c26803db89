// An OpenID Connect IdP's registration fields, from what an admin gives (console, API, CLI): the issuer URL (its
// discovery document fetched under the metadata SSRF rules) or a discovery document pasted by hand, the client ID
// and secret (sealed with the master key, bound to the organisation and issuer, like signing keys), scopes, the
// claim mapping preset and userinfo. Stored through saveIdentityProvider like every IdP, which checks the rest.
import type { SealedBox } from '../../crypto/sealed-box.ts';
import { ValidationError } from '../../errors.ts';
import type { IdentityProviderInput, MappingPreset, OidcClientAuth } from '../../store/identity-providers.ts';
import { OIDC_CLIENT_AUTHS } from '../../store/identity-providers.ts';
import { discoveryUrlOf, fetchDiscovery, readDiscovery, type OidcDiscovery } from './oidc-discovery.ts';

export interface OidcIdpSource {
  /** the issuer URL: its discovery document is fetched */
  issuer?: string;
  /** or the discovery document, by hand (JSON) */
  discovery?: string;
  clientId?: string;
  /** plain; sealed here. Absent on an edit: the stored one stays. */
  clientSecret?: string;
  clientAuth?: OidcClientAuth;
  scopes?: string;
  preset?: MappingPreset;
  userinfo?: boolean;
}

export const OIDC_PRESETS: MappingPreset[] = ['oidc-entra', 'oidc-google', 'oidc-okta', 'oidc-keycloak', 'custom'];
export const secretSealContext = (orgId: string, issuer: string) => `oidc-client-secret:${orgId}:${issuer}`;

/** The fields the discovery document gives an IdP registration, and when to fetch it again. */
export function fromDiscovery(
  d: OidcDiscovery,
  fetched: { url: string | null; at: Date; refreshSeconds: number },
): IdentityProviderInput {
  return {
    protocol: 'oidc',
    entityId: d.issuer,
    ssoUrl: d.authorization_endpoint,
    // Never the end_session_endpoint: sloUrl is where single logout sends a SAML LogoutRequest. RP-initiated logout
    // reads the endpoint from the discovery document.
    sloUrl: null,
    oidcDiscovery: JSON.stringify(d),
    metadataUrl: fetched.url,
    metadataFetchedAt: fetched.at,
    metadataRefreshAt: fetched.url ? new Date(fetched.at.getTime() + fetched.refreshSeconds * 1000) : null,
    metadataError: null,
  };
}

export async function oidcIdpInput(
  source: OidcIdpSource,
  opts: {
    orgId: string;
    box: SealedBox;
    now: Date;
    allowPrivate: boolean;
    timeoutMs: number;
    refreshSeconds: number;
    currentIssuer?: string | null;
  },
): Promise<IdentityProviderInput> {
  const problems: Record<string, string> = {};
  if (source.clientAuth !== undefined && !OIDC_CLIENT_AUTHS.includes(source.clientAuth))
    problems.oidcClientAuth = `must be one of ${OIDC_CLIENT_AUTHS.join(', ')}`;
  if (source.preset !== undefined && !OIDC_PRESETS.includes(source.preset))
    problems.mappingPreset = `must be one of ${OIDC_PRESETS.join(', ')}`;
  if (source.clientSecret !== undefined && (source.clientSecret.length < 1 || source.clientSecret.length > 1024))
    problems.oidcClientSecret = 'must be 1 to 1024 characters';
  if (Object.keys(problems).length) throw new ValidationError(problems);
  let input: IdentityProviderInput = { protocol: 'oidc' };
  if (source.discovery)
    input = fromDiscovery(readDiscovery(source.discovery, null, 'discovery'), {
      url: null,
      at: opts.now,
      refreshSeconds: opts.refreshSeconds,
    });
  else if (source.issuer) {
    const issuer = source.issuer.trim();
    const d = await fetchDiscovery(issuer, { allowPrivate: opts.allowPrivate, timeoutMs: opts.timeoutMs });
    input = fromDiscovery(d, { url: discoveryUrlOf(issuer), at: opts.now, refreshSeconds: opts.refreshSeconds });
  }
  const issuer = input.entityId ?? opts.currentIssuer;
  if (!issuer) throw new ValidationError({ issuer: 'is required' });
  // The secret is sealed to the issuer: a new issuer needs the secret again (it is another client anyway).
  if (
    opts.currentIssuer &&
    input.entityId &&
    input.entityId !== opts.currentIssuer &&
    source.clientSecret === undefined
  )
    throw new ValidationError({ oidcClientSecret: 'is required again when the issuer changes' });
  return {
    ...input,
    ...(source.clientId !== undefined && { oidcClientId: source.clientId.trim() }),
    ...(source.clientSecret !== undefined && {
      oidcClientSecret: opts.box.seal(source.clientSecret, secretSealContext(opts.orgId, issuer)),
    }),
    ...(source.clientAuth !== undefined && { oidcClientAuth: source.clientAuth }),
    ...(source.scopes !== undefined && { oidcScopes: source.scopes.trim().replace(/\s+/g, ' ') }),
    ...(source.preset !== undefined && { mappingPreset: source.preset }),
    ...(source.userinfo !== undefined && { oidcUserinfo: source.userinfo }),
  };
}
