// Which upstream protocol an IdP speaks. Every registered IdP speaks SAML today; a second protocol (OpenID Connect)
// is chosen here from the IdP's registration once it has one, beside SAML, without touching the flow.
import type { IdentityProvider } from '../../store/identity-providers.ts';
import type { UpstreamProtocol } from './protocol.ts';
import { saml } from './saml.ts';

export function protocolOf(_idp: IdentityProvider): UpstreamProtocol {
  return saml;
}

/** The protocol whose endpoint received a message (the SAML ACS: SAML). */
export const protocolNamed = (name: 'saml'): UpstreamProtocol => ({ saml })[name];
