// The DOM-level signature check (enveloped-signature.ts) on documents signed by xml-crypto, as third-party IdPs sign
// them: what it accepts, what it refuses, and which shapes it leaves to xml-crypto's general path.
import t from 'tap';
import { createPublicKey } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../../src/saml/algorithms.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { checkEnvelopedSignature } from '../../src/saml/enveloped-signature.ts';
import { NS, parseXml } from '../../src/saml/xml-dom.ts';

const idp = generateSigningCredential('enveloped-idp');
const other = generateSigningCredential('someone-else');
const key = createPublicKey(idp.certificatePem);
const C14N_INCLUSIVE = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';

// xs is declared on the Response only and used inside a value of the signed assertion: with PrefixList="xs" the
// canonical form must bring the ancestor's declaration along (Okta signs this way).
const doc = (nameId = 'ann@customer.example') =>
  `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_r1" Version="2.0">` +
  `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a1" Version="2.0">` +
  `<saml:Issuer>https://idp.example</saml:Issuer><saml:Subject><saml:NameID>${nameId}</saml:NameID></saml:Subject>` +
  `<saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">staff</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
  `</saml:Assertion></samlp:Response>`;

function sign(xml: string, opts: { transforms?: string[]; c14n?: string; prefixList?: string[]; ref?: string } = {}) {
  const sig = new SignedXml({ privateKey: idp.privateKeyPem, publicCert: idp.certificatePem, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: opts.c14n ?? EXC_C14N });
  sig.addReference({ xpath: opts.ref ?? `//*[@ID='_a1']`, transforms: opts.transforms ?? [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256, inclusiveNamespacesPrefixList: opts.prefixList });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `//*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

function check(xml: string, keys = [key], where = (d: Document) => d.getElementsByTagNameNS(NS.saml, 'Assertion')[0]) {
  const d = parseXml(xml);
  const el = where(d);
  const signature = d.getElementsByTagNameNS(NS.ds, 'Signature')[0];
  return checkEnvelopedSignature(signature, el, keys, false);
}

t.test('valid: plain exclusive C14N, and with an InclusiveNamespaces PrefixList naming an ancestor declaration', async (t) => {
  t.equal(check(sign(doc())), 'valid');
  t.equal(check(sign(doc(), { prefixList: ['xs'] })), 'valid');
});

t.test('invalid: a changed value, another key, a changed SignedInfo', async (t) => {
  t.equal(check(sign(doc()).replace('ann@customer.example', 'eve@customer.example')), 'invalid', 'digest no longer matches');
  t.equal(check(sign(doc()), [createPublicKey(other.certificatePem)]), 'invalid', 'not the configured key');
  const signed = sign(doc());
  t.equal(check(signed.replace(/<ds:DigestValue>[^<]+</, '<ds:DigestValue>AAAA<')), 'invalid', 'a digest of something else');
  t.equal(check(signed.replace(/<ds:SignatureValue>([A-Za-z0-9+/]{8})/, '<ds:SignatureValue>AAAAAAAA')), 'invalid', 'a changed signature value');
});

t.test('a comment inside the signed element is not covered (callers refuse comments in identity values)', async (t) => {
  const signed = sign(doc());
  t.equal(check(signed.replace('ann@customer.example', 'ann@customer.example<!-- x -->')), 'valid');
});

t.test('unsupported shapes go to the general path: inclusive C14N, other transforms, a signature elsewhere or over another element', async (t) => {
  t.equal(check(sign(doc(), { c14n: C14N_INCLUSIVE })), 'unsupported', 'inclusive C14N for SignedInfo');
  t.equal(check(sign(doc(), { transforms: [ENVELOPED, C14N_INCLUSIVE] })), 'unsupported', 'inclusive C14N transform');
  t.equal(check(sign(doc(), { transforms: [EXC_C14N] })), 'unsupported', 'no enveloped transform');
  t.equal(check(sign(doc()), [key], (d) => d.documentElement), 'unsupported', 'the signature is not a child of the element');
  const overResponse = sign(doc(), { ref: `//*[@ID='_r1']` });
  t.equal(check(overResponse), 'unsupported', 'the Reference names another element');
});
