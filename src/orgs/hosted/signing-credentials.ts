// Creates and opens an organisation's signing credentials. Private keys are sealed with the master key and bound
// to their organisation and key id; decrypted keys are cached per key id (they never change once written).
import { randomUUID } from 'node:crypto';
import type { SealedBox } from '../../crypto/sealed-box.ts';
import { generateSigningCredential } from '../../saml/certificates.ts';
import type { TenantStore } from '../../store/store.ts';
import type { KeyStatus, SigningKeyRow } from '../../store/signing-keys.ts';

export interface SigningCredential {
  keyId: string;
  privateKeyPem: string;
  certificatePem: string;
}

const sealContext = (orgId: string, keyId: string) => `signing-key:${orgId}:${keyId}`;

export class SigningCredentials {
  private readonly cache = new Map<string, string>();
  constructor(private readonly box: SealedBox) {}

  /** Generates a key pair + certificate and stores it sealed. CPU-heavy (RSA keygen): call outside transactions. */
  prepare(orgId: string, commonName: string, status: KeyStatus, now: Date) {
    const id = randomUUID();
    const generated = generateSigningCredential(commonName, now);
    return {
      id,
      status,
      privateKeyEnc: this.box.seal(generated.privateKeyPem, sealContext(orgId, id)),
      certificatePem: generated.certificatePem,
      fingerprint: generated.fingerprint,
      notAfter: generated.notAfter,
      ...(status === 'active' && { activatedAt: now }),
    };
  }

  open(row: SigningKeyRow): SigningCredential {
    let pem = this.cache.get(row.id);
    if (!pem) {
      pem = this.box.open(row.privateKeyEnc, sealContext(row.orgId, row.id)).toString('utf8');
      this.cache.set(row.id, pem);
    }
    return { keyId: row.id, privateKeyPem: pem, certificatePem: row.certificatePem };
  }

  async active(store: TenantStore): Promise<SigningCredential> {
    const row = await store.signingKeys.active();
    if (!row) throw new Error(`organisation ${store.orgId} has no active signing key`);
    return this.open(row);
  }
}
