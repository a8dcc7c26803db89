import t from 'tap';
import {
  coversEmail,
  domainClashes,
  emailDomain,
  entriesOverlap,
  normaliseDomainEntry,
  ownerOfEmail,
} from '../../src/orgs/remote/email-domains.ts';

t.test('domain entries are normalised or refused', async (t) => {
  t.equal(normaliseDomainEntry(' ACME.Example. '), 'acme.example');
  t.equal(normaliseDomainEntry('*.Acme.example'), '*.acme.example');
  t.equal(normaliseDomainEntry('xn--bcher-kva.example'), 'xn--bcher-kva.example');
  for (const bad of [
    '',
    'acme',
    '*.',
    '*.com',
    'a..example',
    '-a.example',
    'a-.example',
    'user@acme.example',
    'bücher.example',
    '10.0.0.1',
    '*.*.acme.example',
    'acme.example/x',
    `${'a'.repeat(64)}.example`,
  ]) {
    t.equal(normaliseDomainEntry(bad), null, bad);
  }
});

t.test('the domain of an email address', async (t) => {
  t.equal(emailDomain('Ann@ACME.example'), 'acme.example');
  t.equal(emailDomain('"a@b"@acme.example'), 'acme.example');
  t.equal(emailDomain('ann@acme.\u212Aexample'), null, 'a Kelvin sign never folds onto k');
  t.equal(emailDomain('ann@'), null);
  t.equal(emailDomain('acme.example'), null);
  t.equal(emailDomain(null), null);
});

t.test('exact entries cover only themselves; wildcards only subdomains', async (t) => {
  t.ok(coversEmail(['acme.example'], 'a@ACME.example'));
  t.notOk(coversEmail(['acme.example'], 'a@eu.acme.example'));
  t.notOk(coversEmail(['acme.example'], 'a@evilacme.example'));
  t.ok(coversEmail(['*.acme.example'], 'a@eu.acme.example'));
  t.ok(coversEmail(['*.acme.example'], 'a@x.eu.acme.example'));
  t.notOk(coversEmail(['*.acme.example'], 'a@acme.example'));
  t.notOk(coversEmail(['*.acme.example'], 'a@evilacme.example'));
  t.notOk(coversEmail([], 'a@acme.example'));
});

t.test('overlapping claims', async (t) => {
  t.ok(entriesOverlap('acme.example', 'acme.example'));
  t.ok(entriesOverlap('*.acme.example', 'eu.acme.example'));
  t.ok(entriesOverlap('eu.acme.example', '*.acme.example'));
  t.ok(entriesOverlap('*.acme.example', '*.eu.acme.example'));
  t.ok(entriesOverlap('*.eu.acme.example', '*.acme.example'));
  t.notOk(entriesOverlap('*.acme.example', 'acme.example'));
  t.notOk(entriesOverlap('acme.example', 'eu.acme.example'));
  t.notOk(entriesOverlap('*.acme.example', '*.evilacme.example'));
});

t.test('owner and clashes', async (t) => {
  const idps = [
    { id: 'a', emailDomains: ['acme.example'] },
    { id: 'b', emailDomains: ['*.globex.example'] },
  ];
  t.equal(ownerOfEmail(idps, 'x@acme.example')?.id, 'a');
  t.equal(ownerOfEmail(idps, 'x@eu.globex.example')?.id, 'b');
  t.equal(ownerOfEmail(idps, 'x@initech.example'), null);
  t.same(
    domainClashes(['acme.example', 'initech.example'], idps).map((c) => [c.entry, c.idp.id, c.theirs]),
    [['acme.example', 'a', 'acme.example']],
  );
  t.same(domainClashes(['acme.example'], idps, 'a'), [], 'an IdP does not clash with itself');
  t.same(
    domainClashes(['hq.globex.example'], idps).map((c) => c.idp.id),
    ['b'],
  );
});
