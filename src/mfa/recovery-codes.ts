// Recovery codes: ten single-use codes shown once at enrolment, stored as argon2id hashes.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';

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
