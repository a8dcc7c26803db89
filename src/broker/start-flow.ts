// Stage `received`: an app asks for a login (AuthnRequest over HTTP-Redirect or HTTP-POST), or a user follows an
// app's launch link. The app is looked up by Issuer within the Host's organisation only; the ACS URL comes from
// the app's registration (a requested one is accepted only if registered); RelayState is kept verbatim. The request
// is only checked here: the flow is stored once the next step is known, at that step (see routes.ts `proceed`).
import { pooledRandomBytes } from '../crypto/random-ids.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { SamlError } from '../saml/errors.ts';
import { sameEndpoint } from '../saml/endpoint-match.ts';
import { parseAuthnRequest } from '../saml/downstream/authn-request.ts';
import type { Application } from '../store/applications.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import { verifyAppRequestSignature } from './flow/app-request-signature.ts';
import { loginHint } from './flow/select-idp.ts';
import type { AppRequest, FlowData } from './flow/stages.ts';

export const MAX_RELAY_STATE = 1024; // generous: SAML says 80 bytes, real SPs send more

export const newFlowId = () => pooledRandomBytes(16).toString('base64url');

/** An app's request, checked against its registration and not stored yet. `loginHint`: an email that may pick the
 *  IdP (home-realm discovery, select-idp.ts), from the request's Subject or a `login_hint` parameter. */
export interface AcceptedRequest { app: Application; via: 'sp_initiated' | 'launch'; request: AppRequest; browser: string; loginHint?: string }

export interface IncomingAuthnRequest {
  binding: 'redirect' | 'post';
  samlRequest: string | undefined;
  relayState: string | undefined;
  /** the raw query string as received (Redirect binding signatures cover its exact octets) */
  rawQuery?: string;
  browser: string;
  /** a `login_hint` query or form parameter, as received */
  loginHint?: unknown;
}

function checkRelayState(relayState: string | undefined) {
  if (relayState !== undefined && relayState.length > MAX_RELAY_STATE) throw new AppError(400, 'relay_state_too_long', `The RelayState sent by the application is longer than ${MAX_RELAY_STATE} characters.`);
  return relayState ?? null;
}

export async function acceptAuthnRequest(ctx: AppContext, tenant: Tenant, input: IncomingAuthnRequest): Promise<AcceptedRequest> {
  if (!input.samlRequest) throw new SamlError('saml_malformed', 'The application did not send a SAMLRequest.');
  const request = await parseAuthnRequest({ binding: input.binding, samlRequest: input.samlRequest, maxBytes: ctx.config.maxSamlMessageBytes });
  const app = await tenant.store.applications.findByEntityId(request.issuer);
  if (!app || !app.enabled) throw new SamlError('saml_unknown_app', `The application "${request.issuer}" is not registered with ${tenant.org.name}.`, { issuer: request.issuer });

  if (app.wantAuthnRequestsSigned) {
    if (!app.certificate) throw new SamlError('saml_request_unsigned', 'The application requires signed requests but has no certificate registered.');
    await verifyAppRequestSignature(ctx, tenant, { ...app, certificate: app.certificate }, { binding: input.binding, rawQuery: input.rawQuery, samlRequest: input.samlRequest });
  }
  // A signed request must name where it was sent (SAML bindings 3.4.5.2, 3.5.5.2): otherwise one the app signed for
  // another IdP, or another organisation of this broker, would be accepted here. Unsigned, it is checked when present.
  if (request.destination === undefined ? app.wantAuthnRequestsSigned : !sameEndpoint(request.destination, tenant.urls.idpSso)) {
    throw new SamlError('saml_wrong_destination', 'The application sent its login request to another address.', { expected: tenant.urls.idpSso, received: request.destination ?? null });
  }

  // Every field of the request is the app's claim; the ACS URL must be one the organisation registered.
  let acsUrl = app.acsUrls[0];
  if (request.acsUrl) {
    if (!app.acsUrls.includes(request.acsUrl)) throw new SamlError('saml_acs_not_registered', `The application asked to receive the login at an address that is not registered for it.`, { requested: request.acsUrl, registered: app.acsUrls });
    acsUrl = request.acsUrl;
  }
  if (!acsUrl) throw new SamlError('saml_acs_not_registered', 'The application has no assertion consumer URL registered.');
  if (request.protocolBinding && request.protocolBinding !== 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST') {
    throw new SamlError('saml_unsupported_binding', 'The application asked for a response binding other than HTTP-POST.', { requested: request.protocolBinding });
  }

  return {
    app, via: 'sp_initiated', request: { id: request.id, acsUrl, relayState: checkRelayState(input.relayState), forceAuthn: request.forceAuthn, isPassive: request.isPassive }, browser: input.browser,
    // The Subject is part of the app's own request; a parameter beside it is the fallback.
    loginHint: loginHint(request.subjectNameId) ?? loginHint(input.loginHint),
  };
}

/** An app's launch link: an unsolicited login to that app (what the guides call a substitute link). */
export async function acceptLaunch(tenant: Tenant, appId: string, browser: string, hint?: unknown): Promise<AcceptedRequest> {
  const app = await tenant.store.applications.findById(appId);
  if (!app || !app.enabled || !app.acsUrls[0]) throw new AppError(404, 'unknown_app', 'This application does not exist or is disabled.');
  return { app, via: 'launch', request: { id: null, acsUrl: app.acsUrls[0], relayState: app.defaultRelayState ?? null, forceAuthn: false, isPassive: false }, browser, loginHint: loginHint(hint) };
}

export interface NewFlow {
  /** default: a new random id */
  id?: string;
  stage: string;
  appId: string | null;
  idpId?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  data: FlowData;
}

/** Stores a flow at the stage it starts from, expiring FLOW_TTL_SECONDS from now. */
export function storeFlow(ctx: AppContext, tenant: Tenant, flow: NewFlow): Promise<LoginFlow<FlowData>> {
  const now = ctx.clock.now();
  return tenant.store.flows.create<FlowData>({ ...flow, id: flow.id ?? newFlowId(), expiresAt: new Date(now.getTime() + ctx.config.flowTtlSeconds * 1000) });
}
