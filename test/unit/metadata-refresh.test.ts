// The parts of the metadata refresh that need no database: fetching through redirects (every hop checked), reading
// one known entity out of a (signed) document, and the schedule arithmetic.
import t from 'tap';
import { createServer, type RequestListener, type Server } from 'node:http';
import { SignedXml } from 'xml-crypto';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { ValidationError } from '../../src/errors.ts';
import {
  fetchMetadata,
  MAX_METADATA_REDIRECTS,
  parseXsDuration,
  readIdpMetadata,
} from '../../src/orgs/remote/metadata-import.ts';
import {
  describeFailure,
  nextRefreshAfterFailure,
  nextRefreshAfterSuccess,
  parseFailure,
} from '../../src/orgs/remote/metadata-refresh.ts';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../../src/saml/algorithms.ts';
import { generateSigningCredential, type GeneratedCredential } from '../../src/saml/certificates.ts';
import { SamlError } from '../../src/saml/errors.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';

const idpCred = generateSigningCredential('idp.partner.example');
const federationCred = generateSigningCredential('federation.example');
const strangerCred = generateSigningCredential('stranger.example');

const entity = (entityId: string, ssoUrl: string, cert = idpCred.certificatePem) =>
  idpMetadata({
    entityId,
    ssoUrl,
    sloUrl: `${ssoUrl}/slo`,
    certificates: [cert],
    organizationName: 'Partner',
    organizationUrl: 'https://partner.example',
  }).replace(/^<\?xml[^>]*>\s*/, '');
const aggregate = (attrs: string, ...entities: string[]) =>
  `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_federation" ${attrs}>${entities.join('\n')}</md:EntitiesDescriptor>`;

function sign(xml: string, cred: GeneratedCredential, algorithms = { signature: RSA_SHA256, digest: SHA256 }) {
  const sig = new SignedXml({
    privateKey: cred.privateKeyPem,
    publicCert: cred.certificatePem,
    signatureAlgorithm: algorithms.signature,
    canonicalizationAlgorithm: EXC_C14N,
  });
  sig.addReference({
    xpath: "/*[@ID='_federation']",
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: algorithms.digest,
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: '/*', action: 'prepend' } });
  return sig.getSignedXml();
}

const OKTA = 'http://www.okta.com/exk1';
const OTHER = 'https://other-idp.example/saml';

t.test(
  'readIdpMetadata picks the known entity out of an aggregate, with the tightest validity and cache time',
  async (t) => {
    const doc = aggregate(
      'validUntil="2026-03-01T00:00:00Z" cacheDuration="PT6H"',
      entity(OTHER, 'https://other.example/sso'),
      entity(OKTA, 'https://okta.example/sso').replace(
        '<md:EntityDescriptor ',
        '<md:EntityDescriptor validUntil="2026-02-01T00:00:00Z" cacheDuration="PT2H" ',
      ),
    );
    const read = readIdpMetadata(doc, { entityId: OKTA });
    t.equal(read.idp.entityId, OKTA);
    t.equal(read.idp.ssoUrl, 'https://okta.example/sso');
    t.equal(read.validUntil?.toISOString(), '2026-02-01T00:00:00.000Z', 'the entity’s own validUntil is earlier');
    t.equal(read.cacheDurationSeconds, 2 * 3600);
    const outer = readIdpMetadata(
      aggregate('validUntil="2026-01-20T00:00:00Z" cacheDuration="PT30M"', entity(OKTA, 'https://okta.example/sso')),
      { entityId: OKTA },
    );
    t.equal(
      outer.validUntil?.toISOString(),
      '2026-01-20T00:00:00.000Z',
      'the aggregate’s validUntil applies to its entities',
    );
    t.equal(outer.cacheDurationSeconds, 1800);
    const plain = readIdpMetadata(entity(OKTA, 'https://okta.example/sso'), { entityId: OKTA });
    t.equal(plain.validUntil, null);
    t.equal(plain.cacheDurationSeconds, null);

    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        if (err instanceof ValidationError) return err.fields.metadata;
        throw err;
      }
      return null;
    };
    t.match(
      refusal(() => readIdpMetadata(aggregate('', entity(OTHER, 'https://other.example/sso')), { entityId: OKTA })),
      /does not contain the entity "http:\/\/www\.okta\.com\/exk1"/,
    );
    t.match(
      refusal(() => readIdpMetadata(entity(OTHER, 'https://other.example/sso'), { entityId: OKTA })),
      /does not contain the entity/,
      'a document for another entity ID is refused',
    );
    t.match(
      refusal(() =>
        readIdpMetadata(aggregate('validUntil="soon"', entity(OKTA, 'https://okta.example/sso')), { entityId: OKTA }),
      ),
      /unreadable validUntil/,
    );
    t.match(
      refusal(() =>
        readIdpMetadata(aggregate('cacheDuration="-PT1H"', entity(OKTA, 'https://okta.example/sso')), {
          entityId: OKTA,
        }),
      ),
      /unreadable cacheDuration/,
    );
    t.match(
      refusal(() => readIdpMetadata('<html><body>Service Unavailable', { entityId: OKTA })),
      /not well-formed|not SAML 2\.0 metadata/,
    );
  },
);

t.test(
  'a configured metadata signing certificate: only documents it signed are read, and only what it signed',
  async (t) => {
    const doc = aggregate('', entity(OKTA, 'https://okta.example/sso'));
    const signed = sign(doc, federationCred);
    t.equal(
      readIdpMetadata(signed, { entityId: OKTA, signingCertificate: federationCred.certificatePem }).idp.ssoUrl,
      'https://okta.example/sso',
    );
    t.equal(
      readIdpMetadata(signed, { entityId: OKTA }).idp.ssoUrl,
      'https://okta.example/sso',
      'without a configured certificate the signature is not required',
    );

    const refusal = (xml: string) => {
      try {
        readIdpMetadata(xml, { entityId: OKTA, signingCertificate: federationCred.certificatePem });
      } catch (err) {
        if (err instanceof SamlError) return `${err.code}: ${err.message}`;
        throw err;
      }
      return null;
    };
    t.match(refusal(doc), /saml_unsigned: The metadata is not signed/);
    t.match(refusal(sign(doc, strangerCred)), /saml_untrusted_certificate|saml_bad_signature/, 'signed by another key');
    t.match(
      refusal(signed.replace('https://okta.example/sso', 'https://evil.example/sso')),
      /saml_bad_signature/,
      'changed after signing',
    );
    const sha1 = sign(doc, federationCred, {
      signature: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
      digest: 'http://www.w3.org/2000/09/xmldsig#sha1',
    });
    t.match(refusal(sha1), /saml_weak_algorithm: The metadata is signed with SHA-1/);
    // Wrapping: an attacker adds an entity next to the signed content; the digest no longer matches.
    const wrapped = signed.replace(
      '</md:EntitiesDescriptor>',
      `${entity('https://evil.example/idp', 'https://evil.example/sso', strangerCred.certificatePem)}</md:EntitiesDescriptor>`,
    );
    t.match(refusal(wrapped), /saml_bad_signature/);
    // Wrapping: the signed document moved inside an unsigned root is unsigned.
    t.match(
      refusal(
        `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_outer">${signed.replace(/^<\?xml[^>]*>/, '')}</md:EntitiesDescriptor>`,
      ),
      /saml_unsigned/,
    );
  },
);

t.test('xs:duration', async (t) => {
  t.equal(parseXsDuration('PT10M'), 600);
  t.equal(parseXsDuration('P1DT1H'), 90000);
  t.equal(parseXsDuration('PT1.5S'), 1.5);
  t.equal(parseXsDuration('P1Y2M'), 365 * 86400 + 60 * 86400);
  for (const bad of ['', 'P', 'PT', '-PT1H', '1H', 'P1H', 'PT1H2D'])
    t.equal(parseXsDuration(bad), null, `"${bad}" is refused`);
});

t.test(
  'schedule: cacheDuration and validUntil within the configured bounds; doubling backoff after failures',
  async (t) => {
    const now = new Date('2026-01-15T10:00:00Z');
    const bounds = { minSeconds: 300, maxSeconds: 3600 };
    const at = (doc: { cacheDurationSeconds: number | null; validUntil: Date | null }) =>
      (nextRefreshAfterSuccess(now, doc, bounds).getTime() - now.getTime()) / 1000;
    t.equal(at({ cacheDurationSeconds: null, validUntil: null }), 3600, 'nothing said: the configured interval');
    t.equal(at({ cacheDurationSeconds: 600, validUntil: null }), 600, 'cacheDuration shorter than the interval');
    t.equal(at({ cacheDurationSeconds: 86400, validUntil: null }), 3600, 'cacheDuration longer than the interval');
    t.equal(at({ cacheDurationSeconds: 60, validUntil: null }), 300, 'never sooner than the minimum');
    t.equal(
      at({ cacheDurationSeconds: null, validUntil: new Date(now.getTime() + 40 * 60_000) }),
      30 * 60,
      'three quarters of the remaining validity',
    );
    t.equal(
      at({ cacheDurationSeconds: null, validUntil: new Date(now.getTime() + 2 * 60_000) }),
      300,
      'almost expired: still the minimum',
    );

    const waits: number[] = [];
    let clock = now;
    const since = now;
    for (let i = 0; i < 7; i++) {
      const next = nextRefreshAfterFailure(clock, since, bounds);
      waits.push((next.getTime() - clock.getTime()) / 1000);
      clock = next;
    }
    t.same(waits, [300, 300, 600, 1200, 2400, 3600, 3600]);

    const stored = describeFailure('The metadata URL answered HTTP 500', since);
    t.same(parseFailure(stored), { reason: 'The metadata URL answered HTTP 500', since });
    t.same(parseFailure('written by hand'), { reason: 'written by hand', since: null });
    t.equal(parseFailure(null), null);
  },
);

async function serve(
  t: { teardown(fn: () => void): void },
  host: string,
  handler: RequestListener,
): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, base: `http://${host}:${(server.address() as { port: number }).port}` };
}

async function urlProblem(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (err instanceof ValidationError) return err.fields.metadataUrl;
    throw err;
  }
  return null;
}

t.test('fetching follows redirects and checks every hop', async (t) => {
  const doc = entity(OKTA, 'https://okta.example/sso');
  // The metadata itself lives on 127.0.0.1; the "partner" that redirects to it on 127.0.0.2.
  const target = await serve(t, '127.0.0.1', (req, res) =>
    req.url === '/md' ? res.end(doc) : res.writeHead(404).end(),
  );
  const hits: string[] = [];
  const partner = await serve(t, '127.0.0.2', (req, res) => {
    hits.push(req.url!);
    const to: Record<string, string> = {
      '/to-loopback': `${target.base}/md`,
      '/to-localhost': `${target.base.replace('127.0.0.1', 'localhost')}/md`,
      '/to-link-local': 'http://169.254.169.254/latest/meta-data',
      '/to-private': 'http://10.0.0.7/md',
      '/to-ipv6-loopback': 'http://[::1]:1/md',
      '/to-file': 'file:///etc/passwd',
      '/relative': '/final',
      '/loop': '/loop',
    };
    if (req.url === '/final') res.end(doc);
    else if (to[req.url!]) res.writeHead(302, { location: to[req.url!] }).end();
    else res.writeHead(404).end();
  });

  t.test('with private addresses allowed (METADATA_ALLOW_PRIVATE), redirects are followed', async (t) => {
    t.equal(await fetchMetadata(`${partner.base}/to-loopback`, { allowPrivate: true }), doc);
    t.equal(await fetchMetadata(`${partner.base}/relative`, { allowPrivate: true }), doc, 'relative Location');
  });

  t.test('a redirect to 127.0.0.1 is refused when private addresses are not allowed', async (t) => {
    // Only the partner's own address is allowed (as an operator would allow one internal IdP).
    const only = { allowAddresses: ['127.0.0.2'] };
    t.equal(await fetchMetadata(`${partner.base}/relative`, only), doc, 'the allowed host itself is fetched');
    t.match(
      await urlProblem(fetchMetadata(`${partner.base}/to-loopback`, only)),
      /redirects \(to 127\.0\.0\.1:\d+\) into a private network/,
    );
    t.match(
      await urlProblem(fetchMetadata(`${partner.base}/to-localhost`, only)),
      /redirects \(to localhost:\d+\) into a private network/,
      'also when a name resolves to it',
    );
  });

  t.test('a redirect from an allowed host to another private network is refused', async (t) => {
    const range = { allowAddresses: ['127.0.0.0/24'] };
    t.equal(await fetchMetadata(`${partner.base}/to-loopback`, range), doc, 'inside the allowed range');
    t.match(
      await urlProblem(fetchMetadata(`${partner.base}/to-link-local`, range)),
      /redirects \(to 169\.254\.169\.254\) into a private network/,
    );
    t.match(
      await urlProblem(fetchMetadata(`${partner.base}/to-private`, range)),
      /redirects \(to 10\.0\.0\.7\) into a private network/,
    );
    t.match(
      await urlProblem(fetchMetadata(`${partner.base}/to-ipv6-loopback`, range)),
      /redirects \(to \[::1\]:1\) into a private network/,
    );
    t.match(
      await urlProblem(fetchMetadata(`${target.base}/md`, { allowAddresses: ['127.0.0.2'] })),
      /^points into a private network/,
      'the first hop too',
    );
  });

  t.test('other redirects refused: non-http(s), endless', async (t) => {
    t.match(await urlProblem(fetchMetadata(`${partner.base}/to-file`, { allowPrivate: true })), /non-http\(s\)/);
    hits.length = 0;
    t.match(
      await urlProblem(fetchMetadata(`${partner.base}/loop`, { allowPrivate: true })),
      new RegExp(`more than ${MAX_METADATA_REDIRECTS} times`),
    );
    t.equal(hits.length, MAX_METADATA_REDIRECTS + 1, 'stops after the limit');
  });

  t.test('size limit and timeout apply to the whole chain', async (t) => {
    const slow = await serve(t, '127.0.0.1', (req, res) => {
      if (req.url === '/hop') res.writeHead(302, { location: '/big' }).end();
      else if (req.url === '/big') res.end('x'.repeat(5000));
      else if (req.url === '/slow-hop') setTimeout(() => res.writeHead(302, { location: '/slow-end' }).end(), 150);
      else if (req.url === '/slow-end') setTimeout(() => res.end(doc), 150);
      else res.writeHead(404).end();
    });
    t.match(
      await urlProblem(fetchMetadata(`${slow.base}/hop`, { allowPrivate: true, maxBytes: 1000 })),
      /more than 1000 bytes/,
    );
    t.match(
      await urlProblem(fetchMetadata(`${slow.base}/slow-hop`, { allowPrivate: true, timeoutMs: 250 })),
      /timed out/,
      'two hops of 150 ms exceed 250 ms together',
    );
  });
});

t.test('refresh bounds from the environment: defaults, and a minimum above the interval is refused', async (t) => {
  const defaults = loadConfig({});
  t.same(
    [defaults.metadataRefreshMinSeconds, defaults.metadataRefreshIntervalSeconds, defaults.metadataFetchTimeoutSeconds],
    [300, 3600, 10],
  );
  const err = t.throws(() =>
    loadConfig({ METADATA_REFRESH_MIN_SECONDS: '7200', METADATA_REFRESH_INTERVAL_SECONDS: '3600' }),
  ) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /^\s+- METADATA_REFRESH_MIN_SECONDS: must not exceed METADATA_REFRESH_INTERVAL_SECONDS/m);
});
