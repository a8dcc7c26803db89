// Stage `upstream_verified`: what the IdP sent back to our endpoint. The flow its state names is waiting for it,
// and its kind decides who takes it: a login (below) or an admin's test connection (test-connection/result.ts).
// A login's answer is checked by the IdP's protocol (upstream/) against the IdP registered for the flow, or, for an
// IdP-initiated login, the IdP it claims to come from, if that IdP allows unsolicited logins; then consumed once,
// shared by every node. Only verified here: the IdP's cross-site POST carries no browser binding, so the browser is
// redirected to a page that checks it (continue.ts). A refusal is audited and counted here, and ends the flow it
// was for (its browser can take the app its error Response from the error page). An answer for a flow that has
// already moved on (the browser's Back button) is refused too, with a way to start again (restart.ts).
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { SamlError } from '../../saml/errors.ts';
import { OidcError } from '../upstream/oidc-errors.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { receiveTestAnswer } from '../test-connection/result.ts';
import {
  isUpstreamRefusal,
  type UpstreamLogin,
  type UpstreamProtocol,
  type UpstreamReturn,
} from '../upstream/protocol.ts';
import { protocolOf } from '../upstream/registry.ts';
import { failAndOffer, failureOf } from './fail.ts';
import { movedOnFlow, refuseRepost } from './restart.ts';
import { MAX_RELAY_STATE, storeFlow } from './load.ts';
import { flowUrl, redirect, runHop, type Answer, type Hop, type Outcome } from './outcome.ts';
import { STAGE, type FlowData } from './stages.ts';

/** The upstream endpoint of `protocol` (SAML: the ACS) received `returned`. */
export function returnFromUpstream(
  ctx: AppContext,
  tenant: Tenant,
  protocol: UpstreamProtocol,
  returned: UpstreamReturn,
): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await waitingFlow(ctx, tenant, returned.relayState);
    if (flow) hop.about(flow.id);
    // An admin's "Test connection" is its own kind of flow: it ends on its own result page, never signs anyone in.
    if (flow?.data.via === 'test') return receiveTestAnswer(ctx, tenant, flow, returned);
    // Not waiting, but a login of ours that its IdP already answered: the same answer again (Back, a resent page).
    const movedOn = flow ? null : await movedOnFlow(ctx, tenant, returned.relayState);
    if (movedOn) return refuseRepost(ctx, tenant, hop, movedOn);
    return receiveLogin(ctx, tenant, hop, protocol, flow, returned);
  });
}

/** The flow of this organisation that an answer's state names and that is waiting for its IdP, or null. */
function waitingFlow(
  ctx: AppContext,
  tenant: Tenant,
  relayState: string | undefined,
): Promise<LoginFlow<FlowData> | null> {
  if (!relayState || relayState.length > MAX_RELAY_STATE) return Promise.resolve(null);
  return tenant.store.flows.findAtStage<FlowData>(relayState, [STAGE.upstreamSent], ctx.clock.now());
}

async function receiveLogin(
  ctx: AppContext,
  tenant: Tenant,
  hop: Hop,
  endpoint: UpstreamProtocol,
  flow: LoginFlow<FlowData> | null,
  returned: UpstreamReturn,
): Promise<Answer> {
  try {
    const flowId = await verifyLogin(ctx, tenant, hop, endpoint, flow, returned);
    return redirect(flowUrl(flowId, 'continue'));
  } catch (err) {
    if (isUpstreamRefusal(err)) {
      hop.warn({ code: err.code, diagnosis: err.diagnosis }, 'upstream response rejected'); // org: bound to the request's logger
      ctx.metrics.upstreamErrors.inc({ org: tenant.org.slug, code: err.code });
      await tenant.store.audit.record({
        type: 'login.upstream_rejected',
        outcome: 'failure',
        code: err.code,
        at: ctx.clock.now(),
        details: err.diagnosis,
        ...(flow && { flowId: flow.id, appId: flow.appId ?? undefined, idpId: flow.idpId ?? undefined }),
      });
      // The flow this answer was for ends here; its browser can take the app its error Response from the page.
      if (flow) await failAndOffer(tenant, hop, flow, failureOf(err.code, err.message));
    }
    throw err;
  }
}

/** Verifies the answer and moves (or, IdP-initiated, creates) the flow at `upstream_verified`; its id. */
async function verifyLogin(
  ctx: AppContext,
  tenant: Tenant,
  hop: Hop,
  endpoint: UpstreamProtocol,
  flow: LoginFlow<FlowData> | null,
  returned: UpstreamReturn,
): Promise<string> {
  if (!returned.message) throw new SamlError('saml_malformed', 'No SAMLResponse was posted.');
  const message = { ...returned, message: returned.message };
  const now = ctx.clock.now();
  const relayState =
    returned.relayState && returned.relayState.length <= MAX_RELAY_STATE ? returned.relayState : undefined;

  if (flow) {
    const idp = flow.idpId ? await tenant.store.identityProviders.findById(flow.idpId) : null;
    if (!idp || !idp.enabled)
      throw new SamlError('saml_wrong_issuer', 'The identity provider of this sign-in is no longer available.');
    const protocol = protocolOf(idp);
    // An answer at another protocol's endpoint (a SAML flow's id at the OIDC callback, or the reverse) is refused.
    if (protocol !== endpoint)
      throw endpoint.name === 'oidc'
        ? new OidcError(
            'oidc_state_mismatch',
            'This answer does not belong to a sign-in that is waiting. Start again from your application.',
          )
        : new SamlError('saml_wrong_issuer', 'The identity provider of this sign-in speaks another protocol.');
    const login = await protocol.finish(ctx, tenant, idp, message, flow.data.upstreamRequestId ?? '');
    await protocol.consume(ctx, tenant, idp, login, now);
    const moved = await tenant.store.flows.advance(flow, STAGE.upstreamVerified, {
      data: withUpstream(flow.data, login),
    });
    if (!moved) throw new SamlError('saml_replayed', 'This sign-in response was already used.');
    // The groups came from Microsoft Graph, not the token; the admin sees it in the audit log.
    if (login.groupsOverage)
      await tenant.store.audit.record({
        type: 'login.groups_overage',
        at: now,
        idpId: idp.id,
        flowId: flow.id,
        ...(flow.appId && { appId: flow.appId }),
        details: { source: login.groupsOverage.source, groupsFromGraph: login.groupsOverage.groups },
      });
    return flow.id;
  }

  // No flow of ours is waiting: this can only be an IdP-initiated login, from an IdP that allows it.
  const reading = await endpoint.readUnsolicited(ctx, message);
  const issuer = reading.issuer;
  const idp = await tenant.store.identityProviders.findByEntityId(issuer);
  if (!idp || !idp.enabled)
    throw new SamlError(
      'saml_wrong_issuer',
      'The response comes from an identity provider that is not registered with this organisation.',
      { received: issuer },
    );
  if (!idp.allowIdpInitiated)
    throw new SamlError(
      'saml_unsolicited',
      'This identity provider is not allowed to start logins (IdP-initiated SSO is off for it), or the sign-in expired. Start again from your application.',
      { idp: idp.entityId },
    );
  const login = await endpoint.finish(ctx, tenant, idp, { ...message, reading }, null);
  // The target app is named by configuration, or by a RelayState equal to a registered app: never a free URL.
  const apps = await tenant.store.applications.list();
  const target =
    (relayState && apps.find((a) => a.enabled && (a.entityId === relayState || a.id === relayState))) ||
    apps.find((a) => a.enabled && a.id === idp.defaultAppId);
  if (!target || !target.acsUrls[0])
    throw new SamlError(
      'saml_unsolicited',
      'The identity provider started a login without naming an application this organisation knows.',
      { relayState: relayState ?? null },
    );
  await endpoint.consume(ctx, tenant, idp, login, now);
  const created = await storeFlow(ctx, tenant, {
    stage: STAGE.upstreamVerified,
    appId: target.id,
    idpId: idp.id,
    data: withUpstream(
      {
        via: 'idp_initiated',
        request: {
          id: null,
          acsUrl: target.acsUrls[0],
          relayState: target.defaultRelayState ?? null,
          forceAuthn: false,
          isPassive: false,
        },
        browser: null,
      },
      login,
    ),
  });
  hop.about(created.id); // an IdP-initiated login's new flow
  return created.id;
}

function withUpstream(data: FlowData, login: UpstreamLogin): FlowData {
  return { ...data, upstream: login.result, profile: login.profile };
}
