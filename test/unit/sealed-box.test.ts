import t from 'tap';
import { SealedBox } from '../../src/crypto/sealed-box.ts';

t.test('seal/open round trip, bound to its context', async (t) => {
  const box = new SealedBox(Buffer.alloc(32, 1));
  const sealed = box.seal('secret value', 'ctx:a');
  t.notMatch(sealed, /secret value/);
  t.equal(box.open(sealed, 'ctx:a').toString(), 'secret value');
  t.throws(() => box.open(sealed, 'ctx:b'), 'another context cannot open it');
  t.throws(() => new SealedBox(Buffer.alloc(32, 2)).open(sealed, 'ctx:a'), 'another key cannot open it');
  const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  t.throws(() => box.open(tampered, 'ctx:a'), 'tampering is detected');
  t.not(box.seal('x', 'c'), box.seal('x', 'c'), 'fresh IV each time');
});
