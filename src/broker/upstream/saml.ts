// The SAML upstream protocol (we are the SP): our AuthnRequest to the IdP (signed when it wants signed requests),
// and its Response at our ACS, verified by src/saml/upstream against the IdP's registration: signature by its
// certificate(s), Issuer, InResponseTo, Destination/Recipient, Audience, time window, then the assertion ID consumed
// once, shared by every node.
import { SamlError } from '../../saml/errors.ts';
import { buildUpstreamAuthnRequest } from '../../saml/upstream/authn-request.ts';
import { ParsedResponse, parseUpstreamResponse, verifyParsedResponse } from '../../saml/upstream/response.ts';
import type { UpstreamIdp } from '../../saml/upstream/types.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { localSp } from '../identities.ts';
import { mapProfile } from './profile.ts';
import type { UpstreamProtocol } from './protocol.ts';

/** A stored IdP registration, as the SAML adapter needs it. */
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

export const saml: UpstreamProtocol = {
  name: 'saml',

  async start(ctx, tenant, idp, { flowId, forceAuthn, loginHint }) {
    // The flow id travels as RelayState. A known email (the app's Subject or login_hint, or the address typed on the
    // chooser) goes along as the request's Subject only where the IdP's registration opts in (sendLoginHint): not
    // every IdP takes a Subject, and some refuse the request when the user signs in as someone else.
    const built = buildUpstreamAuthnRequest(await localSp(ctx, tenant), upstreamIdp(idp), {
      relayState: flowId,
      now: ctx.clock.now(),
      forceAuthn,
      ...(idp.sendLoginHint && loginHint && { subjectEmail: loginHint }),
    });
    return {
      requestId: built.id,
      dispatch:
        built.binding === 'redirect'
          ? { binding: 'redirect', url: built.url }
          : { binding: 'post', url: built.url, fields: built.fields },
    };
  },

  async finish(ctx, tenant, idp, returned, expectedRequestId) {
    const now = ctx.clock.now();
    // An unsolicited Response was parsed already, to read its issuer (readUnsolicited): it is not parsed again.
    const parsed =
      returned.reading?.parsed instanceof ParsedResponse
        ? returned.reading.parsed
        : await parseUpstreamResponse(returned.message, ctx.config.maxSamlMessageBytes);
    const a = await verifyParsedResponse(parsed, {
      sp: await localSp(ctx, tenant),
      idp: upstreamIdp(idp),
      expectedInResponseTo: expectedRequestId,
      now,
      skewSeconds: ctx.config.clockSkewSeconds,
    });
    return {
      result: {
        nameId: a.nameId,
        nameIdFormat: a.nameIdFormat,
        nameQualifier: a.nameQualifier,
        spNameQualifier: a.spNameQualifier,
        sessionIndex: a.sessionIndex,
        attributes: a.attributes,
        assertionId: a.assertionId,
        ...(a.sessionNotOnOrAfter && { sessionNotOnOrAfter: a.sessionNotOnOrAfter.toISOString() }),
      },
      profile: mapProfile(idp, a),
      signed: { response: a.responseSigned, assertion: a.assertionSigned },
      // Kept until the assertion could no longer be accepted anyway (its validity end plus the allowed skew).
      once: {
        key: `${idp.id}:${a.assertionId}`,
        keepUntil: new Date(Math.max(a.notOnOrAfter.getTime(), now.getTime()) + ctx.config.clockSkewSeconds * 1000),
        diagnosis: { assertionId: a.assertionId },
      },
    };
  },

  async readUnsolicited(ctx, returned) {
    const parsed = await parseUpstreamResponse(returned.message, ctx.config.maxSamlMessageBytes);
    return { issuer: parsed.claimedIssuer, parsed };
  },

  async consume(_ctx, tenant, _idp, login, now) {
    const first = await tenant.store.oneTimeUse.consume('assertion', login.once.key, login.once.keepUntil, now);
    if (!first) throw new SamlError('saml_replayed', 'This sign-in response was already used.', login.once.diagnosis);
  },
};
