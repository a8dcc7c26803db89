// Which upstream protocol an IdP speaks, from its registration (protocol: saml | oidc), without touching the flow.
import type { IdentityProvider, UpstreamProtocolName } from '../../store/identity-providers.ts';
import { oidc } from './oidc.ts';
import type { UpstreamProtocol } from './protocol.ts';
import { saml } from './saml.ts';

export function protocolOf(idp: IdentityProvider): UpstreamProtocol {
  return idp.protocol === 'oidc' ? oidc : saml;
}

/** The protocol whose endpoint received a message (the SAML ACS: SAML; the OIDC callback: OIDC). */
export const protocolNamed = (name: UpstreamProtocolName): UpstreamProtocol => ({ saml, oidc })[name];
