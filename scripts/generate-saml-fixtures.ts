// Writes the SAML signature fixture corpus: test/fixtures/saml/{valid,invalid}/*.xml and manifest.json, which
// test/unit/xml-signature-fixtures.test.ts reads (each valid file must pass our ACS verifier with the expected NameID,
// each invalid one must be refused with its expected code). `npx tsx scripts/generate-saml-fixtures.ts` rewrites the
// corpus; `-- --check` only compares what it would write with what is committed (exit 1 on a difference).
//
// Deterministic: the keys are committed (test/fixtures/saml/keys/, TEST keys made for this corpus and used nowhere
// else; made here only when missing), the IDs and instants are fixed, and RSA PKCS#1 v1.5 signatures are a function
// of key and data, so running it again writes the same bytes. Documents are signed with xml-crypto's SignedXml, as a
// third-party IdP signs (not with our signer), then tampered with as text.
//
// Each file is also checked with xmlsec1 (another implementation) and its verdict written to the manifest: valid
// files must pass it; signature-wrapping and comment attacks typically pass xmlsec1's cryptographic check (the
// genuine signature is intact) and must still be refused by us: the manifest's `xmlsec1` says which, and `note` why.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignedXml } from 'xml-crypto';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../src/saml/algorithms.ts';
import { generateSigningCredential } from '../src/saml/certificates.ts';

const { values: args } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'test/fixtures/saml');

const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const EXC_WITH_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
const XPATH = 'http://www.w3.org/TR/1999/REC-xpath-19991116';

// ---------------------------------------------------------------------------------------------------------------
// Keys: TEST ONLY, committed with the corpus.

interface Key {
  keyPem: string;
  certPem: string;
}
function testKey(name: string, commonName: string): Key {
  const keyFile = join(DIR, 'keys', `${name}.key.pem`);
  const certFile = join(DIR, 'keys', `${name}.cert.pem`);
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    if (args.check) throw new Error(`missing ${keyFile}`);
    const made = generateSigningCredential(commonName, new Date('2026-01-01T00:00:00Z'), 100);
    mkdirSync(dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, made.privateKeyPem);
    writeFileSync(certFile, made.certificatePem);
  }
  return { keyPem: readFileSync(keyFile, 'utf8'), certPem: readFileSync(certFile, 'utf8') };
}
const idpKey = testKey('TEST-ONLY-fixture-idp', 'TEST ONLY saml fixture IdP (never use)');
const idpNextKey = testKey('TEST-ONLY-fixture-idp-next', 'TEST ONLY saml fixture IdP, next key (never use)');
const attackerKey = testKey('TEST-ONLY-fixture-attacker', 'TEST ONLY saml fixture attacker (never use)');

// ---------------------------------------------------------------------------------------------------------------
// The documents: an Okta-shaped Response for our ACS, fixed IDs and instants (the test verifies at NOW).

const SETTINGS = {
  now: '2026-03-01T12:00:30Z',
  idpEntityId: 'http://www.okta.com/exkFIXTURE',
  spEntityId: 'https://pp.broker.test/saml/sp/metadata',
  acsUrl: 'https://pp.broker.test/saml/sp/acs',
  inResponseTo: '_fixture_request',
  idpCertificate: 'keys/TEST-ONLY-fixture-idp.cert.pem',
};
const RESPONSE_ID = '_fixture_response';
const ASSERTION_ID = '_fixture_assertion';
const S = SETTINGS;

interface DocOptions {
  nameId?: string;
  groups?: string[];
}
function responseXml(o: DocOptions = {}): string {
  const nameId = o.nameId ?? 'ann@customer.example';
  const groups = (o.groups ?? ['jira-customers'])
    .map((g) => `<saml:AttributeValue xsi:type="xs:string">${g}</saml:AttributeValue>`)
    .join('');
  return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Destination="${S.acsUrl}" ID="${RESPONSE_ID}" InResponseTo="${S.inResponseTo}" IssueInstant="2026-03-01T12:00:00Z" Version="2.0">
  <saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${S.idpEntityId}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  ${assertionXml(ASSERTION_ID, nameId, groups)}
</samlp:Response>
`;
}
function assertionXml(id: string, nameId: string, groups: string): string {
  return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="${id}" IssueInstant="2026-03-01T12:00:00Z" Version="2.0">
    <saml:Issuer>${S.idpEntityId}</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${nameId}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData InResponseTo="${S.inResponseTo}" NotOnOrAfter="2026-03-01T12:05:00Z" Recipient="${S.acsUrl}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2026-03-01T11:59:30Z" NotOnOrAfter="2026-03-01T12:05:00Z">
      <saml:AudienceRestriction><saml:Audience>${S.spEntityId}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2026-03-01T12:00:00Z" SessionIndex="_fixture_session">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>
      <saml:Attribute Name="groups" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified">${groups}</saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>`;
}

interface SignOptions {
  key?: Key;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
  transforms?: string[];
  c14n?: string;
  prefixList?: string[];
  /** the IDs the Reference(s) name (default: the signed element's own) */
  refs?: string[];
}
/** Signs the element with ID `id` (Signature after its Issuer), as a third-party IdP does with xml-crypto. */
function sign(xml: string, id: string, o: SignOptions = {}): string {
  const key = o.key ?? idpKey;
  const sig = new SignedXml({
    privateKey: key.keyPem,
    publicCert: key.certPem,
    signatureAlgorithm: o.signatureAlgorithm ?? RSA_SHA256,
    canonicalizationAlgorithm: o.c14n ?? EXC_C14N,
  });
  for (const ref of o.refs ?? [id]) {
    sig.addReference({
      xpath: `//*[@ID='${ref}']`,
      transforms: o.transforms ?? [ENVELOPED, EXC_C14N],
      digestAlgorithm: o.digestAlgorithm ?? SHA256,
      inclusiveNamespacesPrefixList: o.prefixList ?? ['xs'],
    });
  }
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}
const signAssertion = (xml: string, o?: SignOptions) => sign(xml, ASSERTION_ID, o);
const signResponse = (xml: string, o?: SignOptions) => sign(xml, RESPONSE_ID, o);
const signBoth = (xml: string) => signResponse(signAssertion(xml));

/** Replaces `from` (which must occur) in `xml`. */
function edit(xml: string, from: string | RegExp, to: string | ((...m: string[]) => string)): string {
  const out = xml.replace(from as RegExp, to as never);
  if (out === xml) throw new Error(`fixture edit did not apply: ${from}`);
  return out;
}
const assertionOf = (xml: string) => /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
/** The signed assertion turned into a forged one: another ID, no signature, another NameID. */
const forged = (signed: string) =>
  signed
    .replace(/ID="[^"]+"/, 'ID="_evil"')
    .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')
    .replace('ann@customer.example', 'admin@customer.example');
const EXC_TRANSFORM = `<ds:Transform Algorithm="${EXC_C14N}">`;

// ---------------------------------------------------------------------------------------------------------------
// The corpus.

/** What the test expects of a file at the ACS (verifyUpstreamResponse with SETTINGS and `idp` overrides; the
 *  certificates are files under test/fixtures/saml, by default SETTINGS.idpCertificate alone). */
interface Expectation {
  /** the IdP settings that differ from the defaults (assertion signed required, SHA-1 refused) */
  idp?: { wantAssertionSigned?: boolean; wantResponseSigned?: boolean; allowSha1?: boolean; certificates?: string[] };
  /** valid files: the NameID read */
  nameId?: string;
  /** invalid files: the SamlError code, a pattern its message must match, diagnosis fields it must carry or equal */
  code?: string;
  message?: string;
  diagnosisHas?: string[];
  diagnosis?: Record<string, unknown>;
  /** which signatures xmlsec1 is asked to check: 'first' (the first in the document), 'Response' or 'Assertion'
   *  (the first Signature inside the first element of that name); none for files xmlsec1 should not read */
  xmlsec1Nodes?: ('first' | 'Response' | 'Assertion')[];
  note: string;
}
interface Case extends Expectation {
  file: string;
  xml: () => string;
}

const base = () => responseXml();
const cases: Case[] = [
  // valid
  {
    file: 'valid/signed-assertion.xml',
    xml: () => signAssertion(base()),
    nameId: 'ann@customer.example',
    xmlsec1Nodes: ['first'],
    note: 'Okta-shaped: the assertion signed, exc-c14n with InclusiveNamespaces PrefixList="xs"',
  },
  {
    file: 'valid/signed-response.xml',
    xml: () => signResponse(base()),
    idp: { wantAssertionSigned: false, wantResponseSigned: true },
    nameId: 'ann@customer.example',
    xmlsec1Nodes: ['first'],
    note: 'only the Response signed, for an IdP configured to sign responses',
  },
  {
    file: 'valid/signed-response-and-assertion.xml',
    xml: () => signBoth(base()),
    nameId: 'ann@customer.example',
    xmlsec1Nodes: ['Response', 'Assertion'],
    note: 'both signed: the assertion first, then the Response around it',
  },
  {
    file: 'valid/signed-assertion-without-prefixlist.xml',
    xml: () => signAssertion(base(), { prefixList: [] }),
    nameId: 'ann@customer.example',
    xmlsec1Nodes: ['first'],
    note: 'plain exclusive C14N, no InclusiveNamespaces',
  },
  {
    file: 'valid/sha1-signed-assertion-legacy-idp.xml',
    xml: () => signAssertion(base(), { signatureAlgorithm: RSA_SHA1, digestAlgorithm: SHA1 }),
    idp: { allowSha1: true },
    nameId: 'ann@customer.example',
    xmlsec1Nodes: ['first'],
    note: 'RSA-SHA1 and SHA-1 digest, accepted only for an IdP marked legacy (the same bytes as invalid/sha1-signed-assertion.xml)',
  },
  {
    file: 'valid/comment-between-elements.xml',
    xml: () => edit(signAssertion(base()), '<saml:Subject>', '<!-- a comment between elements --><saml:Subject>'),
    nameId: 'ann@customer.example',
    xmlsec1Nodes: ['first'],
    note: 'a comment added after signing, between elements: exc-c14n drops comments, so nothing signed changed and no value read changed',
  },
  {
    file: 'valid/signed-with-next-certificate.xml',
    xml: () => signAssertion(base(), { key: idpNextKey }),
    idp: { certificates: [S.idpCertificate, 'keys/TEST-ONLY-fixture-idp-next.cert.pem'] },
    nameId: 'ann@customer.example',
    note: 'a certificate rollover at the IdP: two certificates configured, signed with the second (xmlsec1 not run: it is given the first)',
  },

  // not signed as required
  {
    file: 'invalid/unsigned.xml',
    xml: () => base(),
    code: 'saml_unsigned',
    diagnosis: { missing: 'assertion' },
    note: 'no signature at all',
  },
  {
    file: 'invalid/unsigned-idp-not-requiring-signed-assertion.xml',
    xml: () => base(),
    idp: { wantAssertionSigned: false },
    code: 'saml_unsigned',
    diagnosis: { missing: 'response and assertion' },
    note: 'no signature at all, for an IdP that need not sign its assertions: something must be signed (the same bytes as invalid/unsigned.xml)',
  },
  {
    file: 'invalid/unsigned-response-signature-only-but-assertion-required.xml',
    xml: () => signResponse(base()),
    code: 'saml_unsigned',
    diagnosis: { missing: 'assertion' },
    xmlsec1Nodes: ['first'],
    note: 'a valid Response signature, but this IdP is configured to sign its assertions (the default here): xmlsec1 passes, we refuse',
  },

  // changed after signing
  {
    file: 'invalid/nameid-edited-after-signing.xml',
    xml: () =>
      edit(signAssertion(base()), 'ann@customer.example</saml:NameID>', 'admin@customer.example</saml:NameID>'),
    code: 'saml_bad_signature',
    message: 'changed after signing',
    diagnosisHas: ['expectedFingerprints'],
    xmlsec1Nodes: ['first'],
    note: 'the genuine signature carried over to a forged assertion (same ID, another NameID)',
  },
  {
    file: 'invalid/attribute-added-after-signing.xml',
    xml: () =>
      edit(
        signAssertion(base()),
        '<saml:AttributeValue',
        '<saml:AttributeValue xsi:type="xs:string">admins</saml:AttributeValue><saml:AttributeValue',
      ),
    code: 'saml_bad_signature',
    xmlsec1Nodes: ['first'],
    note: 'a group value added inside the signed assertion',
  },
  {
    file: 'invalid/signature-value-altered.xml',
    xml: () => edit(signAssertion(base()), /<ds:SignatureValue>([A-Za-z0-9+/]{8})/, '<ds:SignatureValue>AAAAAAAA'),
    code: 'saml_bad_signature',
    xmlsec1Nodes: ['first'],
    note: 'the digest still matches; the RSA signature over SignedInfo does not',
  },

  // signature wrapping (XSW)
  {
    file: 'invalid/xsw-unsigned-assertion-before-signed.xml',
    xml: () => {
      const x = signAssertion(base());
      return edit(x, '<saml:Assertion', `${forged(assertionOf(x))}\n  <saml:Assertion`);
    },
    code: 'saml_multiple_assertions',
    xmlsec1Nodes: ['first'],
    note: 'XSW: a forged unsigned assertion before the signed one. The genuine signature is intact, so xmlsec1 passes; we refuse any second assertion',
  },
  {
    file: 'invalid/xsw-unsigned-assertion-after-signed.xml',
    xml: () => {
      const x = signAssertion(base());
      return edit(x, '</saml:Assertion>', `</saml:Assertion>\n  ${forged(assertionOf(x))}`);
    },
    code: 'saml_multiple_assertions',
    xmlsec1Nodes: ['first'],
    note: 'XSW: a forged unsigned assertion after the signed one; xmlsec1 passes, we refuse',
  },
  {
    file: 'invalid/xsw-assertion-wrapped-in-extensions.xml',
    xml: () => {
      const x = signAssertion(base());
      const signed = assertionOf(x);
      return edit(
        x.replace(signed, forged(signed)),
        '<samlp:Status>',
        `<samlp:Extensions>${signed}</samlp:Extensions>\n  <samlp:Status>`,
      );
    },
    code: 'saml_multiple_assertions',
    xmlsec1Nodes: ['first'],
    note: 'XSW: the signed assertion moved into samlp:Extensions, a forged one in its place; xmlsec1 passes (it finds the signed one by ID), we refuse',
  },
  {
    file: 'invalid/xsw-assertion-in-signature-object.xml',
    xml: () => {
      const x = signBoth(base());
      const signed = assertionOf(x);
      return edit(
        x.replace(signed, forged(signed)),
        '</ds:Signature>',
        `<ds:Object>${signed}</ds:Object></ds:Signature>`,
      );
    },
    code: 'saml_multiple_assertions',
    xmlsec1Nodes: ['Response', 'Assertion'],
    note: "XSW: the signed assertion moved into the Response signature's ds:Object, a forged one in its place; the Response signature breaks, the assertion's still verifies in xmlsec1; we refuse",
  },
  {
    file: 'invalid/xsw-response-rerooted-in-extensions.xml',
    xml: () => {
      const inner = signResponse(base());
      return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0" IssueInstant="2026-03-01T12:00:00Z"><saml:Issuer>${S.idpEntityId}</saml:Issuer><samlp:Extensions>${inner.trim()}</samlp:Extensions><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>\n`;
    },
    idp: { wantAssertionSigned: false, wantResponseSigned: true },
    code: 'saml_schema_invalid',
    xmlsec1Nodes: ['first'],
    note: 'XSW: the whole signed Response re-rooted inside a forged one; xmlsec1 passes, the protocol schema already refuses a Response inside Extensions',
  },
  {
    file: 'invalid/duplicate-id.xml',
    xml: () =>
      edit(
        signAssertion(base()),
        '<samlp:Status>',
        `<samlp:Extensions><foo xmlns="urn:x" ID="${ASSERTION_ID}"/></samlp:Extensions><samlp:Status>`,
      ),
    code: 'saml_duplicate_id',
    xmlsec1Nodes: ['first'],
    note: 'another element reusing the signed ID, for a verifier that looks the reference up by ID; xmlsec1 passes (it finds the assertion), we refuse any repeated ID',
  },

  // what the signature covers
  {
    file: 'invalid/signature-over-other-id.xml',
    xml: () => signAssertion(base(), { refs: [RESPONSE_ID] }),
    code: 'saml_bad_signature',
    message: 'does not cover the assertion',
    diagnosis: { reference: [`#${RESPONSE_ID}`] },
    xmlsec1Nodes: ['first'],
    note: "a genuine signature inside the assertion whose Reference names the Response: xmlsec1 passes (the Response's digest is right), but it does not sign the assertion as such",
  },
  {
    file: 'invalid/two-references.xml',
    xml: () => {
      const x = signAssertion(base());
      const ref = /<ds:Reference[\s\S]*?<\/ds:Reference>/.exec(x)![0];
      return edit(x, ref, ref + ref);
    },
    code: 'saml_bad_signature',
    message: 'does not cover',
    xmlsec1Nodes: ['first'],
    note: 'the Reference repeated: exactly one Reference, naming the element, is accepted',
  },
  {
    file: 'invalid/two-references-signed.xml',
    xml: () => signAssertion(base(), { refs: [ASSERTION_ID, RESPONSE_ID] }),
    code: 'saml_bad_signature',
    message: 'does not cover',
    xmlsec1Nodes: ['first'],
    note: 'a genuine signature with two References (the assertion and the Response): xmlsec1 passes, we accept exactly one',
  },

  // transforms and canonicalisation
  {
    file: 'invalid/transform-unknown.xml',
    xml: () => edit(signAssertion(base()), EXC_TRANSFORM, '<ds:Transform Algorithm="urn:example:unknown">'),
    code: 'saml_bad_signature',
    message: 'transform that is not accepted',
    diagnosis: { transforms: [ENVELOPED, 'urn:example:unknown'] },
    xmlsec1Nodes: ['first'],
    note: 'an unknown transform algorithm',
  },
  {
    file: 'invalid/transform-xpath.xml',
    xml: () =>
      edit(
        signAssertion(base()),
        EXC_TRANSFORM,
        `<ds:Transform Algorithm="${XPATH}"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>${EXC_TRANSFORM}`,
      ),
    code: 'saml_bad_signature',
    message: 'transform',
    xmlsec1Nodes: ['first'],
    note: 'an XPath transform added before exc-c14n',
  },
  {
    file: 'invalid/transform-exc-c14n-with-comments.xml',
    xml: () => signAssertion(base(), { transforms: [ENVELOPED, EXC_WITH_COMMENTS], prefixList: [] }),
    code: 'saml_bad_signature',
    message: 'transform that is not accepted',
    xmlsec1Nodes: ['first'],
    note: 'genuinely signed with exc-c14n#WithComments: valid XML-DSig, refused (comments would only add a code path)',
  },
  {
    file: 'invalid/transform-inclusive-c14n.xml',
    xml: () => signAssertion(base(), { transforms: [ENVELOPED, C14N], prefixList: [] }),
    code: 'saml_bad_signature',
    message: 'transform that is not accepted',
    xmlsec1Nodes: ['first'],
    note: 'genuinely signed with inclusive C14N as the reference transform: valid XML-DSig, refused',
  },
  {
    file: 'invalid/transform-enveloped-only.xml',
    xml: () => signAssertion(base(), { transforms: [ENVELOPED], prefixList: [] }),
    code: 'saml_bad_signature',
    message: 'transform that is not accepted',
    xmlsec1Nodes: ['first'],
    note: 'no exc-c14n transform (the default inclusive C14N applies): valid XML-DSig, refused',
  },
  {
    file: 'invalid/signedinfo-inclusive-c14n.xml',
    xml: () => signAssertion(base(), { c14n: C14N }),
    code: 'saml_bad_signature',
    message: 'canonicalization method',
    xmlsec1Nodes: ['first'],
    note: 'SignedInfo canonicalised with inclusive C14N: valid XML-DSig, refused',
  },
  {
    file: 'invalid/signedinfo-exc-c14n-with-comments.xml',
    xml: () => signAssertion(base(), { c14n: EXC_WITH_COMMENTS }),
    code: 'saml_bad_signature',
    message: 'canonicalization method',
    xmlsec1Nodes: ['first'],
    note: 'SignedInfo canonicalised with exc-c14n#WithComments: valid XML-DSig, refused',
  },

  // algorithms
  {
    file: 'invalid/sha1-signed-assertion.xml',
    xml: () => signAssertion(base(), { signatureAlgorithm: RSA_SHA1, digestAlgorithm: SHA1 }),
    code: 'saml_weak_algorithm',
    xmlsec1Nodes: ['first'],
    note: 'RSA-SHA1 and a SHA-1 digest: refused unless the IdP is marked legacy (valid/sha1-signed-assertion-legacy-idp.xml)',
  },
  {
    file: 'invalid/sha1-digest.xml',
    xml: () => signAssertion(base(), { digestAlgorithm: SHA1 }),
    code: 'saml_weak_algorithm',
    xmlsec1Nodes: ['first'],
    note: 'RSA-SHA256 over a SHA-1 digest',
  },
  {
    file: 'invalid/sha1-signature-method.xml',
    xml: () => signAssertion(base(), { signatureAlgorithm: RSA_SHA1 }),
    code: 'saml_weak_algorithm',
    xmlsec1Nodes: ['first'],
    note: 'RSA-SHA1 over a SHA-256 digest',
  },

  // comments and processing instructions
  {
    file: 'invalid/comment-injection-nameid.xml',
    xml: () =>
      edit(
        signAssertion(responseXml({ nameId: 'admin@customer.example.attacker.example' })),
        'admin@customer.example.attacker.example</saml:NameID>',
        'admin@customer.example<!---->.attacker.example</saml:NameID>',
      ),
    code: 'saml_comment_injection',
    xmlsec1Nodes: ['first'],
    note: 'a comment splitting the NameID: exc-c14n drops it, so xmlsec1 passes, and a reader taking the first text node would see admin@customer.example; we refuse',
  },
  {
    file: 'invalid/comment-injection-attribute.xml',
    xml: () =>
      edit(
        signAssertion(responseXml({ groups: ['jira-customers.attacker'] })),
        'jira-customers.attacker<',
        'jira-customers<!---->.attacker<',
      ),
    code: 'saml_comment_injection',
    xmlsec1Nodes: ['first'],
    note: 'the same inside an AttributeValue; xmlsec1 passes, we refuse',
  },
  {
    file: 'invalid/processing-instruction.xml',
    xml: () =>
      edit(
        signAssertion(responseXml({ nameId: 'admin@customer.example.attacker.example' })),
        'admin@customer.example.attacker.example</saml:NameID>',
        'admin@customer.example<?x .attacker.example?></saml:NameID>',
      ),
    code: 'saml_comment_injection',
    xmlsec1Nodes: ['first'],
    note: "a processing instruction splitting the NameID: xml-crypto's canonicaliser would digest its data as the text it replaced; refused before the signature check",
  },
  {
    file: 'invalid/processing-instruction-response-signed.xml',
    xml: () =>
      edit(
        signResponse(responseXml({ groups: ['jira-customers.attacker'] })),
        'jira-customers.attacker<',
        'jira-customers<?x .attacker?><',
      ),
    idp: { wantAssertionSigned: false },
    code: 'saml_bad_signature',
    message: 'processing instruction',
    xmlsec1Nodes: ['first'],
    note: 'the same in an attribute under a Response signature: the signature check refuses it first',
  },
  {
    file: 'invalid/comment-in-digest-value.xml',
    xml: () => edit(signAssertion(base()), /<ds:DigestValue>([^<]{4})/, '<ds:DigestValue>$1<!---->'),
    code: 'saml_bad_signature',
    message: 'DigestValue is not plain text',
    xmlsec1Nodes: ['first'],
    note: 'a comment inside DigestValue: xmlsec1 reads the text around it and passes; we refuse',
  },
  {
    file: 'invalid/processing-instruction-in-signature-value.xml',
    xml: () => edit(signAssertion(base()), /<ds:SignatureValue>([^<]{4})/, '<ds:SignatureValue>$1<?pi x?>'),
    code: 'saml_bad_signature',
    message: 'SignatureValue is not plain text',
    xmlsec1Nodes: ['first'],
    note: 'a processing instruction inside SignatureValue: xmlsec1 reads the text around it and passes; we refuse',
  },

  // keys
  {
    file: 'invalid/wrong-cert.xml',
    xml: () => signAssertion(base(), { key: attackerKey }),
    code: 'saml_untrusted_certificate',
    diagnosisHas: ['receivedFingerprint', 'expectedFingerprints'],
    xmlsec1Nodes: ['first'],
    note: 'signed by another key, its own certificate in KeyInfo: the carried certificate is never trusted, only named (both fingerprints in the diagnosis)',
  },
  {
    file: 'invalid/wrong-key-idp-cert-in-keyinfo.xml',
    xml: () => {
      const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
      return signAssertion(base(), { key: attackerKey }).split(body(attackerKey.certPem)).join(body(idpKey.certPem));
    },
    code: 'saml_bad_signature',
    xmlsec1Nodes: ['first'],
    note: "signed by another key, the IdP's certificate copied into KeyInfo",
  },

  // DOCTYPE (xmlsec1 is not run on these)
  {
    file: 'invalid/doctype-entity-expansion.xml',
    xml: () =>
      `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n${signAssertion(base())}`,
    code: 'saml_doctype',
    note: 'an internal DTD with entities (billion laughs shape)',
  },
  {
    file: 'invalid/doctype-external-entity.xml',
    xml: () => `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>\n`,
    code: 'saml_doctype',
    note: 'an external entity (XXE)',
  },
];

// ---------------------------------------------------------------------------------------------------------------
// xmlsec1's verdict on each file, then write (or compare).

function xmlsec1(xml: string, node: 'first' | 'Response' | 'Assertion'): 'pass' | 'fail' {
  const dir = mkdtempSync(join(tmpdir(), 'saml-fixture-'));
  try {
    writeFileSync(join(dir, 'doc.xml'), xml);
    writeFileSync(join(dir, 'cert.pem'), idpKey.certPem);
    const RESPONSE = 'urn:oasis:names:tc:SAML:2.0:protocol:Response';
    const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion';
    const select = node === 'first' ? [] : ['--node-name', node === 'Response' ? RESPONSE : ASSERTION];
    execFileSync(
      'xmlsec1',
      [
        '--verify',
        '--pubkey-cert-pem',
        join(dir, 'cert.pem'),
        '--id-attr:ID',
        RESPONSE,
        '--id-attr:ID',
        ASSERTION,
        ...select,
        join(dir, 'doc.xml'),
      ],
      { stdio: 'ignore' },
    );
    return 'pass';
  } catch {
    return 'fail';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const manifest: Record<string, Omit<Expectation, 'xmlsec1Nodes'> & { xmlsec1?: Record<string, 'pass' | 'fail'> }> = {};
let differences = 0;
for (const c of cases) {
  const { file, xml: build, xmlsec1Nodes, ...expectation } = c;
  const xml = build();
  const verdicts = xmlsec1Nodes?.length ? Object.fromEntries(xmlsec1Nodes.map((n) => [n, xmlsec1(xml, n)])) : undefined;
  if (file.startsWith('valid/') && verdicts && Object.values(verdicts).includes('fail'))
    throw new Error(`${file}: xmlsec1 refuses a valid fixture`);
  manifest[file] = { ...expectation, ...(verdicts ? { xmlsec1: verdicts } : {}) };
  const path = join(DIR, file);
  if (args.check) {
    if (!existsSync(path) || readFileSync(path, 'utf8') !== xml) {
      console.error(`differs: ${file}`);
      differences++;
    }
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, xml);
  }
}
const manifestText = `${JSON.stringify({ settings: SETTINGS, fixtures: manifest }, null, 2)}\n`;
const manifestPath = join(DIR, 'manifest.json');
if (args.check) {
  if (!existsSync(manifestPath) || readFileSync(manifestPath, 'utf8') !== manifestText) {
    console.error('differs: manifest.json');
    differences++;
  }
  if (differences) process.exit(1);
  console.log(`${cases.length} fixtures and the manifest are as the generator writes them`);
} else {
  writeFileSync(manifestPath, manifestText);
  const valid = cases.filter((c) => c.file.startsWith('valid/')).length;
  console.log(
    `wrote ${cases.length} fixtures (${valid} valid, ${cases.length - valid} invalid) and manifest.json to ${DIR}`,
  );
}
