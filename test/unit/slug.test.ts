import t from 'tap';
import { slugProblem } from '../../src/orgs/slug.ts';
import { matchHost } from '../../src/plugins/tenant.ts';

t.test('acceptable slugs', async (t) => {
  for (const s of ['piedpipers', 'acme-corp', 'a1b', 'x'.repeat(63)]) t.equal(slugProblem(s), null, s);
});

t.test('refused slugs, each with a reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['PiedPipers', /lowercase/],
    ['ab', /at least 3/],
    ['-acme', /not starting or ending/],
    ['acme-', /not starting or ending/],
    ['ac_me', /a-z, 0-9/],
    ['acme.corp', /a-z, 0-9/],
    ['x'.repeat(64), /1-63/],
    ['xn--acme', /--/],
    ['admin', /reserved/],
    ['www', /reserved/],
    ['api', /reserved/],
    ['', /1-63/],
  ];
  for (const [slug, reason] of cases) t.match(slugProblem(slug), reason, JSON.stringify(slug));
});

t.test('Host header resolution', async (t) => {
  const base = 'broker.example.com';
  t.same(matchHost('broker.example.com', base), { kind: 'root' });
  t.same(matchHost('BROKER.example.com.', base), { kind: 'root' }, 'case and trailing dot ignored');
  t.same(matchHost('piedpipers.broker.example.com', base), { kind: 'org', slug: 'piedpipers' });
  t.same(matchHost('PiedPipers.Broker.Example.com', base), { kind: 'org', slug: 'piedpipers' });
  t.same(matchHost('a.b.broker.example.com', base), { kind: 'unknown' }, 'nested subdomains are not organisations');
  t.same(matchHost('piedpipers.broker.example.com.evil.com', base), { kind: 'unknown' });
  t.same(matchHost('evilbroker.example.com', base), { kind: 'unknown' });
  t.same(matchHost(undefined, base), { kind: 'unknown' });
  t.same(matchHost('piedpipers.localhost:3000', 'localhost:3000'), { kind: 'org', slug: 'piedpipers' });
  t.same(matchHost('piedpipers.localhost:3001', 'localhost:3000'), { kind: 'unknown' }, 'port is part of the match');
});
