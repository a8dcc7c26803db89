// A software WebAuthn authenticator for tests below the browser: a P-256 key per credential, `none` attestation,
// a signature counter, and the client data a browser would write (origin, challenge, type). Each message is built
// by the spec (WebAuthn L2 §6.1 authenticator data, §6.5 attestation object, §5.8.1 client data), so what the
// broker's library accepts from it, it accepts from a real key; Chromium's virtual authenticator is used end to end.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Buffer | Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

export interface SoftCredential {
  id: Buffer;
  privateKey: KeyObject;
  cose: Uint8Array;
  counter: number;
  userHandle: string;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  /** `counterStep` 0: the authenticator keeps no counter (as passkeys synced between devices often do). */
  constructor(private readonly counterStep = 1) {}

  private authData(rpId: string, flags: number, counter: number, attested?: SoftCredential) {
    const head = Buffer.concat([sha256(rpId), Buffer.from([flags]), Buffer.alloc(4)]);
    head.writeUInt32BE(counter, 33);
    if (!attested) return head;
    const len = Buffer.alloc(2);
    len.writeUInt16BE(attested.id.length);
    return Buffer.concat([head, Buffer.alloc(16), len, attested.id, Buffer.from(attested.cose)]);
  }

  private clientData(type: string, challenge: string, origin: string) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create(): a new credential for `rpId`, as JSON (what @simplewebauthn/browser posts). */
  create(
    options: { challenge: string; rp: { id?: string }; user: { id: string } },
    origin: string,
    rpId = options.rp.id!,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const cred: SoftCredential = { id: randomBytes(16), privateKey, cose, counter: 0, userHandle: options.user.id };
    this.credentials.push(cred);
    const authData = this.authData(rpId, 0x01 | 0x04 | 0x40, cred.counter, cred); // user present, verified, attested data
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as never,
    );
    return {
      id: b64u(cred.id),
      rawId: b64u(cred.id),
      type: 'public-key' as const,
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(this.clientData('webauthn.create', options.challenge, origin)),
        attestationObject: b64u(attestationObject),
        transports: ['internal' as const],
      },
    };
  }

  /** navigator.credentials.get() with credential `which`; `counter` overrides the next counter value. */
  get(
    options: { challenge: string; rpId?: string },
    origin: string,
    which = this.credentials[0],
    opts: { rpId?: string; counter?: number } = {},
  ) {
    which.counter = opts.counter ?? which.counter + this.counterStep;
    const authData = this.authData(opts.rpId ?? options.rpId!, 0x01 | 0x04, which.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), which.privateKey);
    return {
      id: b64u(which.id),
      rawId: b64u(which.id),
      type: 'public-key' as const,
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        userHandle: which.userHandle,
      },
    };
  }
}
