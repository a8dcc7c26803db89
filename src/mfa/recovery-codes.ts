// Recovery codes: ten single-use codes shown once at enrolment of a user's first second factor (an authenticator
// app or a passkey), stored as argon2id hashes.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { TenantStore } from '../store/store.ts';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no look-alikes (0/o, 1/l/i)
export const RECOVERY_CODE_COUNT = 10;
export const RECOVERY_CODE = /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}$/;

export function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 10)}`;
}

export const normaliseRecoveryCode = (input: string) => input.trim().toLowerCase().replace(/\s+/g, '');

// Codes are random (about 49 bits), so a light argon2id setting is enough and keeps verification fast.
const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
export const hashRecoveryCode = (code: string) => argon2.hash(code, HASH_OPTIONS);
export const recoveryCodeMatches = (hash: string, code: string) => argon2.verify(hash, code).catch(() => false);

/**
 * The recovery codes of one organisation's users, whatever their second factor: an authenticator app, passkeys, or
 * both share one set, so a lost phone and a lost key are covered alike. A code is spent by compare-and-set on its
 * row (`usedAt` from null), so two nodes given the same code accept it once. Locking after wrong codes belongs to the
 * caller (the TOTP factor's lock where the user has one).
 */
export class RecoveryCodes {
  constructor(
    private readonly store: TenantStore,
    private readonly clock: Clock,
  ) {}

  /** Ten new codes; the old ones stop working. Returned once, kept only as hashes. */
  async issue(userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.store.totp.replaceRecoveryCodes(userId, await Promise.all(codes.map(hashRecoveryCode)));
    return codes;
  }

  async left(userId: string): Promise<number> {
    return (await this.store.totp.unusedRecoveryCodes(userId)).length;
  }

  /** Spends the code `input` (normalised) if it is one of the user's unused codes: how many are left after it, or
   *  null when it matches none (or another request spent it first). A success is audited. */
  async use(userId: string, input: string): Promise<number | null> {
    const code = normaliseRecoveryCode(input);
    if (!RECOVERY_CODE.test(code)) return null;
    const unused = await this.store.totp.unusedRecoveryCodes(userId);
    const now = this.clock.now();
    for (const row of unused) {
      if (await recoveryCodeMatches(row.codeHash, code)) {
        if (!(await this.store.totp.useRecoveryCode(row.id, now))) return null;
        await this.store.audit.record({
          type: 'mfa.recovery_code_used',
          userId,
          at: now,
          details: { remaining: unused.length - 1 },
        });
        return unused.length - 1;
      }
    }
    return null;
  }
}
