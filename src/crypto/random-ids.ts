// Random bytes for the identifiers and tokens a login mints (flow ids, SAML IDs, SessionIndex, browser and session
// tokens): eight per login. A call into OpenSSL's generator for 4 KB costs about twice one for 20 bytes (2 and 4 µs
// alone), and in the busy server a call measured about 20 µs (2.6 % of the broker's CPU). So they are cut from a pool
// refilled 4 KB at a time, as Node does for randomUUID. Every byte is handed out once; a forked process starts with no pool of its own
// to share (cluster workers are new processes).
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

/** `n` fresh random bytes (a copy: callers may keep or change them). */
export function pooledRandomBytes(n: number): Buffer {
  if (n > POOL_BYTES) return randomBytes(n);
  if (used + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n));
  // The bytes handed out are wiped from the pool, so a later reader of the pool's memory cannot learn them.
  pool.fill(0, used, used + n);
  used += n;
  return out;
}

/** A UUID version 7 (RFC 9562): the Unix time in milliseconds, then 74 random bits. For the primary keys of rows
 *  every login inserts (audit events, a session's apps, identity links): a random UUID lands each new key on a random
 *  leaf page of the key's index, which the commit must then write whole to the WAL; time-ordered keys all land on the
 *  last page, which the writes of a group commit share. Not for secrets: the time is in clear. */
export function timeOrderedUuid(ms = Date.now()): string {
  const b = pooledRandomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
