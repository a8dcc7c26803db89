// The TOTP arithmetic shared by end-user factors (totp-service.ts) and admin sign-in (admin/admin-totp.ts): a new
// secret with its otpauth URI and QR code, and checking a code (±1 step) down to the time step it matched. Callers
// then accept only a step newer than the last one accepted (RFC 6238 §5.2): the factor's lastUsedStep for users
// (store/totp-factors.ts), one-time-use records for admins (step-records.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSecret, generateURI } from 'otplib';
import QRCode from 'qrcode';

export interface TotpParams {
  digits: number;
  period: number;
  algorithm: string;
}

// Node's own random source for otplib's secrets.
const crypto = new NodeCryptoPlugin();

const otpAlgorithm = (a: string) => a.toLowerCase() as 'sha1' | 'sha256' | 'sha512';

export const newTotpSecret = () => generateSecret({ crypto, length: 20 });

/** The otpauth:// URI an authenticator app reads, and the same as a QR code image (data URL). */
export async function enrolmentCode(issuer: string, label: string, secretBase32: string, p: TotpParams) {
  const otpauthUri = generateURI({
    issuer,
    label,
    secret: secretBase32,
    algorithm: otpAlgorithm(p.algorithm),
    digits: p.digits as 6,
    period: p.period,
  });
  return {
    otpauthUri,
    qrDataUrl: await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 1, width: 220 }),
  };
}

/** The time step `input` is valid for at `now` (within one step either side), or null when it is not a valid code.
 *  RFC 6238 on Node's HMAC directly: otplib's verifySync cost about 90 µs per check in the busy server (option
 *  checks, base32 and three generic HOTP runs), this about a tenth of that. The three candidate codes are all
 *  compared, in constant time, whichever matches. Checked against oathtool in test/unit/totp-codes.test.ts. */
export function matchingStep(secretBase32: string, input: string, p: TotpParams, now: Date): number | null {
  const token = input.replace(/\s+/g, '');
  if (!/^\d+$/.test(token) || token.length !== p.digits) return null;
  const key = base32Decode(secretBase32);
  const given = Buffer.from(token);
  const current = Math.floor(now.getTime() / 1000 / p.period);
  let matched: number | null = null;
  for (const step of [current - 1, current, current + 1]) {
    if (timingSafeEqual(Buffer.from(hotp(key, step, p)), given) && matched === null) matched = step;
  }
  return matched;
}

/** RFC 4226: HMAC of the 8-byte counter, dynamic truncation, the low `digits` decimal digits. */
function hotp(key: Buffer, counter: number, p: TotpParams): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(otpAlgorithm(p.algorithm), key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** p.digits).padStart(p.digits, '0');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, as authenticator apps read it: case-insensitive, padding optional. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase();
  const out = Buffer.alloc(Math.floor((clean.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of clean) {
    const digit = BASE32.indexOf(ch);
    if (digit < 0) throw new Error('the TOTP secret is not base32');
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      out[at++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

/** How long a consumed step must be remembered: until codes of that step can no longer be accepted. */
export const stepKeptUntil = (step: number, period: number) => new Date((step + 3) * period * 1000);
