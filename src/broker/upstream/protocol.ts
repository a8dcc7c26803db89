// The seam between the login flow and the upstream protocol that signs users in at their IdP. The flow only says
// "send this flow to that IdP" (start) and "this came back: who is it" (finish); a protocol turns that into its own
// messages and checks. SAML is the only one today (saml.ts); another (OpenID Connect) is a second implementation
// of this interface, chosen by the IdP's registration in registry.ts, and the flow does not change.
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { IdentityProvider } from '../../store/identity-providers.ts';
import { SamlError } from '../../saml/errors.ts';
import { OidcError } from './oidc-errors.ts';
import { ProfileError, type Profile } from './profile.ts';

/** A protocol's refusal of what came back (each with a stable code and the admin's diagnosis). */
export type UpstreamRefusal = SamlError | OidcError | ProfileError;
export const isUpstreamRefusal = (err: unknown): err is UpstreamRefusal =>
  err instanceof SamlError || err instanceof OidcError || err instanceof ProfileError;

/** How the browser goes to the IdP: a redirect, or an auto-POST form. */
export type UpstreamDispatch =
  { binding: 'redirect'; url: string } | { binding: 'post'; url: string; fields: Record<string, string> };

/** What a flow keeps of a verified upstream login (the broker session and single logout use it). */
export interface UpstreamResult {
  nameId: string;
  nameIdFormat?: string;
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndex?: string;
  /** ISO time: the IdP's SessionNotOnOrAfter, the latest end of the broker session it starts */
  sessionNotOnOrAfter?: string;
  attributes: Record<string, string[]>;
  assertionId: string;
  /** OpenID Connect: the ID token, sealed with the master key (idTokenSealContext), for RP-initiated logout */
  idTokenSealed?: string;
}

/** What the IdP sent back to our endpoint: the message, and the state it returns (the flow id we gave it). */
export interface UpstreamReturn {
  message: string | undefined;
  relayState: string | undefined;
}

/** What a protocol read of an unsolicited answer before the IdP was known (readUnsolicited): whom it claims to come
 *  from, unverified, and the protocol's own reading of the message (SAML: the parsed Response), which finish takes
 *  back instead of decoding and parsing the message again. Opaque to the flow. */
export interface UpstreamReading {
  issuer: string;
  parsed: object;
}

/** What came back with a message; `reading` only where readUnsolicited read it already. */
export type UpstreamMessage = UpstreamReturn & { message: string; reading?: UpstreamReading };

/** A login the protocol verified against the IdP's registration. */
export interface UpstreamLogin {
  result: UpstreamResult;
  profile: Profile;
  /** what the IdP signed (shown by the admin's test connection) */
  signed: { response: boolean; assertion: boolean };
  /** OpenID Connect, Entra ID: the token named a "groups overage" source (_claim_names) instead of the groups, and
   *  `groups` of them were read from Microsoft Graph into the profile (audited; shown by test connection) */
  groupsOverage?: { source: string | null; groups: number };
  /** used once only: see UpstreamProtocol.consume */
  once: { key: string; keepUntil: Date; diagnosis: Record<string, unknown> };
}

export interface UpstreamProtocol {
  readonly name: string;
  /** The request (or redirect) that sends the browser of flow `flowId` to `idp`; `requestId` is what its answer
   *  must refer to (stored on the flow, handed back to finish). `loginHint`: an email the user or the app already gave
   *  (home-realm discovery, the AuthnRequest's Subject, a login_hint parameter), so the IdP need not ask for it. */
  start(
    ctx: AppContext,
    tenant: Tenant,
    idp: IdentityProvider,
    opts: { flowId: string; forceAuthn: boolean; loginHint?: string },
  ): Promise<{ dispatch: UpstreamDispatch; requestId: string }>;
  /** Verifies what came back against `idp`'s registration: the login, or a refusal (an UpstreamRefusal, thrown).
   *  `expectedRequestId`: the request it must answer; null for an unsolicited (IdP-initiated) login. */
  finish(
    ctx: AppContext,
    tenant: Tenant,
    idp: IdentityProvider,
    returned: UpstreamMessage,
    expectedRequestId: string | null,
  ): Promise<UpstreamLogin>;
  /** Unsolicited logins only: reads the message (every size and schema check first) and says whom it claims to come
   *  from, unverified, to choose whose settings verify it; finish then takes the reading with the message. */
  readUnsolicited(ctx: AppContext, returned: UpstreamMessage): Promise<UpstreamReading>;
  /** Records the login as used, shared by every node; a second use is refused (replay). */
  consume(ctx: AppContext, tenant: Tenant, idp: IdentityProvider, login: UpstreamLogin, now: Date): Promise<void>;
}
