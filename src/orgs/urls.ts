// Every URL of an organisation, derived from its slug and the configured base domain. Entity IDs are the
// metadata URLs, as most IdPs and SPs expect; they must never change for an organisation (slugs are immutable).
import type { Config } from '../config/config.ts';

export interface OrgUrls {
  base: string;
  login: string;
  admin: string;
  idpEntityId: string;
  idpMetadata: string;
  idpSso: string;
  idpSlo: string;
  spEntityId: string;
  spMetadata: string;
  spAcs: string;
  spSlo: string;
  /** the one redirect URI of the organisation for every OpenID Connect IdP */
  oidcCallback: string;
  /** where OpenID Connect IdPs send the browser back after RP-initiated logout (post_logout_redirect_uri) */
  oidcLogoutCallback: string;
  /** third-party initiated login (the initiate_login_uri to register at OpenID Connect IdPs) */
  oidcInitiate: string;
  /** the organisation's public signing keys, for private_key_jwt client authentication at OpenID Connect IdPs */
  oidcJwks: string;
  appLaunch: (appId: string) => string;
}

export function orgBaseUrl(config: Pick<Config, 'publicScheme' | 'baseDomain'>, slug: string) {
  return `${config.publicScheme}://${slug}.${config.baseDomain}`;
}

export function orgUrls(config: Pick<Config, 'publicScheme' | 'baseDomain'>, slug: string): OrgUrls {
  const base = orgBaseUrl(config, slug);
  return {
    base,
    login: `${base}/login`,
    admin: `${base}/admin`,
    idpEntityId: `${base}/saml/idp/metadata`,
    idpMetadata: `${base}/saml/idp/metadata`,
    idpSso: `${base}/saml/idp/sso`,
    idpSlo: `${base}/saml/idp/slo`,
    spEntityId: `${base}/saml/sp/metadata`,
    spMetadata: `${base}/saml/sp/metadata`,
    spAcs: `${base}/saml/sp/acs`,
    spSlo: `${base}/saml/sp/slo`,
    oidcCallback: `${base}/oidc/callback`,
    oidcLogoutCallback: `${base}/oidc/logout-callback`,
    oidcInitiate: `${base}/oidc/initiate`,
    oidcJwks: `${base}/oidc/jwks.json`,
    appLaunch: (appId: string) => `${base}/apps/${appId}/launch`,
  };
}
