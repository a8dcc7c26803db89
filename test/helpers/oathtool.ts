// Codes from an independent TOTP generator: Debian's oathtool, as an authenticator app would show them.
import { execFileSync } from 'node:child_process';

/** The code for the base32 `secret` at `at` (spaces in the secret, as the enrolment page groups it, are ignored). */
export function oathtool(
  secret: string,
  at: Date,
  opts: { digits?: number; period?: number; algorithm?: string } = {},
) {
  const args = [
    '--totp' + (opts.algorithm && opts.algorithm !== 'SHA1' ? `=${opts.algorithm}` : ''),
    '-b',
    secret.replace(/\s+/g, ''),
    '--now',
    at
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
  ];
  if (opts.digits) args.push('--digits', String(opts.digits));
  if (opts.period) args.push('--time-step-size', `${opts.period}s`);
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}
