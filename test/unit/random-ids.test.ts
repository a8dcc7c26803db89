// Pooled random bytes: every byte handed out once, across pool refills, as independent copies.
import t from 'tap';
import { pooledRandomBytes } from '../../src/crypto/random-ids.ts';

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
