// Reading partners' metadata: what is taken, and what hostile or broken documents are refused with.
import t from 'tap';
import { createServer } from 'node:http';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idpMetadata, spMetadata } from '../../src/saml/metadata.ts';
import { fetchMetadata, parseIdpMetadata, parseSpMetadata } from '../../src/orgs/remote/metadata-import.ts';
import { ValidationError } from '../../src/errors.ts';

const cred = generateSigningCredential('partner.example');
const okta = idpMetadata({
  entityId: 'http://www.okta.com/exk1',
  ssoUrl: 'https://dev.okta.example/app/sso/saml',
  sloUrl: 'https://dev.okta.example/slo',
  certificates: [cred.certificatePem],
  organizationName: 'Okta',
  organizationUrl: 'https://okta.example',
  wantAuthnRequestsSigned: true,
});
const jira = spMetadata({
  entityId: 'https://jira.example/plugins/servlet/samlsso',
  acsUrl: 'https://jira.example/plugins/servlet/samlconsumer',
  sloUrl: 'https://jira.example/slo',
  certificates: [cred.certificatePem],
  authnRequestsSigned: true,
  wantAssertionsSigned: true,
  organizationName: 'Jira',
  organizationUrl: 'https://jira.example',
});

const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return Object.values(err.fields)[0];
    throw err;
  }
  return null;
};

t.test(
  'IdP metadata: entity ID, SSO endpoint (Redirect preferred), SLO, certificates, signed-request wish',
  async (t) => {
    const m = parseIdpMetadata(okta);
    t.equal(m.entityId, 'http://www.okta.com/exk1');
    t.equal(m.ssoUrl, 'https://dev.okta.example/app/sso/saml');
    t.equal(m.ssoBinding, 'redirect');
    t.equal(m.sloUrl, 'https://dev.okta.example/slo');
    t.equal(m.certificates.length, 1);
    t.match(m.certificates[0], /^-----BEGIN CERTIFICATE-----/);
    t.equal(m.signRequests, true);
    const noWish = parseIdpMetadata(okta.replace('WantAuthnRequestsSigned="true"', 'WantAuthnRequestsSigned="false"'));
    t.equal(
      noWish.signRequests,
      undefined,
      'an IdP that does not ask leaves signing at its default (on): metadata never turns it off',
    );
    t.notOk('signRequests' in noWish);
    const postOnly = okta.replace(
      /<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"[^>]*\/>/,
      '',
    );
    t.equal(parseIdpMetadata(postOnly).ssoBinding, 'post');
  },
);

t.test('SP metadata: entity ID, POST ACS URLs (default first), certificate, flags', async (t) => {
  const m = parseSpMetadata(jira);
  t.equal(m.entityId, 'https://jira.example/plugins/servlet/samlsso');
  t.same(m.acsUrls, ['https://jira.example/plugins/servlet/samlconsumer']);
  t.ok(m.certificate);
  t.equal(m.wantAuthnRequestsSigned, true);
  t.equal(m.signAssertion, true);
});

t.test('an EntitiesDescriptor with exactly one matching entity is accepted', async (t) => {
  const wrapped = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${okta.replace(/<\?xml[^>]*>/, '')}${jira.replace(/<\?xml[^>]*>/, '')}</md:EntitiesDescriptor>`;
  t.equal(parseIdpMetadata(wrapped).entityId, 'http://www.okta.com/exk1');
  t.equal(parseSpMetadata(wrapped).entityId, 'https://jira.example/plugins/servlet/samlsso');
});

t.test('refused documents, each with a plain reason', async (t) => {
  t.match(
    fieldOf(() => parseIdpMetadata('<!DOCTYPE x [<!ENTITY a "b">]>' + okta)),
    /DOCTYPE/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata('not xml at all <')),
    /not well-formed|not SAML/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata('<foo/>')),
    /not SAML 2\.0 metadata/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata(jira)),
    /no identity provider/,
  );
  t.match(
    fieldOf(() => parseSpMetadata(okta)),
    /no service provider/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata(okta.replace(/<md:KeyDescriptor[\s\S]*?<\/md:KeyDescriptor>/g, ''))),
    /no signing certificate/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata(okta.replace(/<ds:X509Certificate>[^<]+/, '<ds:X509Certificate>bm90IGEgY2VydA=='))),
    /cannot be parsed/,
  );
  t.match(
    fieldOf(() =>
      parseIdpMetadata(
        okta.replace(/Location="https:\/\/dev\.okta\.example\/app\/sso\/saml"/g, 'Location="javascript:alert(1)"'),
      ),
    ),
    /no SingleSignOnService/,
  );
  t.match(
    fieldOf(() =>
      parseSpMetadata(
        jira.replace(
          /<md:AssertionConsumerService Binding="[^"]*"/,
          '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS"',
        ),
      ),
    ),
    /no AssertionConsumerService/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata(okta + ' '.repeat(1024 * 1024))),
    /larger than/,
  );
  t.match(
    fieldOf(() => parseIdpMetadata(okta.replace(/entityID="[^"]*"/, 'entityID=""'))),
    /no entityID/,
  );
});

async function urlProblem(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (err instanceof ValidationError) return err.fields.metadataUrl;
    throw err;
  }
  return null;
}

t.test(
  'fetching metadata: http(s) only, redirects followed and checked (more in metadata-refresh.test.ts), size and time limits',
  async (t) => {
    const server = createServer((req, res) => {
      if (req.url === '/ok') res.end(okta);
      else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
      else if (req.url === '/big') res.end('x'.repeat(3000));
      else if (req.url === '/slow') setTimeout(() => res.end(okta), 2000);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    t.equal(
      parseIdpMetadata(await fetchMetadata(`${base}/ok`, { allowPrivate: true })).entityId,
      'http://www.okta.com/exk1',
    );
    t.equal(
      parseIdpMetadata(await fetchMetadata(`${base}/redirect`, { allowPrivate: true })).entityId,
      'http://www.okta.com/exk1',
      'a redirect is followed',
    );
    t.match(
      await urlProblem(fetchMetadata(`${base}/big`, { maxBytes: 1000, allowPrivate: true })),
      /more than 1000 bytes/,
    );
    t.match(await urlProblem(fetchMetadata(`${base}/slow`, { timeoutMs: 200, allowPrivate: true })), /timed out/);
    t.match(await urlProblem(fetchMetadata(`${base}/missing`, { allowPrivate: true })), /HTTP 404/);
    t.match(await urlProblem(fetchMetadata('file:///etc/passwd')), /http\(s\)/);
    t.match(await urlProblem(fetchMetadata(`${base}/ok`)), /private network/, 'loopback refused by default');
    t.match(
      await urlProblem(fetchMetadata('http://169.254.169.254/latest/meta-data')),
      /private network/,
      'cloud metadata service refused',
    );
    t.match(await urlProblem(fetchMetadata('http://[::1]:1/x')), /private network/);
    t.match(await urlProblem(fetchMetadata('http://10.1.2.3/x')), /private network/);
    // The rest of the special-purpose ranges, and IPv6 forms that carry an IPv4 address.
    for (const host of [
      '0.0.0.0',
      '100.64.1.1',
      '172.31.255.255',
      '192.0.0.8',
      '192.0.2.1',
      '192.168.1.1',
      '198.18.0.1',
      '198.51.100.7',
      '203.0.113.9',
      '224.0.0.1',
      '239.255.255.250',
      '255.255.255.255',
      '[::]',
      '[::7f00:1]',
      '[::ffff:127.0.0.1]',
      '[64:ff9b::a9fe:a9fe]',
      '[2002:a9fe:a9fe::1]',
      '[2001:0:4136:e378:8000:63bf:3fff:fdd2]',
      '[2001:db8::1]',
      '[fc00::1]',
      '[fd12:3456::1]',
      '[fe80::1]',
      '[fec0::1]',
      '[ff02::1]',
    ]) {
      t.match(await urlProblem(fetchMetadata(`http://${host}/x`)), /private network/, `${host} refused`);
    }
    t.match(await urlProblem(fetchMetadata('ftp://example.com/x')), /http\(s\)/);
  },
);
