// Pooled random bytes: every byte handed out once, across pool refills, as independent copies.
import t from 'tap';
import { pooledRandomBytes, timeOrderedUuid } from '../../src/crypto/random-ids.ts';

t.test('lengths, no repeats across several pool refills, and copies the caller owns', async (t) => {
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i < 2000; i++) {
    const n = [16, 20, 32, 7][i % 4];
    const bytes = pooledRandomBytes(n);
    t.equal(bytes.length, n);
    total += n;
    seen.add(bytes.toString('hex'));
  }
  t.ok(total > 3 * 4096, 'the pool was refilled several times');
  t.equal(seen.size, 2000, 'no value came out twice');
  const a = pooledRandomBytes(32);
  const copy = Buffer.from(a);
  a.fill(0);
  t.not(pooledRandomBytes(32).toString('hex'), copy.toString('hex'));
  t.notSame(copy, Buffer.alloc(32), 'a caller changing its bytes changes nothing else');
  t.equal(pooledRandomBytes(10_000).length, 10_000, 'larger than the pool: drawn directly');
});

t.test(
  'time-ordered UUIDs: version 7, their millisecond in front, sorted by time, distinct within a millisecond',
  async (t) => {
    const ms = Date.UTC(2026, 10, 23, 12, 0, 0, 123);
    const id = timeOrderedUuid(ms);
    t.match(
      id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      'UUID version 7, RFC 9562 variant',
    );
    t.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), ms, 'the first 48 bits are the time');
    const same = Array.from({ length: 500 }, () => timeOrderedUuid(ms));
    t.equal(new Set(same).size, 500, 'random below the millisecond');
    const later = timeOrderedUuid(ms + 1);
    t.ok(
      same.every((u) => u < later),
      'a later millisecond sorts after every id of an earlier one',
    );
  },
);
