// The lockout's words on the code pages (src/mfa/lockout-wording.ts): lengths, never clock times.
import t from 'tap';
import { lastTryMessage, lockedMessage, lockLengthInWords, timeLeftInWords } from '../../src/mfa/lockout-wording.ts';

t.test('time left: less than a minute, then the nearest minute, hours past sixty minutes', async (t) => {
  const cases: [number, string][] = [
    [0, 'less than a minute'],
    [1, 'less than a minute'],
    [59_999, 'less than a minute'],
    [60_000, '1 minute'],
    [89_999, '1 minute'],
    [90_000, '2 minutes'],
    [839_000, '14 minutes'],
    [900_000, '15 minutes'],
    [3_570_000, '1 hour'],
    [3_600_000, '1 hour'],
    [7_500_000, '2 hours 5 minutes'],
    [3_660_000, '1 hour 1 minute'],
  ];
  for (const [ms, words] of cases) t.equal(timeLeftInWords(ms), words, `${ms} ms`);
});

t.test('lock length as configured: seconds under a minute', async (t) => {
  t.equal(lockLengthInWords(900), '15 minutes');
  t.equal(lockLengthInWords(60), '1 minute');
  t.equal(lockLengthInWords(3600), '1 hour');
  t.equal(lockLengthInWords(30), '30 seconds');
  t.equal(lockLengthInWords(1), '1 second');
});

t.test('the sentences', async (t) => {
  const now = new Date('2026-11-23T12:00:00Z');
  t.equal(
    lockedMessage(new Date(now.getTime() + 14 * 60_000), now),
    'Too many wrong codes: two-factor sign-in is locked. Try again in 14 minutes.',
  );
  t.equal(
    lockedMessage(new Date(now.getTime() + 5000), now),
    'Too many wrong codes: two-factor sign-in is locked. Try again in less than a minute.',
  );
  t.equal(lastTryMessage(900), 'One more wrong code locks two-factor sign-in for 15 minutes.');
});
