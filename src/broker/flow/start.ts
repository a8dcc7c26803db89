// Stage `received`: an app asks for a login (AuthnRequest over HTTP-Redirect or HTTP-POST), or a user follows an
// app's launch link. The app is looked up by Issuer within the Host's organisation only; the ACS URL comes from
// the app's registration (a requested one is accepted only if registered); RelayState is kept verbatim. The request
// is only checked here: the flow is stored once the next step is known, at that step (`proceed`): riding on the
// broker session, answering a passive request at once, the chooser, or straight to the IdP.
import type { AppContext } from '../../context.ts';
import { APP_STATUS, AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { SamlError } from '../../saml/errors.ts';
import { sameEndpoint } from '../../saml/endpoint-match.ts';
import { parseAuthnRequest } from '../../saml/downstream/authn-request.ts';
import type { Application } from '../../store/applications.ts';
import { verifyAppRequestSignature } from './app-request-signature.ts';
import { sha256 } from '../../crypto/hash.ts';
import { errorResponse, postToApp } from './downstream-response.ts';
import { failureOf, returnOffer } from './fail.ts';
import { MAX_RELAY_STATE, storeFlow } from './load.ts';
import { flowUrl, redirect, runHop, type Answer, type Hop, type Outcome } from './outcome.ts';
import { loginHint, selectIdp } from './select-idp.ts';
import { STAGE, type AppRequest, type FlowData } from './stages.ts';
import { startUpstream, toIdp } from './to-upstream.ts';

/** An app's request, checked against its registration and not stored yet. `loginHint`: an email that may pick the
 *  IdP (home-realm discovery, select-idp.ts), from the request's Subject or a `login_hint` parameter. */
export interface AcceptedRequest {
  app: Application;
  via: 'sp_initiated' | 'launch';
  request: AppRequest;
  browser: string;
  loginHint?: string;
}

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

/** What a browser brings to the start of a login, besides the request: its cookies, and hints for the IdP. */
export interface Arrival {
  /** the browser-binding cookie, as presented */
  browserToken: string | undefined;
  /** the broker-session cookie, as presented */
  sessionToken: string | undefined;
  /** `?idp=` (or the form's `idp`): an IdP id or entity ID */
  idp?: string;
  /** a `login_hint` query or form parameter, as received */
  loginHint?: unknown;
}

function checkRelayState(relayState: string | undefined) {
  if (relayState !== undefined && relayState.length > MAX_RELAY_STATE)
    throw new AppError(
      'relay_state_too_long',
      `The RelayState sent by the application is longer than ${MAX_RELAY_STATE} characters.`,
    );
  return relayState ?? null;
}

export async function acceptAuthnRequest(
  ctx: AppContext,
  tenant: Tenant,
  input: IncomingAuthnRequest,
): Promise<AcceptedRequest> {
  if (!input.samlRequest) throw new SamlError('saml_malformed', 'The application did not send a SAMLRequest.');
  const request = await parseAuthnRequest({
    binding: input.binding,
    samlRequest: input.samlRequest,
    maxBytes: ctx.config.maxSamlMessageBytes,
  });
  const app = await tenant.store.applications.findByEntityId(request.issuer);
  if (!app || !app.enabled)
    throw new SamlError(
      'saml_unknown_app',
      `The application "${request.issuer}" is not registered with ${tenant.org.name}.`,
      { issuer: request.issuer },
    );

  if (app.wantAuthnRequestsSigned) {
    if (!app.certificate)
      throw new SamlError(
        'saml_request_unsigned',
        'The application requires signed requests but has no certificate registered.',
      );
    await verifyAppRequestSignature(
      ctx,
      tenant,
      { ...app, certificate: app.certificate },
      { binding: input.binding, rawQuery: input.rawQuery, samlRequest: input.samlRequest },
    );
  }
  // A signed request must name where it was sent (SAML bindings 3.4.5.2, 3.5.5.2): otherwise one the app signed for
  // another IdP, or another organisation of this broker, would be accepted here. Unsigned, it is checked when present.
  if (
    request.destination === undefined
      ? app.wantAuthnRequestsSigned
      : !sameEndpoint(request.destination, tenant.urls.idpSso)
  ) {
    throw new SamlError('saml_wrong_destination', 'The application sent its login request to another address.', {
      expected: tenant.urls.idpSso,
      received: request.destination ?? null,
    });
  }

  // Every field of the request is the app's claim; the ACS URL must be one the organisation registered.
  let acsUrl = app.acsUrls[0];
  if (request.acsUrl) {
    if (!app.acsUrls.includes(request.acsUrl))
      throw new SamlError(
        'saml_acs_not_registered',
        `The application asked to receive the login at an address that is not registered for it.`,
        { requested: request.acsUrl, registered: app.acsUrls },
      );
    acsUrl = request.acsUrl;
  }
  if (!acsUrl)
    throw new SamlError('saml_acs_not_registered', 'The application has no assertion consumer URL registered.');
  if (request.protocolBinding && request.protocolBinding !== 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST') {
    throw new SamlError(
      'saml_unsupported_binding',
      'The application asked for a response binding other than HTTP-POST.',
      { requested: request.protocolBinding },
    );
  }

  return {
    app,
    via: 'sp_initiated',
    request: {
      id: request.id,
      acsUrl,
      relayState: checkRelayState(input.relayState),
      forceAuthn: request.forceAuthn,
      isPassive: request.isPassive,
    },
    browser: input.browser,
    // The Subject is part of the app's own request; a parameter beside it is the fallback.
    loginHint: loginHint(request.subjectNameId) ?? loginHint(input.loginHint),
  };
}

/** An app's launch link: an unsolicited login to that app (what the guides call a substitute link). */
export async function acceptLaunch(
  tenant: Tenant,
  appId: string,
  browser: string,
  hint?: unknown,
): Promise<AcceptedRequest> {
  const app = await tenant.store.applications.findById(appId);
  if (!app || !app.enabled || !app.acsUrls[0])
    throw new AppError('unknown_app', 'This application does not exist or is disabled.');
  return {
    app,
    via: 'launch',
    request: {
      id: null,
      acsUrl: app.acsUrls[0],
      relayState: app.defaultRelayState ?? null,
      forceAuthn: false,
      isPassive: false,
    },
    browser,
    loginHint: loginHint(hint),
  };
}

/** /saml/idp/sso: an app's AuthnRequest (either binding). */
export function startFromRequest(
  ctx: AppContext,
  tenant: Tenant,
  message: Omit<IncomingAuthnRequest, 'browser' | 'loginHint'>,
  arrival: Arrival,
): Promise<Outcome> {
  return runHop(async (hop) => {
    const accepted = await acceptAuthnRequest(ctx, tenant, {
      ...message,
      browser: hop.bindBrowser(arrival.browserToken),
      loginHint: arrival.loginHint,
    });
    return proceed(ctx, tenant, hop, accepted, arrival);
  });
}

/** /apps/:appId/launch: an app's launch link. */
export function startFromLaunch(ctx: AppContext, tenant: Tenant, appId: string, arrival: Arrival): Promise<Outcome> {
  return runHop(async (hop) =>
    proceed(
      ctx,
      tenant,
      hop,
      await acceptLaunch(tenant, appId, hop.bindBrowser(arrival.browserToken), arrival.loginHint),
      arrival,
    ),
  );
}

/** After the app's request is accepted: ride on the broker session, or pick the IdP (or show the chooser), and go
 *  upstream. The flow is stored once, at the stage this decides. */
async function proceed(
  ctx: AppContext,
  tenant: Tenant,
  hop: Hop,
  accepted: AcceptedRequest,
  arrival: Arrival,
): Promise<Answer> {
  const { app: target, request: appRequest } = accepted;
  // A suspended organisation (plugins/tenant.ts lets only this endpoint through): the app is told in SAML.
  if (tenant.org.suspendedAt)
    return postToApp(
      await errorResponse(
        ctx,
        tenant,
        target,
        appRequest,
        APP_STATUS.requestDenied,
        'This organisation is suspended by the operator of the sign-in service.',
      ),
    );
  const flow = {
    appId: target.id,
    data: {
      via: accepted.via,
      request: appRequest,
      browser: accepted.browser,
      ...(accepted.loginHint && { loginHint: accepted.loginHint }),
    } satisfies FlowData,
  };
  const token = arrival.sessionToken;
  const session =
    token && !appRequest.forceAuthn ? await tenant.store.sessions.findActive(sha256(token), ctx.clock.now()) : null;
  if (session) {
    const stored = await storeFlow(ctx, tenant, {
      ...flow,
      stage: STAGE.upstreamVerified,
      sessionId: session.id,
      idpId: session.idpId,
      data: { ...flow.data, fromSession: true },
    });
    hop.about(stored.id);
    return redirect(flowUrl(stored.id, 'continue'));
  }
  // The app asked for no page, and only a login page could serve it: answer at once, nothing to store.
  if (appRequest.isPassive)
    return postToApp(
      await errorResponse(
        ctx,
        tenant,
        target,
        appRequest,
        APP_STATUS.noPassive,
        'No sign-in session exists and the application asked not to show any page.',
      ),
    );
  let choice;
  try {
    choice = await selectIdp(tenant, target, { idp: arrival.idp, email: accepted.loginHint });
  } catch (err) {
    // No IdP at all: the flow starts failed, so that the app hears back (NoAvailableIDP) like any other failure.
    if (err instanceof AppError && err.code === 'no_identity_provider') {
      const failed = await storeFlow(ctx, tenant, {
        ...flow,
        stage: STAGE.failed,
        data: { ...flow.data, failure: failureOf(err.code, err.message) },
      });
      hop.about(failed.id);
      hop.offer(returnOffer(failed, target.name));
    }
    throw err;
  }
  if ('choices' in choice) {
    const stored = await storeFlow(ctx, tenant, { ...flow, stage: STAGE.received });
    hop.about(stored.id);
    return redirect(flowUrl(stored.id, 'idp'));
  }
  const upstream = await startUpstream(ctx, tenant, flow, choice.idp);
  hop.about(upstream.flowId);
  return toIdp(upstream, choice.idp.name);
}
