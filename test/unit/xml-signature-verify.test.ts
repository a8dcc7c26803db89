// Verifying on the DOM we already parsed (signature/verify.ts), on documents signed by xml-crypto as third-party IdPs
// sign them: what is accepted, what is refused and with which code. The attacks as files, checked at the ACS
// (wrapping, moved assertions, duplicate IDs, comments...), are test/fixtures/saml (xml-signature-fixtures.test.ts);
// the last test here runs the verifier alone on their signatures.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { SignedXml } from 'xml-crypto';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../../src/saml/algorithms.ts';
import { encodeOutgoing, verifyMessageSignature } from '../../src/saml/bindings.ts';
import { generateSigningCredential, type GeneratedCredential } from '../../src/saml/certificates.ts';
import { SamlError } from '../../src/saml/errors.ts';
import { logoutRequestXml } from '../../src/saml/logout.ts';
import { NS, parseXml, strictText } from '../../src/saml/xml-dom.ts';
import { findSigner, verifyEnvelopedSignature } from '../../src/saml/signature/verify.ts';

const idp = generateSigningCredential('verify-idp');
const attacker = generateSigningCredential('verify-attacker');
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const EXC_WITH_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';
const XPATH = 'http://www.w3.org/TR/1999/REC-xpath-19991116';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';

// xs is declared on the Response only and used inside a value of the signed assertion: with PrefixList="xs" the
// canonical form brings the ancestor's declaration along (Okta signs this way).
const doc = (nameId = 'ann@customer.example', xs = 'http://www.w3.org/2001/XMLSchema') =>
  `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:xs="${xs}" ID="_r1" Version="2.0">` +
  `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a1" Version="2.0">` +
  `<saml:Issuer>https://idp.example</saml:Issuer><saml:Subject><saml:NameID>${nameId}</saml:NameID></saml:Subject>` +
  `<saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">staff</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
  `</saml:Assertion></samlp:Response>`;

interface SignOptions {
  transforms?: string[];
  c14n?: string;
  prefixList?: string[];
  refs?: string[];
  key?: GeneratedCredential;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
}
function sign(xml: string, o: SignOptions = {}) {
  const key = o.key ?? idp;
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: o.signatureAlgorithm ?? RSA_SHA256,
    canonicalizationAlgorithm: o.c14n ?? EXC_C14N,
  });
  for (const id of o.refs ?? ['_a1'])
    sig.addReference({
      xpath: `//*[@ID='${id}']`,
      transforms: o.transforms ?? [ENVELOPED, EXC_C14N],
      digestAlgorithm: o.digestAlgorithm ?? SHA256,
      inclusiveNamespacesPrefixList: o.prefixList,
    });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}

const assertionOf = (d: Document) => d.getElementsByTagNameNS(NS.saml, 'Assertion')[0] as Element;
const signatureOf = (el: Element) =>
  Array.from(el.childNodes as unknown as Element[]).find(
    (n) => n.nodeType === 1 && n.namespaceURI === NS.ds && n.localName === 'Signature',
  )!;

function verify(xml: string, opts: { certificates?: string[]; allowSha1?: boolean } = {}) {
  const d = parseXml(xml);
  const el = assertionOf(d);
  return {
    el,
    result: verifyEnvelopedSignature(el, signatureOf(el), {
      certificates: opts.certificates ?? [idp.certificatePem],
      allowSha1: !!opts.allowSha1,
      what: 'assertion',
    }),
  };
}

function refused(
  t: Test,
  xml: string,
  code: string,
  message?: RegExp,
  opts: { certificates?: string[]; allowSha1?: boolean } = {},
): SamlError {
  let err: unknown = null;
  try {
    verify(xml, opts);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof SamlError, `refused (${code})`);
  t.equal((err as SamlError).code, code, (err as Error).message);
  if (message) t.match((err as Error).message, message);
  return err as SamlError;
}

t.test(
  'valid: plain exclusive C14N; the verified element itself is returned, and the document is left as parsed',
  async (t) => {
    const { el, result } = verify(sign(doc()));
    t.equal(result, el);
    const withList = verify(sign(doc(), { prefixList: ['xs'] }));
    t.equal(withList.result, withList.el, 'with an InclusiveNamespaces PrefixList naming an ancestor declaration');
    t.notOk(withList.el.getAttributeNode('xmlns:xs'), 'the inherited declaration is not left on the element');
    // The Signature is taken out for the canonicalisation and put back: the document is as parsed, verified or not.
    for (const xml of [
      sign(doc(), { prefixList: ['xs'] }),
      sign(doc(), { prefixList: ['xs'] }).replace('ann@', 'eve@'),
    ]) {
      const d = parseXml(xml);
      const el = assertionOf(d);
      const before = d.toString();
      try {
        verifyEnvelopedSignature(el, signatureOf(el), {
          certificates: [idp.certificatePem],
          allowSha1: false,
          what: 'assertion',
        });
      } catch {
        // the changed one is refused
      }
      t.equal(d.toString(), before, 'the DOM is unchanged');
    }
  },
);

t.test(
  'PrefixList respected: a listed prefix inherited from outside the element is covered, an unlisted one is not',
  async (t) => {
    const listed = sign(doc(), { prefixList: ['xs'] });
    refused(
      t,
      listed.replace('xmlns:xs="http://www.w3.org/2001/XMLSchema"', 'xmlns:xs="urn:evil"'),
      'saml_bad_signature',
      /changed after signing/,
    );
    const unlisted = sign(doc());
    t.ok(
      verify(unlisted.replace('xmlns:xs="http://www.w3.org/2001/XMLSchema"', 'xmlns:xs="urn:evil"')).result,
      'exclusive C14N without the list does not cover it',
    );
  },
);

t.test('digest mismatch after a change to a signed value', async (t) => {
  const err = refused(
    t,
    sign(doc()).replace('ann@customer.example', 'eve@customer.example'),
    'saml_bad_signature',
    /changed after signing/,
  );
  t.ok(err.diagnosis.expectedFingerprints);
  refused(t, sign(doc()).replace('Name="groups"', 'Name="admins"'), 'saml_bad_signature');
  refused(t, sign(doc()).replace('>staff<', '>admins<'), 'saml_bad_signature');
  refused(
    t,
    sign(doc()).replace(/<ds:SignatureValue>([A-Za-z0-9+/]{8})/, '<ds:SignatureValue>AAAAAAAA'),
    'saml_bad_signature',
    undefined,
  );
});

t.test('a signature over another element', async (t) => {
  const err = refused(t, sign(doc(), { refs: ['_r1'] }), 'saml_bad_signature', /does not cover the assertion/);
  t.same(err.diagnosis.reference, ['#_r1']);
});

t.test('two references (even both to this element)', async (t) => {
  refused(t, sign(doc(), { refs: ['_a1', '_a1'] }), 'saml_bad_signature', /does not cover/);
  refused(t, sign(doc(), { refs: ['_a1', '_r1'] }), 'saml_bad_signature', /does not cover/);
});

t.test('transforms: unknown, XPath, WithComments, inclusive C14N, missing or reordered are refused', async (t) => {
  const signed = sign(doc());
  const unknown = refused(
    t,
    signed.replace(`<ds:Transform Algorithm="${EXC_C14N}"/>`, '<ds:Transform Algorithm="urn:example:unknown"/>'),
    'saml_bad_signature',
    /transform that is not accepted/,
  );
  t.same(unknown.diagnosis.transforms, [ENVELOPED, 'urn:example:unknown']);
  const xpath = `<ds:Transform Algorithm="${XPATH}"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>`;
  refused(
    t,
    signed.replace(`<ds:Transform Algorithm="${EXC_C14N}"/>`, `${xpath}<ds:Transform Algorithm="${EXC_C14N}"/>`),
    'saml_bad_signature',
    /transform that is not accepted/,
  );
  refused(
    t,
    signed.replace(`<ds:Transform Algorithm="${EXC_C14N}"/>`, xpath),
    'saml_bad_signature',
    /transform that is not accepted/,
  );
  refused(
    t,
    sign(doc(), { transforms: [ENVELOPED, EXC_WITH_COMMENTS] }),
    'saml_bad_signature',
    /transform that is not accepted/,
  );
  refused(t, sign(doc(), { transforms: [ENVELOPED, C14N] }), 'saml_bad_signature', /transform that is not accepted/);
  refused(t, sign(doc(), { transforms: [EXC_C14N] }), 'saml_bad_signature', /transform that is not accepted/);
  refused(
    t,
    signed.replace(
      /<ds:Transforms>([\s\S]*?)(<ds:Transform Algorithm="[^"]+"\/>)<\/ds:Transforms>/,
      (_m, first, second) => `<ds:Transforms>${second}${first}</ds:Transforms>`,
    ),
    'saml_bad_signature',
    /transform that is not accepted/,
  );
  refused(t, signed.replace(/<ds:Transforms>[\s\S]*?<\/ds:Transforms>/, ''), 'saml_bad_signature', /malformed/);
});

t.test('SignedInfo canonicalised with anything but exclusive C14N is refused', async (t) => {
  refused(t, sign(doc(), { c14n: C14N }), 'saml_bad_signature', /canonicalization method/);
  refused(t, sign(doc(), { c14n: EXC_WITH_COMMENTS }), 'saml_bad_signature', /canonicalization method/);
});

t.test('SHA-1 refused unless allowed', async (t) => {
  const sha1 = sign(doc(), { signatureAlgorithm: RSA_SHA1, digestAlgorithm: SHA1 });
  refused(t, sha1, 'saml_weak_algorithm');
  t.ok(verify(sha1, { allowSha1: true }).result, 'accepted where the IdP is marked legacy');
  refused(t, sign(doc(), { digestAlgorithm: SHA1 }), 'saml_weak_algorithm', undefined);
  refused(t, sign(doc(), { signatureAlgorithm: RSA_SHA1 }), 'saml_weak_algorithm', undefined);
});

t.test('a signature moved: into a forged element with the same ID, or below the element it signs', async (t) => {
  const signed = sign(doc());
  const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0];
  // The genuine signature carried over to a forged assertion (same ID, other NameID).
  const forged = sign(doc())
    .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, signature)
    .replace('ann@customer.example', 'admin@customer.example');
  refused(t, forged, 'saml_bad_signature', /changed after signing/);
  // The signature moved into the Subject: not a child of the element any more.
  const d = parseXml(signed);
  const el = assertionOf(d);
  const sig = signatureOf(el);
  el.getElementsByTagNameNS(NS.saml, 'Subject')[0].appendChild(sig);
  t.throws(() => findSigner(el, sig, { certificates: [idp.certificatePem], allowSha1: false, what: 'assertion' }), {
    code: 'saml_bad_signature',
    message: /not inside the signed element/,
  });
});

t.test('comments: not covered inside the element, refused where a signature value is read', async (t) => {
  const signed = sign(doc());
  t.ok(
    verify(signed.replace('<saml:Subject>', '<!-- a comment --><saml:Subject>')).result,
    'a comment between elements changes nothing signed',
  );
  const { result } = verify(
    signed.replace('ann@customer.example</saml:NameID>', 'ann@customer.example<!-- x --></saml:NameID>'),
  );
  const nameId = result.getElementsByTagNameNS(NS.saml, 'NameID')[0] as Element;
  t.throws(
    () => strictText(nameId, 'NameID'),
    { code: 'saml_malformed' },
    'a comment inside a value verifies, but no reader takes that value',
  );
  refused(
    t,
    signed.replace(/<ds:DigestValue>([^<]{4})/, '<ds:DigestValue>$1<!---->'),
    'saml_bad_signature',
    /DigestValue is not plain text/,
  );
  refused(
    t,
    signed.replace(/<ds:SignatureValue>([^<]{4})/, '<ds:SignatureValue>$1<?pi x?>'),
    'saml_bad_signature',
    /SignatureValue is not plain text/,
  );
  refused(t, signed.replace(/<ds:DigestValue>[^<]+/, '<ds:DigestValue>not*base64'), 'saml_bad_signature', /not base64/);
});

t.test(
  'processing instructions inside a signed element are refused (xml-crypto would digest their data as text)',
  async (t) => {
    const signed = sign(doc('ann@customer.example.attacker.example'));
    // The digest still matches (the PI's data is rendered as the text it replaced), but a reader would see "ann@customer.example".
    refused(
      t,
      signed.replace('ann@customer.example.attacker.example', 'ann@customer.example<?x .attacker.example?>'),
      'saml_bad_signature',
      /processing instruction/,
    );
  },
);

t.test('a node the canonicaliser cannot render is a bad signature, not a crash', async (t) => {
  const d = parseXml(sign(doc()));
  const el = assertionOf(d);
  el.getElementsByTagNameNS(NS.saml, 'NameID')[0].appendChild(d.createTextNode(''));
  t.throws(
    () =>
      verifyEnvelopedSignature(el, signatureOf(el), {
        certificates: [idp.certificatePem],
        allowSha1: false,
        what: 'assertion',
      }),
    { code: 'saml_bad_signature' },
  );
});

t.test('only configured certificates verify; a carried certificate only names the signer', async (t) => {
  const err = refused(t, sign(doc(), { key: attacker }), 'saml_untrusted_certificate');
  t.ok(err.diagnosis.receivedFingerprint && (err.diagnosis.expectedFingerprints as string[]).length === 1);
  refused(t, sign(doc(), { key: attacker }), 'saml_untrusted_certificate', undefined, {
    certificates: [idp.certificatePem, 'not a certificate'],
  });
  t.ok(
    verify(sign(doc(), { key: attacker }), { certificates: ['not a certificate', attacker.certificatePem] }).result,
    'an unreadable configured certificate is skipped, the next one verifies',
  );
  refused(t, sign(doc()), 'saml_untrusted_certificate', /No certificate/, { certificates: [] });
});

t.test('POST-binding requests: refusals carry the request codes', async (t) => {
  const key = generateSigningCredential('verify-app');
  const { id, xml } = logoutRequestXml({
    issuer: 'https://app.example',
    destination: 'https://pp.broker.test/slo',
    now: new Date(),
    nameId: 'ann@customer.example',
  });
  const out = encodeOutgoing({
    xml,
    id,
    param: 'SAMLRequest',
    destination: 'https://pp.broker.test/slo',
    binding: 'post',
    signer: { keyPem: key.privateKeyPem, certificatePem: key.certificatePem },
  });
  if (out.binding !== 'post') throw new Error('expected the POST binding');
  const signed = Buffer.from(out.fields.SAMLRequest, 'base64').toString();
  const check =
    (x: string, certificates = [key.certificatePem]) =>
    () =>
      verifyMessageSignature({
        maxBytes: 262144,
        binding: 'post',
        param: 'SAMLRequest',
        message: Buffer.from(x).toString('base64'),
        certificates,
      });
  t.equal(check(signed)().certificate, key.certificatePem, 'the certificate that verified');
  t.throws(check(signed, [idp.certificatePem]), { code: 'saml_request_bad_signature', message: /does not match/ });
  t.throws(check(signed.replace('ann@customer.example', 'eve@customer.example')), {
    code: 'saml_request_bad_signature',
  });
  t.throws(
    check(signed.replace(`<ds:Transform Algorithm="${EXC_C14N}">`, '<ds:Transform Algorithm="urn:example:unknown">')),
    { code: 'saml_request_bad_signature', message: /transform/ },
  );
  t.throws(check(signed.replace(/URI="#[^"]+"/, 'URI="#_other"')), {
    code: 'saml_request_bad_signature',
    message: /does not cover/,
  });
  t.throws(check(signed.replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')), { code: 'saml_request_unsigned' });
});

// The fixture corpus (test/fixtures/saml; xml-signature-fixtures.test.ts checks each file at the ACS): here the
// verifier alone, on each signature of each file that the ACS refuses for its signature (or accepts). Signatures are
// checked in the ACS's order, the Response's own first: the first refused carries the manifest's code.
t.test('fixture corpus: each signature verdict comes from the verifier itself', async (t) => {
  const dir = new URL('../fixtures/saml/', import.meta.url).pathname;
  const { settings, fixtures } = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
    settings: { idpCertificate: string };
    fixtures: Record<string, { code?: string; idp?: { allowSha1?: boolean; certificates?: string[] } }>;
  };
  const SIGNATURE_CODES = ['saml_bad_signature', 'saml_weak_algorithm', 'saml_untrusted_certificate'];
  let checked = 0;
  for (const [file, e] of Object.entries(fixtures)) {
    if (e.code && !SIGNATURE_CODES.includes(e.code)) continue;
    const d = parseXml(readFileSync(dir + file, 'utf8'));
    const certificates = (e.idp?.certificates ?? [settings.idpCertificate]).map((c) => readFileSync(dir + c, 'utf8'));
    const signatures = Array.from(d.getElementsByTagNameNS(NS.ds, 'Signature') as unknown as Element[]).sort(
      (a, b) => Number(b.parentNode === d.documentElement) - Number(a.parentNode === d.documentElement),
    );
    let refusal: unknown = null;
    for (const signature of signatures) {
      const el = signature.parentNode as Element;
      try {
        verifyEnvelopedSignature(el, signature, {
          certificates,
          allowSha1: !!e.idp?.allowSha1,
          what: el.localName === 'Response' ? 'response' : 'assertion',
        });
      } catch (err) {
        refusal = err;
        break;
      }
    }
    if (e.code) t.equal((refusal as SamlError | null)?.code, e.code, `${file}: ${(refusal as Error | null)?.message}`);
    else t.equal(refusal, null, `${file}: every signature verifies`);
    checked++;
  }
  t.ok(checked >= 20, `${checked} files checked`);
});
