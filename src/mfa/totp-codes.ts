// The TOTP arithmetic shared by end-user factors (totp-service.ts) and admin sign-in (admin/admin-totp.ts): a new
// secret with its otpauth URI and QR code, and checking a code (±1 step) down to the time step it matched, which
// callers consume once through store.oneTimeUse so a code is never accepted twice.
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSecret, generateURI, verifySync } from 'otplib';
import QRCode from 'qrcode';

export interface TotpParams { digits: number; period: number; algorithm: string }

// Node's own HMAC (OpenSSL) instead of otplib's default pure-JavaScript one: a code check computes up to three.
const crypto = new NodeCryptoPlugin();

const otpAlgorithm = (a: string) => a.toLowerCase() as 'sha1' | 'sha256' | 'sha512';

export const newTotpSecret = () => generateSecret({ crypto, length: 20 });

/** The otpauth:// URI an authenticator app reads, and the same as a QR code image (data URL). */
export async function enrolmentCode(issuer: string, label: string, secretBase32: string, p: TotpParams) {
  const otpauthUri = generateURI({ issuer, label, secret: secretBase32, algorithm: otpAlgorithm(p.algorithm), digits: p.digits as 6, period: p.period });
  return { otpauthUri, qrDataUrl: await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 1, width: 220 }) };
}

/** The time step `input` is valid for at `now` (within one step either side), or null when it is not a valid code. */
export function matchingStep(secretBase32: string, input: string, p: TotpParams, now: Date): number | null {
  const token = input.replace(/\s+/g, '');
  if (!/^\d+$/.test(token) || token.length !== p.digits) return null;
  const result = verifySync({ crypto, secret: secretBase32, token, algorithm: otpAlgorithm(p.algorithm), digits: p.digits as 6, period: p.period, epoch: Math.floor(now.getTime() / 1000), epochTolerance: p.period });
  return result.valid ? Math.floor((result as { epoch: number }).epoch / p.period) : null;
}

/** How long a consumed step must be remembered: until codes of that step can no longer be accepted. */
export const stepKeptUntil = (step: number, period: number) => new Date((step + 3) * period * 1000);
