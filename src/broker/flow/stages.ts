// The stages a stored login flow passes through (see ARCHITECTURE.md). Only the stages where the browser comes
// back to us are stored; the rest happen inside one request. Stable strings: they appear in logs and audit.
import type { ErrorCode, ErrorSubStatus } from '../../errors.ts';
import type { IssuedChallenge } from '../../mfa/webauthn-service.ts';
import type { SecondFactorLevel } from '../../policy/rules.ts';
import type { TestConnection } from '../test-connection/types.ts';
import type { UpstreamResult } from '../upstream/protocol.ts';

export type { UpstreamResult };

export const STAGE = {
  /** the app's request is accepted; an IdP must be chosen on the chooser page */
  received: 'received',
  /** our AuthnRequest went to the upstream IdP; waiting for its Response at the ACS */
  upstreamSent: 'upstream_sent',
  /** the upstream Response was verified; the browser continues at /flow/:id/continue */
  upstreamVerified: 'upstream_verified',
  /** TOTP enrolment page shown */
  mfaEnrol: 'mfa_enrol',
  /** TOTP verification page shown */
  mfaVerify: 'mfa_verify',
  /** the enrolment was confirmed in this flow; the recovery codes are shown, the response is next (a verified code
   *  at `mfa_verify` goes straight to `completed`) */
  mfaDone: 'mfa_done',
  /** the app received its Response; terminal */
  completed: 'completed',
  /** refused; `data.failure` says why. The app hears back once, from /flow/:id/return (fail.ts) */
  failed: 'failed',
  /** the app received the signed error Response of a failed flow; terminal */
  returned: 'returned',
  /** a single logout chain is visiting the session's participants (see logout/single-logout.ts) */
  logout: 'logout',
  /** the chain answered its originator; terminal */
  logoutDone: 'logout_done',
} as const;
export type Stage = (typeof STAGE)[keyof typeof STAGE];

/** What the app asked for (or what a launch link / IdP-initiated login implies). Fields come from the request
 *  only after they were checked against the app's registration. */
export interface AppRequest {
  /** the AuthnRequest ID, null for unsolicited (launch link, IdP-initiated) */
  id: string | null;
  acsUrl: string;
  relayState: string | null;
  forceAuthn: boolean;
  /** the app asked not to show any page: answer NoPassive unless a broker session can serve it */
  isPassive: boolean;
}

export interface FlowData {
  /** `test`: an admin's "Test connection" (test-connection/); it has no app and ends on its own result page.
   *  `account`: a user signing in to their account page (account/); it has no app, starts a broker session and
   *  ends on /account */
  via: 'sp_initiated' | 'launch' | 'idp_initiated' | 'test' | 'account';
  request: AppRequest;
  /** SHA-256 of the browser-binding cookie of the browser that started the flow */
  browser: string | null;
  upstreamRequestId?: string;
  upstream?: UpstreamResult;
  profile?: { email: string | null; firstName: string | null; lastName: string | null; groups: string[] };
  /** set when the flow rides on an existing broker session */
  fromSession?: boolean;
  /** what the policy asked for, kept while the second factor is pending. `level`: which factors count (absent: TOTP
   *  only); `challenge`: the WebAuthn challenge of the page shown last (spent once, mfa/webauthn-service.ts);
   *  `knownDevice`: the browser presented a valid remembered-device cookie of this user (for the new-device e-mail);
   *  `recovered`: a recovery code was accepted at the `webauthn` level, which still asks for a new passkey before the
   *  app (second-factor.ts) */
  mfa?: {
    rememberDeviceDays: number;
    ruleId: string;
    level?: SecondFactorLevel;
    challenge?: IssuedChallenge;
    knownDevice?: boolean;
    recovered?: { remaining: number };
  };
  /** an email that may pick the IdP (home-realm discovery): prefills the chooser; never an identity */
  loginHint?: string;
  /** why a `failed` flow failed: what its error Response to the app says (fail.ts) */
  failure?: FlowFailure;
  /** only on `via: 'test'` flows: who started the test and, once the IdP answered, what it found (test-connection/) */
  test?: TestConnection;
}

/** What the app is told: `message` goes into the Response's StatusMessage, `code` into the audit log; `subStatus`
 *  is the code's SAML status in the error catalogue (src/errors.ts), kept with the flow (failureOf, fail.ts). */
export interface FlowFailure {
  code: ErrorCode;
  message: string;
  subStatus: ErrorSubStatus;
}
