// Maps a stored IdP registration onto what the upstream protocol adapter needs.
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { UpstreamIdp } from '../saml/upstream/types.ts';

export const upstreamIdp = (idp: IdentityProvider): UpstreamIdp => ({
  entityId: idp.entityId,
  ssoUrl: idp.ssoUrl,
  ssoBinding: idp.ssoBinding,
  certificates: idp.certificates,
  signRequests: idp.signRequests,
  wantResponseSigned: idp.wantResponseSigned,
  wantAssertionSigned: idp.wantAssertionSigned,
  allowSha1: idp.allowSha1,
});
