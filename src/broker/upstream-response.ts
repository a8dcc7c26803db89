// Stage `upstream_verified`: the IdP's Response at our ACS. Everything is checked by the upstream adapter against
// the IdP registered for the flow (or, for an IdP-initiated login, the IdP named by the Issuer, if it allows
// unsolicited logins); the assertion ID is then consumed once, shared by every node. The ACS only verifies: the
// IdP's cross-site POST carries no browser binding, so the browser is redirected to a page that checks it.
import type { AppContext } from '../context.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { SamlError } from '../saml/errors.ts';
import { peekResponseIssuer, verifyUpstreamResponse } from '../saml/upstream/response.ts';
import type { VerifiedAssertion } from '../saml/upstream/types.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { LoginFlow } from '../store/login-flows.ts';
import { localSp } from './identities.ts';
import { mapProfile } from './upstream/profile.ts';
import { STAGE, type FlowData } from './flow/stages.ts';
import { MAX_RELAY_STATE, storeFlow } from './start-flow.ts';
import { upstreamIdp } from './upstream-idp.ts';

export interface AcsInput {
  samlResponse: string | undefined;
  relayState: string | undefined;
  /** the flow the RelayState names, as found by waitingFlow (null: none is waiting) */
  flow: LoginFlow<FlowData> | null;
}
export interface AcsResult { flowId: string; idp: IdentityProvider }

/** The flow of this organisation that a Response's RelayState names and that is waiting for its IdP, or null. */
export function waitingFlow(ctx: AppContext, tenant: Tenant, relayState: string | undefined): Promise<LoginFlow<FlowData> | null> {
  if (!relayState || relayState.length > MAX_RELAY_STATE) return Promise.resolve(null);
  return tenant.store.flows.findAtStage<FlowData>(relayState, [STAGE.upstreamSent], ctx.clock.now());
}

export async function acceptUpstreamResponse(ctx: AppContext, tenant: Tenant, input: AcsInput): Promise<AcsResult> {
  if (!input.samlResponse) throw new SamlError('saml_malformed', 'No SAMLResponse was posted.');
  const now = ctx.clock.now();
  const relayState = input.relayState && input.relayState.length <= MAX_RELAY_STATE ? input.relayState : undefined;
  const { flow } = input;

  if (flow) {
    const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;
    if (!idp || !idp.enabled) throw new SamlError('saml_wrong_issuer', 'The identity provider of this sign-in is no longer available.');
    const assertion = await verifyFromIdp(ctx, tenant, idp, input.samlResponse, flow.data.upstreamRequestId ?? '', now);
    await consumeAssertion(ctx, tenant, idp, assertion, now);
    const moved = await tenant.store.flows.advance(flow, STAGE.upstreamVerified, { data: withUpstream(flow.data, idp, assertion) });
    if (!moved) throw new SamlError('saml_replayed', 'This sign-in response was already used.');
    return { flowId: flow.id, idp };
  }

  // No flow of ours is waiting: this can only be an IdP-initiated login, from an IdP that allows it.
  const issuer = peekResponseIssuer(input.samlResponse, ctx.config.maxSamlMessageBytes);
  const idp = await tenant.store.identityProviders.findByEntityId(issuer);
  if (!idp || !idp.enabled) throw new SamlError('saml_wrong_issuer', 'The response comes from an identity provider that is not registered with this organisation.', { received: issuer });
  if (!idp.allowIdpInitiated) throw new SamlError('saml_unsolicited', 'This identity provider is not allowed to start logins (IdP-initiated SSO is off for it), or the sign-in expired. Start again from your application.', { idp: idp.entityId });
  const assertion = await verifyFromIdp(ctx, tenant, idp, input.samlResponse, null, now);
  // The target app is named by configuration, or by a RelayState equal to a registered app: never a free URL.
  const apps = await tenant.store.applications.list();
  const target = (relayState && apps.find((a) => a.enabled && (a.entityId === relayState || a.id === relayState))) || apps.find((a) => a.enabled && a.id === idp.defaultAppId);
  if (!target || !target.acsUrls[0]) throw new SamlError('saml_unsolicited', 'The identity provider started a login without naming an application this organisation knows.', { relayState: relayState ?? null });
  await consumeAssertion(ctx, tenant, idp, assertion, now);
  const created = await storeFlow(ctx, tenant, {
    stage: STAGE.upstreamVerified,
    appId: target.id,
    idpId: idp.id,
    data: withUpstream({ via: 'idp_initiated', request: { id: null, acsUrl: target.acsUrls[0], relayState: target.defaultRelayState ?? null, forceAuthn: false, isPassive: false }, browser: null }, idp, assertion),
  });
  return { flowId: created.id, idp };
}

/** Verifies a Response against `idp`'s registration; also used by the admin's test connection (test-connection.ts). */
export async function verifyFromIdp(ctx: AppContext, tenant: Tenant, idp: IdentityProvider, samlResponse: string, expectedInResponseTo: string | null, now: Date) {
  return verifyUpstreamResponse({
    samlResponse,
    sp: await localSp(ctx, tenant),
    idp: upstreamIdp(idp),
    expectedInResponseTo,
    now,
    skewSeconds: ctx.config.clockSkewSeconds,
    maxBytes: ctx.config.maxSamlMessageBytes,
  });
}

export async function consumeAssertion(ctx: AppContext, tenant: Tenant, idp: IdentityProvider, assertion: VerifiedAssertion, now: Date) {
  // Kept until the assertion could no longer be accepted anyway (its validity end plus the allowed skew).
  const keepUntil = new Date(Math.max(assertion.notOnOrAfter.getTime(), now.getTime()) + ctx.config.clockSkewSeconds * 1000);
  const first = await tenant.store.oneTimeUse.consume('assertion', `${idp.id}:${assertion.assertionId}`, keepUntil, now);
  if (!first) throw new SamlError('saml_replayed', 'This sign-in response was already used.', { assertionId: assertion.assertionId });
}

function withUpstream(data: FlowData, idp: IdentityProvider, a: VerifiedAssertion): FlowData {
  return {
    ...data,
    upstream: { nameId: a.nameId, nameIdFormat: a.nameIdFormat, nameQualifier: a.nameQualifier, spNameQualifier: a.spNameQualifier, sessionIndex: a.sessionIndex, attributes: a.attributes, assertionId: a.assertionId, ...(a.sessionNotOnOrAfter && { sessionNotOnOrAfter: a.sessionNotOnOrAfter.toISOString() }) },
    profile: mapProfile(idp, a),
  };
}
