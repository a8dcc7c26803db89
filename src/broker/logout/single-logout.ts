// Single logout across the proxy. A LogoutRequest from an app (or from the upstream IdP) ends the broker sessions it
// names, then the browser visits every other participant's SLO endpoint, one after the other, each in a hidden frame
// with a time limit, and finally the originator gets a LogoutResponse: Success, or PartialLogout when a participant
// could not be logged out (no SLO URL, an error status, no answer in time). The chain is a stored flow that moves by
// compare-and-set, so any node can take the next step and a replayed step changes nothing.
import { timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import {
  carriesSignature,
  encodeOutgoing,
  verifyMessageSignature,
  type Binding,
  type OutgoingMessage,
} from '../../saml/bindings.ts';
import { SamlError } from '../../saml/errors.ts';
import { newSamlId } from '../../saml/downstream/response.ts';
import { NAMEID_FORMATS } from '../../saml/metadata.ts';
import {
  logoutRequestXml,
  logoutResponseXml,
  parseLogoutMessage,
  type LogoutStatus,
  type ReceivedLogoutRequest,
  type ReceivedLogoutResponse,
} from '../../saml/logout.ts';
import type { BrokerSessionRow } from '../../store/broker-sessions.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { localIdp, localSp } from '../identities.ts';
import { STAGE } from '../flow/stages.ts';
import { sameEndpoint } from '../../saml/endpoint-match.ts';
import { newFlowId } from '../flow/load.ts';
import { sha256 } from '../../crypto/hash.ts';
import { endSessionUrl, offersEndSession } from '../upstream/oidc.ts';
import { OidcError } from '../upstream/oidc-errors.ts';

/** How long the whole chain may take before its flow expires. */
const CHAIN_TTL_SECONDS = 600;
/** Clock skew tolerated on a request's NotOnOrAfter. */
const SKEW_SECONDS = 60;

export type Side = 'app' | 'idp';

/** One participant to log out. `requestId`/`startedAt` are set when the browser is sent there. */
export interface LogoutHop {
  side: Side;
  /** app or IdP id */
  id: string;
  name: string;
  nameId: string;
  /** toward the IdP: the Format and qualifiers of the NameID it issued (an app gets the format it is registered with) */
  nameIdFormat?: string | null;
  nameQualifier?: string | null;
  spNameQualifier?: string | null;
  sessionIndex: string | null;
  /** an OpenID Connect IdP: the browser goes to its end_session_endpoint at the top level (not in a frame, where its
   *  cookies would not be sent), and comes back to our post-logout redirect URI with `state` */
  protocol?: 'oidc';
  /** OpenID Connect: the login's ID token, still sealed, for id_token_hint */
  idTokenHint?: string | null;
  /** SAML: the LogoutRequest's ID; OpenID Connect: the secret half of the `state` sent to the IdP */
  requestId?: string;
  startedAt?: string;
  outcome?: 'success' | 'failed' | 'timeout' | 'skipped';
  detail?: string;
}

export interface LogoutChain {
  kind: 'logout';
  /** who asked: they receive the final LogoutResponse */
  origin: { side: Side; id: string; name: string; requestId: string; relayState: string | null; binding: Binding };
  browser: string | null;
  hops: LogoutHop[];
  current: number;
  sessionIds: string[];
}

export interface IncomingLogoutMessage {
  side: Side;
  binding: Binding;
  samlRequest?: string;
  samlResponse?: string;
  relayState?: string;
  rawQuery?: string;
}

export type LogoutFlow = LoginFlow<LogoutChain>;

/** What the browser should be shown next. */
export type LogoutStep =
  | { kind: 'hop'; flowId: string; hop: LogoutHop; remainingSeconds: number; done: number; total: number }
  | { kind: 'finish'; message: OutgoingMessage | null; status: LogoutStatus; chain: LogoutChain };

const isSuccess = (r: ReceivedLogoutResponse) => r.status === 'Success';

export class SingleLogout {
  constructor(
    private readonly ctx: AppContext,
    private readonly tenant: Tenant,
  ) {}

  private get store() {
    return this.tenant.store;
  }

  private now() {
    return this.ctx.clock.now();
  }

  /** The peer a message claims to come from, registered and enabled in this organisation, with its certificates. */
  private async peer(side: Side, entityId: string) {
    if (side === 'app') {
      const app = await this.store.applications.findByEntityId(entityId);
      if (!app || !app.enabled)
        throw new SamlError(
          'saml_unknown_app',
          `The application "${entityId}" is not registered with ${this.tenant.org.name}.`,
          { issuer: entityId },
        );
      return {
        id: app.id,
        name: app.name,
        entityId: app.entityId,
        sloUrl: app.sloUrl,
        certificates: app.certificate ? [app.certificate] : [],
        allowSha1: app.allowSha1,
        acceptUnsignedLogoutResponse: false,
      };
    }
    const idp = await this.store.identityProviders.findByEntityId(entityId);
    if (!idp || !idp.enabled)
      throw new SamlError(
        'saml_wrong_issuer',
        `The identity provider "${entityId}" is not registered with ${this.tenant.org.name}.`,
        { issuer: entityId },
      );
    return {
      id: idp.id,
      name: idp.name,
      entityId: idp.entityId,
      sloUrl: idp.sloUrl,
      certificates: idp.certificates,
      allowSha1: idp.allowSha1,
      acceptUnsignedLogoutResponse: idp.acceptUnsignedLogoutResponse,
    };
  }

  /** Our endpoint and entity ID on the side a peer talks to. */
  private async us(side: Side) {
    if (side === 'app') {
      const idp = await localIdp(this.ctx, this.tenant);
      return {
        entityId: idp.entityId,
        endpoint: this.tenant.urls.idpSlo,
        signer: { keyPem: idp.signingKeyPem, certificatePem: idp.certificatePem },
      };
    }
    const sp = await localSp(this.ctx, this.tenant);
    return {
      entityId: sp.entityId,
      endpoint: this.tenant.urls.spSlo,
      signer: { keyPem: sp.signingKeyPem, certificatePem: sp.certificatePem },
    };
  }

  /**
   * Reads and checks a logout message from a peer: Issuer registered, signature by its registered certificate
   * (required whenever it has one; an upstream IdP always has, and only its LogoutResponse may come unsigned, see
   * checkUnsignedIdpResponse), Destination our endpoint, not expired.
   */
  async receive(input: IncomingLogoutMessage): Promise<{
    message: ReceivedLogoutRequest | ReceivedLogoutResponse;
    peer: Awaited<ReturnType<SingleLogout['peer']>>;
  }> {
    const param = input.samlRequest ? 'SAMLRequest' : 'SAMLResponse';
    const raw = input.samlRequest ?? input.samlResponse;
    if (!raw) throw new SamlError('saml_malformed', 'The logout message is missing (no SAMLRequest or SAMLResponse).');
    const message = await parseLogoutMessage({
      binding: input.binding,
      param,
      message: raw,
      maxBytes: this.ctx.config.maxSamlMessageBytes,
    });
    const peer = await this.peer(input.side, message.issuer);
    const signature = {
      binding: input.binding,
      param,
      rawQuery: input.rawQuery,
      message: raw,
      maxBytes: this.ctx.config.maxSamlMessageBytes,
    } as const;
    if (input.side === 'idp' && message.kind === 'response' && !carriesSignature(signature)) {
      await this.checkUnsignedIdpResponse(message, peer, input.relayState);
    } else if (peer.certificates.length) {
      verifyMessageSignature({ ...signature, certificates: peer.certificates, allowSha1: peer.allowSha1 });
    } else if (message.kind === 'request' && !message.sessionIndexes.length) {
      // Unsigned (an app registered without a certificate): only the SessionIndex, a random value we gave that app
      // alone, shows the request comes from it. A NameID is often an email address anyone could write.
      throw new SamlError(
        'saml_request_unsigned',
        "An unsigned logout request must name the session (SessionIndex) it ends; register the app's certificate to let it log out by NameID alone.",
      );
    }
    const expected = input.side === 'app' ? this.tenant.urls.idpSlo : this.tenant.urls.spSlo;
    // A signed message must name where it was sent (SAML bindings 3.4.5.2, 3.5.5.2); unsigned, it is checked when present.
    if (
      message.destination === undefined ? peer.certificates.length > 0 : !sameEndpoint(message.destination, expected)
    ) {
      throw new SamlError('saml_wrong_destination', 'The logout message was sent to another endpoint.', {
        expected,
        received: message.destination ?? null,
      });
    }
    if (
      message.kind === 'request' &&
      message.notOnOrAfter &&
      // Not on or after: at NotOnOrAfter plus the skew exactly it has expired, the moment its one-time record may go
      // (one-time-use.ts reuses a record whose expiresAt <= now), so that no instant accepts it twice.
      this.now().getTime() >= message.notOnOrAfter.getTime() + SKEW_SECONDS * 1000
    ) {
      throw new SamlError('saml_expired', 'The logout request has expired.', {
        notOnOrAfter: message.notOnOrAfter.toISOString(),
      });
    }
    return { message, peer };
  }

  /**
   * An upstream IdP's LogoutResponse that carries no signature at all (SimpleSAMLphp's default, Entra ID). Refused,
   * naming the setting, unless the IdP is marked acceptUnsignedLogoutResponse; then accepted only as the answer to the
   * LogoutRequest this chain sent that IdP: Issuer that IdP, Destination our SP SLO URL (required), InResponseTo the
   * request ID stored on the chain's current hop, and once. A signed response is verified as ever; a LogoutRequest
   * from an IdP is never accepted unsigned.
   */
  private async checkUnsignedIdpResponse(
    response: ReceivedLogoutResponse,
    peer: Awaited<ReturnType<SingleLogout['peer']>>,
    relayState: string | undefined,
  ) {
    if (!peer.acceptUnsignedLogoutResponse) {
      throw new SamlError(
        'saml_unsigned',
        `The logout response of the identity provider "${peer.name}" is not signed. If it never signs them (SimpleSAMLphp's default, Entra ID), an administrator can accept them for this IdP: Identity providers → ${peer.name} → Accept unsigned LogoutResponses, or \`npm run cli -- idp update --org ${this.tenant.org.slug} --idp ${peer.id} --accept-unsigned-logout-response\`.`,
        { idp: peer.entityId, missing: 'logout response signature' },
      );
    }
    const expected = this.tenant.urls.spSlo;
    if (!response.destination || !sameEndpoint(response.destination, expected)) {
      throw new SamlError(
        'saml_wrong_destination',
        'An unsigned logout response must name this endpoint as its Destination.',
        { expected, received: response.destination ?? null },
      );
    }
    const now = this.now();
    const flow = relayState ? await this.store.flows.findAtStage<LogoutChain>(relayState, [STAGE.logout], now) : null;
    const hop = flow?.data.kind === 'logout' ? flow.data.hops[flow.data.current] : undefined;
    if (!hop || hop.side !== 'idp' || !hop.requestId || hop.outcome) {
      throw new SamlError(
        'saml_wrong_in_response_to',
        'The unsigned logout response does not answer a logout request this broker is waiting for.',
        { received: response.inResponseTo ?? null },
      );
    }
    if (hop.id !== peer.id)
      throw new SamlError(
        'saml_wrong_issuer',
        'The unsigned logout response comes from another identity provider than the one asked.',
        { received: peer.entityId },
      );
    if (response.inResponseTo !== hop.requestId)
      throw new SamlError(
        'saml_wrong_in_response_to',
        'The unsigned logout response does not answer the logout request sent to this identity provider.',
        { expected: hop.requestId, received: response.inResponseTo ?? null },
      );
    const fresh = await this.store.oneTimeUse.consume(
      'logout_response',
      `${peer.id}:${hop.requestId}`,
      new Date(now.getTime() + CHAIN_TTL_SECONDS * 1000),
      now,
    );
    if (!fresh)
      throw new SamlError('saml_replayed', 'This logout response was already processed.', {
        inResponseTo: hop.requestId,
      });
    await this.store.audit.record({
      type: 'logout.unsigned_response_accepted',
      at: now,
      idpId: peer.id,
      flowId: flow!.id,
      details: { inResponseTo: hop.requestId },
    });
  }

  /**
   * A participant asks to log out: end the sessions it names and plan the chain. Sessions are looked up only in
   * this organisation and only through what the requester itself was given (the app's NameID and SessionIndex, or
   * the IdP's), so a request cannot end anybody else's session.
   */
  async start(
    side: Side,
    request: ReceivedLogoutRequest,
    peer: { id: string; name: string },
    input: { binding: Binding; relayState: string | null; browser: string | null },
  ): Promise<{ flow: LogoutFlow; endedSessions: BrokerSessionRow[] } | null> {
    const now = this.now();
    // A logout request is processed once, whichever node it reaches: its record is kept at least as long as the
    // request could still be accepted (its NotOnOrAfter plus the skew, checked in receive).
    const keepUntil = Math.max(
      now.getTime() + CHAIN_TTL_SECONDS * 1000,
      (request.notOnOrAfter?.getTime() ?? 0) + SKEW_SECONDS * 1000,
    );
    const fresh = await this.store.oneTimeUse.consume(
      'logout_request',
      `${side}:${peer.id}:${request.id}`,
      new Date(keepUntil),
      now,
    );
    if (!fresh) throw new SamlError('saml_replayed', 'This logout request was already processed.', { id: request.id });

    const sessions =
      side === 'app'
        ? await this.store.sessions.findForAppLogout(peer.id, request.nameId, request.sessionIndexes)
        : await this.store.sessions.findForIdpLogout(peer.id, request.nameId, request.sessionIndexes);
    if (!sessions.length) {
      // Nothing of this organisation matches what the requester names: answered UnknownPrincipal, nothing ended.
      await this.store.audit.record({
        type: 'logout.unknown_session',
        outcome: 'failure',
        code: 'unknown_principal',
        at: now,
        ...(side === 'app' ? { appId: peer.id } : { idpId: peer.id }),
        details: { initiator: side },
      });
      return null;
    }
    await this.store.sessions.endMany(
      sessions.map((s) => s.id),
      now,
    );

    const hops: LogoutHop[] = [];
    const seenApps = new Set<string>(side === 'app' ? [peer.id] : []);
    for (const session of sessions) {
      for (const sa of await this.store.sessions.listApps(session.id)) {
        if (seenApps.has(sa.appId)) continue;
        seenApps.add(sa.appId);
        const app = await this.store.applications.findById(sa.appId);
        if (!app) continue; // deleted since: nothing left to log out
        const hop: LogoutHop = {
          side: 'app',
          id: app.id,
          name: app.name,
          nameId: sa.nameId,
          sessionIndex: sa.sessionIndex,
        };
        if (!app.sloUrl || !app.enabled)
          Object.assign(hop, {
            outcome: 'skipped',
            detail: app.sloUrl ? 'the app is disabled' : 'the app has no single logout URL',
          });
        hops.push(hop);
      }
    }
    const oidcHops: LogoutHop[] = [];
    if (side === 'app') {
      const seenIdps = new Set<string>();
      for (const session of sessions) {
        if (seenIdps.has(session.idpId)) continue;
        seenIdps.add(session.idpId);
        const idp = await this.store.identityProviders.findById(session.idpId);
        if (!idp?.enabled) continue;
        // An IdP without an SLO URL (SAML) or end_session_endpoint (OpenID Connect) keeps its own session; that is its
        // admin's choice, not a failed logout.
        if (idp.protocol === 'oidc') {
          if (offersEndSession(idp))
            oidcHops.push({
              side: 'idp',
              protocol: 'oidc',
              id: idp.id,
              name: idp.name,
              nameId: session.nameId,
              sessionIndex: session.upstreamSessionIndex,
              idTokenHint: session.upstreamIdToken,
            });
        } else if (idp.sloUrl) {
          hops.push({
            side: 'idp',
            id: idp.id,
            name: idp.name,
            nameId: session.nameId,
            nameIdFormat: session.nameIdFormat,
            nameQualifier: session.nameQualifier,
            spNameQualifier: session.spNameQualifier,
            sessionIndex: session.upstreamSessionIndex,
          });
        }
      }
    }
    // OpenID Connect IdPs last: the browser leaves the chain page for them, the frames of the others are done by then.
    hops.push(...oidcHops);
    const chain: LogoutChain = {
      kind: 'logout',
      origin: {
        side,
        id: peer.id,
        name: peer.name,
        requestId: request.id,
        relayState: input.relayState,
        binding: input.binding,
      },
      browser: input.browser,
      hops,
      current: 0,
      sessionIds: sessions.map((s) => s.id),
    };
    const flow = await this.store.flows.create<LogoutChain>({
      id: newFlowId(),
      stage: STAGE.logout,
      data: chain,
      expiresAt: new Date(now.getTime() + CHAIN_TTL_SECONDS * 1000),
    });
    await this.store.audit.record({
      type: 'logout.started',
      at: now,
      ...(side === 'app' ? { appId: peer.id } : { idpId: peer.id }),
      flowId: flow.id,
      ...(sessions[0] && { userId: sessions[0].userId }),
      details: { initiator: side, sessions: sessions.length, participants: hops.map((h) => h.name) },
    });
    return { flow, endedSessions: sessions };
  }

  async load(flowId: string): Promise<LogoutFlow> {
    const flow = await this.store.flows.findAtStage<LogoutChain>(flowId, [STAGE.logout], this.now());
    if (!flow || flow.data.kind !== 'logout')
      throw new AppError('logout_not_found', 'This sign-out has expired or was already completed.');
    return flow;
  }

  /**
   * Moves the chain forward as far as it can without the browser: skips participants already answered or out of
   * time, starts the next one (its request ID is fixed now, so its answer can be matched), or finishes.
   */
  async step(flowId: string, hopTimeoutSeconds: number): Promise<LogoutStep> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const flow = await this.load(flowId);
      const chain = structuredClone(flow.data);
      const now = this.now();
      let hop = chain.hops[chain.current];
      // An OpenID Connect IdP has the browser itself (the user may have to confirm there): only the chain's end stops it.
      const limitOf = (h: LogoutHop) => (h.protocol === 'oidc' ? CHAIN_TTL_SECONDS : hopTimeoutSeconds);
      while (
        hop &&
        (hop.outcome || (hop.startedAt && now.getTime() - Date.parse(hop.startedAt) >= limitOf(hop) * 1000))
      ) {
        if (!hop.outcome) Object.assign(hop, { outcome: 'timeout', detail: `no answer within ${limitOf(hop)} s` });
        hop = chain.hops[++chain.current];
      }
      if (!hop) return this.finish(flow, chain);
      if (!hop.startedAt) Object.assign(hop, { startedAt: now.toISOString(), requestId: newSamlId() });
      if (
        JSON.stringify(chain) !== JSON.stringify(flow.data) &&
        !(await this.store.flows.advance(flow, STAGE.logout, { data: chain }))
      )
        continue;
      const remaining = Math.max(
        1,
        Math.ceil((Date.parse(hop.startedAt!) + limitOf(hop) * 1000 - now.getTime()) / 1000),
      );
      return { kind: 'hop', flowId, hop, remainingSeconds: remaining, done: chain.current, total: chain.hops.length };
    }
    throw new AppError('logout_busy', 'This sign-out is being processed elsewhere. Reload the page.');
  }

  /** The LogoutRequest for the current participant, addressed to its SLO URL (HTTP-Redirect, signed). */
  async hopRequest(flowId: string): Promise<OutgoingMessage> {
    const flow = await this.load(flowId);
    const hop = flow.data.hops[flow.data.current];
    if (!hop?.requestId || hop.outcome)
      throw new AppError('logout_hop_done', 'This step of the sign-out is already done.');
    const app = hop.side === 'app' ? await this.store.applications.findById(hop.id) : null;
    const peer = hop.side === 'app' ? app : await this.store.identityProviders.findById(hop.id);
    if (!peer?.sloUrl) throw new AppError('logout_hop_done', 'This participant has no single logout URL any more.');
    const us = await this.us(hop.side);
    // To an app: the NameID format we issued to it, so its logout lookup matches what it stored. To the IdP: the NameID
    // exactly as it issued it, format and qualifiers included (ADFS, for one, finds nothing to log out otherwise).
    const nameId = app
      ? { nameIdFormat: NAMEID_FORMATS[app.nameIdFormat] }
      : { nameIdFormat: hop.nameIdFormat, nameQualifier: hop.nameQualifier, spNameQualifier: hop.spNameQualifier };
    const { xml } = logoutRequestXml({
      id: hop.requestId,
      issuer: us.entityId,
      destination: peer.sloUrl,
      now: this.now(),
      nameId: hop.nameId,
      ...nameId,
      sessionIndex: hop.sessionIndex,
    });
    return encodeOutgoing({
      xml,
      id: hop.requestId,
      param: 'SAMLRequest',
      destination: peer.sloUrl,
      binding: 'redirect',
      relayState: flowId,
      signer: us.signer,
    });
  }

  /** RP-initiated logout at the current participant, an OpenID Connect IdP: its end_session_endpoint URL, with the
   *  `state` that names this chain and the hop's secret (checked when the browser comes back). */
  async oidcLogoutUrl(flowId: string): Promise<string> {
    const flow = await this.load(flowId);
    const hop = flow.data.hops[flow.data.current];
    if (!hop?.requestId || hop.outcome || hop.protocol !== 'oidc')
      throw new AppError('logout_hop_done', 'This step of the sign-out is already done.');
    const idp = await this.store.identityProviders.findById(hop.id);
    const url = idp
      ? endSessionUrl(this.ctx, this.tenant, idp, {
          sealedIdToken: hop.idTokenHint ?? null,
          state: `${flowId}.${hop.requestId}`,
        })
      : null;
    if (!url) throw new AppError('logout_hop_done', 'This identity provider has no end-session endpoint any more.');
    return url;
  }

  /**
   * The browser is back from an OpenID Connect IdP's end_session_endpoint: `state` must be the one sent for the
   * chain's current hop, in the browser that runs the chain (`ownsChain`); then the hop succeeded and the chain goes on.
   * The IdP says nothing else: RP-Initiated Logout has no error answer.
   */
  async recordOidcLogoutReturn(
    state: string | undefined,
    ownsChain: (chainBrowser: string | null) => boolean,
  ): Promise<string> {
    const mismatch = (diagnosis: Record<string, unknown> = {}) =>
      new OidcError(
        'oidc_logout_state_mismatch',
        'This sign-out answer does not belong to a sign-out that is waiting.',
        diagnosis,
      );
    const dot = state && state.length <= 256 ? state.lastIndexOf('.') : -1;
    if (!state || dot <= 0) throw mismatch({ received: state?.slice(0, 100) ?? null });
    const flowId = state.slice(0, dot);
    const secret = state.slice(dot + 1);
    for (let attempt = 0; attempt < 5; attempt++) {
      const flow = await this.store.flows.findAtStage<LogoutChain>(flowId, [STAGE.logout], this.now());
      if (!flow || flow.data.kind !== 'logout')
        throw mismatch({ problem: 'no sign-out of this organisation is waiting for this state' });
      if (!ownsChain(flow.data.browser))
        throw new AppError('logout_browser_mismatch', 'This sign-out was started in another browser.');
      const chain = structuredClone(flow.data);
      const hop = chain.hops[chain.current];
      // Compared as hashes: equal length, constant time.
      if (
        !hop ||
        hop.protocol !== 'oidc' ||
        !hop.requestId ||
        hop.outcome ||
        !timingSafeEqual(Buffer.from(sha256(hop.requestId), 'hex'), Buffer.from(sha256(secret), 'hex'))
      ) {
        throw mismatch({ problem: 'the state does not name the identity provider this sign-out is waiting for' });
      }
      Object.assign(hop, { outcome: 'success' });
      chain.current++;
      if (await this.store.flows.advance(flow, STAGE.logout, { data: chain })) return flowId;
    }
    throw new AppError('logout_busy', 'This sign-out is being processed elsewhere. Reload the page.');
  }

  /** A participant's LogoutResponse to our request: it must answer the request we sent it, for this chain. */
  async recordAnswer(
    flowId: string | undefined,
    side: Side,
    response: ReceivedLogoutResponse,
    peerId: string,
  ): Promise<string> {
    if (!flowId)
      throw new SamlError(
        'saml_wrong_in_response_to',
        'The logout response does not say which sign-out it belongs to (no RelayState).',
      );
    for (let attempt = 0; attempt < 5; attempt++) {
      const flow = await this.load(flowId);
      const chain = structuredClone(flow.data);
      const hop = chain.hops[chain.current];
      if (!hop || hop.side !== side || hop.id !== peerId || !hop.requestId || response.inResponseTo !== hop.requestId) {
        throw new SamlError(
          'saml_wrong_in_response_to',
          'The logout response does not answer the request this sign-out is waiting for.',
          { expected: hop?.requestId, received: response.inResponseTo },
        );
      }
      if (hop.outcome) return flowId; // already recorded (a timeout got there first): the chain has moved on
      Object.assign(
        hop,
        isSuccess(response)
          ? { outcome: 'success' }
          : { outcome: 'failed', detail: [response.status, response.subStatus].filter(Boolean).join('/') },
      );
      chain.current++;
      if (await this.store.flows.advance(flow, STAGE.logout, { data: chain })) return flowId;
    }
    throw new AppError('logout_busy', 'This sign-out is being processed elsewhere. Reload the page.');
  }

  /** Ends the chain: the flow becomes terminal and the originator gets its LogoutResponse. */
  private async finish(flow: LogoutFlow, chain: LogoutChain): Promise<LogoutStep> {
    const partial = chain.hops.some((h) => h.outcome !== 'success');
    const status: LogoutStatus = partial ? 'PartialLogout' : 'Success';
    if (!(await this.store.flows.advance(flow, STAGE.logoutDone, { data: chain })))
      throw new AppError('logout_not_found', 'This sign-out was already completed.');
    await this.store.audit.record({
      type: 'logout.completed',
      outcome: partial ? 'failure' : 'success',
      code: partial ? 'partial_logout' : undefined,
      at: this.now(),
      flowId: flow.id,
      ...(chain.origin.side === 'app' ? { appId: chain.origin.id } : { idpId: chain.origin.id }),
      details: {
        status,
        participants: chain.hops.map((h) => ({
          name: h.name,
          outcome: h.outcome,
          ...(h.detail && { detail: h.detail }),
        })),
      },
    });
    return { kind: 'finish', status, chain, message: await this.responseTo(chain.origin, status) };
  }

  /** The LogoutResponse for a request, or null when the requester has no SLO URL to receive it. */
  async responseTo(
    origin: LogoutChain['origin'],
    status: LogoutStatus,
    message?: string,
  ): Promise<OutgoingMessage | null> {
    const peer =
      origin.side === 'app'
        ? await this.store.applications.findById(origin.id)
        : await this.store.identityProviders.findById(origin.id);
    if (!peer?.sloUrl) return null;
    const us = await this.us(origin.side);
    const built = logoutResponseXml({
      issuer: us.entityId,
      destination: peer.sloUrl,
      now: this.now(),
      inResponseTo: origin.requestId,
      status,
      message,
    });
    return encodeOutgoing({
      xml: built.xml,
      id: built.id,
      param: 'SAMLResponse',
      destination: peer.sloUrl,
      binding: origin.binding,
      relayState: origin.relayState,
      signer: us.signer,
    });
  }
}
