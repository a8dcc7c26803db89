// Passkeys and security keys (WebAuthn) as a second factor, on @simplewebauthn/server: the options a browser needs
// to create or use a credential, and the checks of what it sends back. The relying party is the organisation's own
// host (its subdomain of BASE_DOMAIN), so a credential made for one organisation is useless at another, and a page on
// another origin (a phishing portal) cannot use it at all: the browser signs its real origin, checked here.
// User verification is preferred, not required (a security key without a PIN still counts as possession);
// attestation is `none` (no vendor is trusted or refused by certificate).
//
// A challenge is made for one ceremony and used once, on any node: the caller keeps it with what it belongs to (a
// login flow) and each answer first spends it as a one-time-use record in the database (also with REDIS_URL), so a
// replayed answer is refused even if the flow were still waiting.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';
import type { WebAuthnCredentialRow } from '../store/webauthn-credentials.ts';

/**
 * What a signature counter that did not move forward means to an organisation (`webauthnCounterPolicy`):
 * `refuse` (the default) refuses the sign-in, flags the credential and audits it; `allow-flagged` accepts the
 * sign-in, flags the credential and audits it, for organisations whose users have keys known to reset their counter.
 * Either way the judgement comes only after the signature verified: an answer that does not verify is a refusal like
 * any other and changes nothing. A credential that reports 0 and was always seen at 0 (synced passkeys) keeps no
 * counter and is accepted under both.
 */
export const WEBAUTHN_COUNTER_POLICIES = ['refuse', 'allow-flagged'] as const;
export type WebAuthnCounterPolicy = (typeof WEBAUTHN_COUNTER_POLICIES)[number];

/** True when `next` is not a forward move from `stored` (WebAuthn L2 §6.1.1): both 0 is "no counter kept". */
export const counterWentBack = (stored: number, next: number) => (stored > 0 || next > 0) && next <= stored;

/** Who the credentials are for: `id` is the RP ID (the organisation's host name), `origin` the one origin allowed. */
export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

/** The relying party of an organisation's base URL (`https://acme.broker.example`). */
export function relyingPartyOf(baseUrl: string, name: string): RelyingParty {
  const u = new URL(baseUrl);
  return { id: u.hostname, origin: u.origin, name };
}

/** A challenge as kept by the caller: the value sent to the browser and when it was made. */
export interface IssuedChallenge {
  value: string;
  issuedAt: string;
}

/** How long a browser has to answer a challenge (the options' timeout, with a margin for the round trip). */
export const CHALLENGE_SECONDS = 300;
export const MAX_CREDENTIAL_NAME = 64;
const CEREMONY_TIMEOUT_MS = 120_000;

/** What the user may call a credential: trimmed, printable, 1 to 64 characters. */
export function credentialName(input: unknown): string {
  const name = typeof input === 'string' ? input.replace(/[\x00-\x1f\x7f]/g, '').trim() : '';
  if (!name || name.length > MAX_CREDENTIAL_NAME)
    throw new AppError(
      'webauthn_bad_name',
      `Give the passkey a name of 1 to ${MAX_CREDENTIAL_NAME} characters, like "Work laptop" or "Blue key".`,
    );
  return name;
}

/** A passkey answer is a few hundred bytes; anything much longer is not one. */
const MAX_ANSWER = 20_000;

/** The answer @simplewebauthn/browser made, as a form posts it (JSON text); the library checks the rest. */
export function parsePasskeyAnswer(text: string | undefined): RegistrationResponseJSON & AuthenticationResponseJSON {
  try {
    if (text && text.length <= MAX_ANSWER) {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') return parsed as RegistrationResponseJSON & AuthenticationResponseJSON;
    }
  } catch {
    /* refused below */
  }
  throw new AppError('webauthn_refused', 'The passkey or security key could not be verified. Try again.');
}

/** Options as a page embeds them, in a <script type="application/json">: no "<" may close it early. */
export const optionsForPage = (options: object) => JSON.stringify(options).replace(/</g, '\\u003c');

const transportsOf = (row: WebAuthnCredentialRow) => JSON.parse(row.transports) as AuthenticatorTransportFuture[];

/** Why the library refused an answer, as the user and the audit log should hear it. The library says so only in
 *  its messages; anything not recognised is a generic refusal. */
function refusal(err: unknown): AppError {
  const message = err instanceof Error ? err.message : String(err);
  if (/origin/i.test(message))
    return new AppError(
      'webauthn_wrong_origin',
      "The passkey answer was made for another website. Sign in only on this organisation's own address.",
    );
  if (/RP ID/i.test(message))
    return new AppError('webauthn_wrong_rp', 'The passkey answer is for another site than this organisation.');
  if (/challenge/i.test(message))
    return new AppError('webauthn_wrong_challenge', 'The passkey answered another request. Try again.');
  return new AppError('webauthn_refused', 'The passkey or security key could not be verified. Try again.');
}

export class WebAuthnService {
  constructor(
    private readonly store: TenantStore,
    private readonly clock: Clock,
    private readonly rp: RelyingParty,
    private readonly counterPolicy: WebAuthnCounterPolicy = 'refuse',
  ) {}

  list(userId: string) {
    return this.store.webauthn.list(userId);
  }

  private challenge(value: string): IssuedChallenge {
    return { value, issuedAt: this.clock.now().toISOString() };
  }

  /** Spends a challenge: once, on any node, and only while it is recent. */
  private async spend(challenge: IssuedChallenge | undefined) {
    const now = this.clock.now();
    const issued = challenge ? Date.parse(challenge.issuedAt) : Number.NaN;
    if (!challenge || Number.isNaN(issued))
      throw new AppError('webauthn_no_challenge', 'There is no passkey request waiting here. Start again.');
    const expires = new Date(issued + CHALLENGE_SECONDS * 1000);
    if (expires <= now) throw new AppError('webauthn_challenge_expired', 'The passkey request expired. Try again.');
    if (!(await this.store.oneTimeUse.consume('webauthn_challenge', challenge.value, expires, now))) {
      throw new AppError('webauthn_challenge_used', 'This passkey request was already answered. Try again.');
    }
  }

  /** Options to create a new credential for `user`; the ones they have are excluded (no duplicate on one key). */
  async registrationOptions(user: {
    id: string;
    email: string;
  }): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; challenge: IssuedChallenge }> {
    const existing = await this.store.webauthn.list(user.id);
    const options = await generateRegistrationOptions({
      rpName: this.rp.name,
      rpID: this.rp.id,
      userName: user.email,
      userDisplayName: user.email,
      // The user handle: the user's id, never their address (an authenticator may show or sync it).
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      timeout: CEREMONY_TIMEOUT_MS,
      excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: transportsOf(c) })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    return { options, challenge: this.challenge(options.challenge) };
  }

  /** Verifies a new credential and stores it under `name`. */
  async register(
    user: { id: string },
    challenge: IssuedChallenge | undefined,
    response: RegistrationResponseJSON,
    nameInput: unknown,
  ): Promise<WebAuthnCredentialRow> {
    const name = credentialName(nameInput);
    await this.spend(challenge);
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge!.value,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: false,
      });
    } catch (err) {
      throw refusal(err);
    }
    if (!verified.verified) throw refusal(new Error('not verified'));
    const info = verified.registrationInfo;
    const row = await this.store.webauthn.create({
      userId: user.id,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? response.response.transports ?? [],
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name,
    });
    if (!row) throw new AppError('webauthn_credential_exists', 'This passkey or security key is already registered.');
    await this.store.audit.record({
      type: 'mfa.webauthn_registered',
      userId: user.id,
      at: this.clock.now(),
      details: { credential: row.id, name, deviceType: row.deviceType, backedUp: row.backedUp },
    });
    return row;
  }

  /** Options to sign in with one of the user's credentials. */
  async authenticationOptions(
    userId: string,
  ): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; challenge: IssuedChallenge }> {
    const mine = await this.store.webauthn.list(userId);
    const options = await generateAuthenticationOptions({
      rpID: this.rp.id,
      userVerification: 'preferred',
      timeout: CEREMONY_TIMEOUT_MS,
      allowCredentials: mine.map((c) => ({ id: c.credentialId, transports: transportsOf(c) })),
    });
    return { options, challenge: this.challenge(options.challenge) };
  }

  /**
   * Verifies an assertion of `userId`'s credential. Refused: a credential unknown to this organisation (another
   * organisation's, or removed), another user's, a spent or stale challenge, another origin or RP ID, a signature that
   * does not verify, and, under the `refuse` counter policy, a signature counter that did not move forward (a possible
   * clone: the credential is flagged and the refusal audited). Under `allow-flagged` such an answer is accepted, the
   * credential flagged and the event audited.
   */
  async authenticate(
    userId: string,
    challenge: IssuedChallenge | undefined,
    response: AuthenticationResponseJSON,
  ): Promise<WebAuthnCredentialRow> {
    await this.spend(challenge);
    const credentialId = typeof response?.id === 'string' && response.id.length <= 1024 ? response.id : '';
    const row = credentialId ? await this.store.webauthn.findByCredentialId(credentialId) : null;
    if (!row)
      throw new AppError(
        'webauthn_unknown_credential',
        'This passkey or security key is not registered for your account here.',
      );
    if (row.userId !== userId)
      throw new AppError('webauthn_wrong_user', 'This passkey or security key belongs to another account.');
    const now = this.clock.now();
    let verified;
    try {
      // The library is given counter 0 so that it never judges the counter itself: the signature is verified first,
      // and only a verified answer's counter is judged below, so a forged answer can never flag or change anything.
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge!.value,
        expectedOrigin: this.rp.origin,
        expectedRPID: this.rp.id,
        requireUserVerification: false,
        credential: {
          id: row.credentialId,
          publicKey: Buffer.from(row.publicKey, 'base64url'),
          counter: 0,
          transports: transportsOf(row),
        },
      });
    } catch (err) {
      throw refusal(err);
    }
    if (!verified.verified) throw refusal(new Error('not verified'));
    const info = verified.authenticationInfo;
    const flags = { deviceType: info.credentialDeviceType, backedUp: info.credentialBackedUp };
    if (counterWentBack(row.counter, info.newCounter)) {
      await this.counterRegressed(row, info.newCounter, 'lower than or equal to the last one seen', now);
      // Accepted while flagged: the stored counter does not move back, so the key that kept counting still works.
      await this.store.webauthn.used(row.id, row.counter, row.counter, flags, now);
      return row;
    }
    // Two answers racing with the same counter value: only one moves it.
    if (!(await this.store.webauthn.used(row.id, info.newCounter, row.counter, flags, now))) {
      await this.counterRegressed(row, info.newCounter, 'the counter was moved by another sign-in meanwhile', now);
    }
    return row;
  }

  /** A verified answer whose counter did not move forward: flagged and audited; refused under `refuse`. */
  private async counterRegressed(row: WebAuthnCredentialRow, reported: number, detail: string, now: Date) {
    const refused = this.counterPolicy !== 'allow-flagged';
    await this.store.webauthn.flagCounterWentBack(row.id, now);
    await this.store.audit.record({
      type: 'webauthn.counter_regressed',
      outcome: refused ? 'failure' : 'success',
      code: 'webauthn_counter_regressed',
      userId: row.userId,
      at: now,
      details: {
        credential: row.id,
        name: row.name,
        stored: row.counter,
        reported,
        detail,
        policy: this.counterPolicy,
        refused,
      },
    });
    if (refused)
      throw new AppError(
        'webauthn_counter_regressed',
        'This security key answered with an older signature count than before, which a copied key would do. It was refused; ask your administrator.',
      );
  }

  async rename(userId: string, id: string, name: unknown, actor: string) {
    const clean = credentialName(name);
    if (!(await this.store.webauthn.rename(userId, id, clean)))
      throw new AppError('webauthn_not_found', 'That passkey does not exist (any more).');
    await this.store.audit.record({
      type: 'mfa.webauthn_renamed',
      actor,
      userId,
      at: this.clock.now(),
      details: { credential: id, name: clean },
    });
  }

  async remove(userId: string, id: string, actor: string) {
    if (!(await this.store.webauthn.remove(userId, id)))
      throw new AppError('webauthn_not_found', 'That passkey does not exist (any more).');
    await this.store.audit.record({
      type: 'mfa.webauthn_removed',
      actor,
      userId,
      at: this.clock.now(),
      details: { credential: id },
    });
  }
}
