// The TOTP code check (src/mfa/totp-codes.ts) against the RFC 6238 test vectors and against Debian's oathtool, for
// every algorithm, digit count and period an organisation can choose.
import t from 'tap';
import { base32Decode, matchingStep, newTotpSecret } from '../../src/mfa/totp-codes.ts';
import { oathtool } from '../helpers/oathtool.ts';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

t.test('RFC 6238 appendix B: 8 digits, 30 s steps, SHA-1/256/512', async (t) => {
  const keys = {
    SHA1: '12345678901234567890',
    SHA256: '12345678901234567890123456789012',
    SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
  };
  const vectors: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  for (const [seconds, ...codes] of vectors) {
    (['SHA1', 'SHA256', 'SHA512'] as const).forEach((algorithm, i) => {
      const secret = base32Encode(Buffer.from(keys[algorithm]));
      const step = matchingStep(secret, codes[i], { digits: 8, period: 30, algorithm }, new Date(seconds * 1000));
      t.equal(step, Math.floor(seconds / 30), `${algorithm} at ${seconds}`);
    });
  }
});

t.test('codes from oathtool: the step they belong to, one step either side, nothing further', async (t) => {
  const at = new Date('2026-11-23T12:00:10Z');
  const settings = [
    { digits: 6, period: 30, algorithm: 'SHA1' },
    { digits: 8, period: 30, algorithm: 'SHA256' },
    { digits: 6, period: 60, algorithm: 'SHA512' },
  ];
  for (const p of settings) {
    const secret = newTotpSecret();
    const step = Math.floor(at.getTime() / 1000 / p.period);
    const codeAt = (s: number) => oathtool(secret, new Date(s * p.period * 1000 + 1000), p);
    t.equal(matchingStep(secret, codeAt(step), p, at), step, `${p.algorithm}: current step`);
    t.equal(matchingStep(secret, codeAt(step - 1), p, at), step - 1, `${p.algorithm}: previous step`);
    t.equal(matchingStep(secret, codeAt(step + 1), p, at), step + 1, `${p.algorithm}: next step`);
    for (const far of [step - 2, step + 2]) {
      const code = codeAt(far);
      // A far code may equal a near one by chance (1 in 10^digits); only a distinct one must be refused.
      if (![step - 1, step, step + 1].some((s) => codeAt(s) === code))
        t.equal(matchingStep(secret, code, p, at), null, `${p.algorithm}: two steps away is refused`);
    }
    const spaced = codeAt(step).replace(/^(\d{3})/, '$1 ');
    t.equal(matchingStep(secret, spaced, p, at), step, 'spaces inside the code are ignored');
  }
});

t.test('malformed input is refused before any HMAC', async (t) => {
  const secret = newTotpSecret();
  const p = { digits: 6, period: 30, algorithm: 'SHA1' };
  const now = new Date('2026-11-23T12:00:10Z');
  for (const input of ['', '12345', '1234567', '12345a', '١٢٣٤٥٦', '-12345', '123456\u0000'])
    t.equal(matchingStep(secret, input, p, now), null, JSON.stringify(input));
});

t.test('base32 as authenticator apps write it', async (t) => {
  t.same(base32Decode('MZXW6YTBOI======'), Buffer.from('foobar'), 'RFC 4648 vector with padding');
  t.same(base32Decode('mzxw6ytboi'), Buffer.from('foobar'), 'lower case, no padding');
  t.same(base32Decode(''), Buffer.alloc(0));
  t.throws(() => base32Decode('MZXW6YTB0I'), /not base32/, 'a zero is not a base32 digit');
});
