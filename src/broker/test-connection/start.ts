// "Test connection" for an upstream IdP: a real SP-initiated login from the broker (the same request, signed the
// same way, and the same verification of the answer at the same endpoint), run by an admin. It stops after the
// verification (result.ts): no user is looked up or created, no broker session starts, no app gets a response.
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { startUpstream } from '../flow/to-upstream.ts';
import type { UpstreamDispatch } from '../upstream/protocol.ts';

/** Creates the test flow (bound to the admin's browser: `browser`, the hash of its binding cookie) and sends the
 *  request the way a login would. A disabled IdP can be tested: that is how an admin checks a new IdP before
 *  letting users reach it. */
export function startTestConnection(
  ctx: AppContext,
  tenant: Tenant,
  idp: IdentityProvider,
  by: { adminSessionId: string; actor: string; browser: string },
): Promise<UpstreamDispatch> {
  return startUpstream(
    ctx,
    tenant,
    {
      appId: null,
      data: {
        via: 'test',
        request: { id: null, acsUrl: '', relayState: null, forceAuthn: false, isPassive: false },
        browser: by.browser,
        test: { adminSessionId: by.adminSessionId, actor: by.actor },
      },
    },
    idp,
  );
}
