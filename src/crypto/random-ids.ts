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
