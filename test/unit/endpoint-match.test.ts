// Destination and Recipient against our endpoints (src/saml/endpoint-match.ts): the same URL spelled another valid
// way matches; any other endpoint does not.
import t from 'tap';
import { sameEndpoint } from '../../src/saml/endpoint-match.ts';

const ours = 'https://acme.broker.example/saml/idp/sso';

t.test('the same endpoint, spelled differently', async (t) => {
  for (const named of [
    ours,
    'https://ACME.Broker.Example/saml/idp/sso',
    'HTTPS://acme.broker.example/saml/idp/sso',
    'https://acme.broker.example:443/saml/idp/sso',
  ])
    t.ok(sameEndpoint(named, ours), named);
  t.ok(
    sameEndpoint('http://acme.broker.test:80/saml/sp/acs', 'http://acme.broker.test/saml/sp/acs'),
    'http and port 80',
  );
  t.ok(
    sameEndpoint('http://acme.broker.test:8080/acs', 'http://acme.broker.test:08080/acs'),
    'a port with a leading zero',
  );
  t.ok(sameEndpoint('https://[::1]:443/acs', 'https://[::1]/acs'), 'IPv6 literal');
});

t.test('another endpoint', async (t) => {
  for (const named of [
    'http://acme.broker.example/saml/idp/sso',
    'https://acme.broker.example:8443/saml/idp/sso',
    'https://other.broker.example/saml/idp/sso',
    'https://acme.broker.example.evil.example/saml/idp/sso',
    'https://acme.broker.example/SAML/idp/sso',
    'https://acme.broker.example/saml/idp/sso/',
    'https://acme.broker.example/saml/idp/sso?x=1',
    'https://acme.broker.example/saml/idp/sso#x',
    'https://acme.broker.example/saml/idp/../idp/sso',
    'https://acme.broker.example/saml/idp/%73so',
    'https://user@acme.broker.example/saml/idp/sso',
    'https://acme.broker.example:443@evil.example/saml/idp/sso',
    'https://acme.bro\u212Aer.example/saml/idp/sso',
    'https://acme.broker.example /saml/idp/sso',
    'https://acme.broker.example:/saml/idp/sso/x',
    '//acme.broker.example/saml/idp/sso',
    '/saml/idp/sso',
    '',
    'not a url',
  ])
    t.notOk(sameEndpoint(named, ours), JSON.stringify(named));
});
