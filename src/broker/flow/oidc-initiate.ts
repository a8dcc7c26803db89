// Third-party initiated login (OpenID Connect Core 1.0, section 4): an OpenID Connect IdP (its app tile, its portal)
// sends the browser to our initiate_login_uri, /oidc/initiate, with `iss` (which IdP), `target_link_uri` (where the
// user wants to land) and maybe `login_hint`. Nothing in that request is signed, so it only *starts* a normal,
// browser-bound authorization code flow to that IdP (state, PKCE, nonce, as for any login); the signed SAML Response
// then goes to the app unsolicited, as for a SAML IdP-initiated login. Three rules keep it from being more:
// - `iss` must be an enabled OpenID Connect IdP of this organisation (exactly its issuer);
// - that IdP must allow IdP-initiated logins, the same switch as for SAML IdPs;
// - `target_link_uri` must be one of this organisation's own launch links (or its login page, meaning the IdP's
//   default app): never another address, so the endpoint is no open redirect.
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { Application } from '../../store/applications.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { runHop, type Outcome } from './outcome.ts';
import { loginHint } from './select-idp.ts';
import type { FlowData } from './stages.ts';
import { startUpstream, toIdp } from './to-upstream.ts';

/** The longest iss or target_link_uri we read. */
const MAX_PARAM = 2048;

/** What the IdP's initiate request carried (query or form), as received. */
export interface InitiateRequest {
  iss: unknown;
  targetLinkUri: unknown;
  loginHint: unknown;
}

const param = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= MAX_PARAM ? v : undefined);

async function initiatingIdp(tenant: Tenant, iss: string | undefined): Promise<IdentityProvider> {
  const idp = iss ? await tenant.store.identityProviders.findByEntityId(iss) : null;
  if (!idp || !idp.enabled || idp.protocol !== 'oidc') {
    throw new AppError(
      'oidc_initiate_unknown_issuer',
      'The sign-in was started by an identity provider that is not registered with this organisation.',
      { iss: iss?.slice(0, 200) ?? null },
    );
  }
  if (!idp.allowIdpInitiated) {
    throw new AppError(
      'oidc_initiate_not_allowed',
      `${idp.name} is not allowed to start sign-ins (IdP-initiated sign-in is off for it). Start from your application.`,
      { idp: idp.entityId },
    );
  }
  return idp;
}

/** The app `target_link_uri` names: one of this organisation's launch links, or its login page (the IdP's default app). */
async function targetApp(tenant: Tenant, idp: IdentityProvider, target: string | undefined): Promise<Application> {
  const refuse = () =>
    new AppError(
      'oidc_initiate_bad_target',
      'The sign-in names a destination that is not an application of this organisation.',
      { targetLinkUri: target?.slice(0, 200) ?? null },
    );
  let url: URL;
  try {
    url = new URL(target ?? '');
  } catch {
    throw refuse();
  }
  if (url.origin !== new URL(tenant.urls.base).origin || url.username || url.password) throw refuse();
  const launch = /^\/apps\/([\w-]{1,64})\/launch\/?$/.exec(url.pathname);
  const appId = launch ? launch[1] : url.pathname === '/login' || url.pathname === '/' ? idp.defaultAppId : null;
  const app = appId ? await tenant.store.applications.findById(appId) : null;
  if (!app || !app.enabled || !app.acsUrls[0]) throw refuse();
  return app;
}

/** GET or POST /oidc/initiate. A refusal is audited (login.initiate_rejected) and shown on the branded error page. */
export function startFromInitiate(
  ctx: AppContext,
  tenant: Tenant,
  input: InitiateRequest,
  arrival: { browserToken: string | undefined },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const iss = param(input.iss);
    try {
      const idp = await initiatingIdp(tenant, iss);
      const app = await targetApp(tenant, idp, param(input.targetLinkUri));
      const hint = loginHint(input.loginHint);
      // Like a launch link: an unsolicited login to that app, bound to this browser, always through the IdP (a broker
      // session of another IdP must not answer for the one that started the sign-in).
      const data: FlowData = {
        via: 'launch',
        request: {
          id: null,
          acsUrl: app.acsUrls[0],
          relayState: app.defaultRelayState ?? null,
          forceAuthn: false,
          isPassive: false,
        },
        browser: hop.bindBrowser(arrival.browserToken),
        ...(hint && { loginHint: hint }),
      };
      const upstream = await startUpstream(ctx, tenant, { appId: app.id, data }, idp);
      hop.about(upstream.flowId);
      await tenant.store.audit.record({
        type: 'login.initiated_by_idp',
        at: ctx.clock.now(),
        idpId: idp.id,
        appId: app.id,
        flowId: upstream.flowId,
        details: { protocol: 'oidc' },
      });
      return toIdp(upstream, idp.name);
    } catch (err) {
      if (err instanceof AppError && err.code.startsWith('oidc_initiate_')) {
        await tenant.store.audit.record({
          type: 'login.initiate_rejected',
          outcome: 'failure',
          code: err.code,
          at: ctx.clock.now(),
          details: err.details ?? {},
        });
      }
      throw err;
    }
  });
}
