// Signing credentials: RSA-2048 key pairs (Node's native generator) and self-signed X.509 certificates
// (node-forge builds and signs the certificate; the key itself never goes through forge's slow JS keygen).
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface GeneratedCredential {
  privateKeyPem: string;
  certificatePem: string;
  fingerprint: string;
  notAfter: Date;
}

export function generateSigningCredential(commonName: string, now = new Date(), validYears = 10): GeneratedCredential {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01' + createHash('sha256').update(privateKeyPem).digest('hex').slice(0, 30);
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime());
  cert.validity.notAfter.setFullYear(now.getFullYear() + validYears);
  const subject = [{ name: 'commonName', value: commonName.slice(0, 64) }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  return {
    privateKeyPem,
    certificatePem,
    fingerprint: certificateFingerprint(certificatePem),
    notAfter: cert.validity.notAfter,
  };
}

/** SHA-256 fingerprint of the DER certificate, uppercase hex with colons (as admin consoles show it). */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The base64 body of a PEM certificate, as it goes into <ds:X509Certificate>. */
export function certificateBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** Accepts a PEM or a bare base64 certificate (as pasted from an IdP console) and returns a normalised PEM. */
export function normaliseCertificate(input: string): string {
  const body = certificateBody(input.trim());
  if (!/^[A-Za-z0-9+/=]+$/.test(body)) throw new Error('certificate is not PEM or base64');
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(pem); // throws on anything that is not a parseable certificate
  return pem;
}
