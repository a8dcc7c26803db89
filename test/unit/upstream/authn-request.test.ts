// Our AuthnRequest to upstream IdPs: contents, Redirect-binding signature over the exact query string, POST-binding
// enveloped signature checked by xmlsec1; and the same request read back by our own IdP-side parser.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { generateSigningCredential } from '../../../src/saml/certificates.ts';
import { buildUpstreamAuthnRequest } from '../../../src/saml/upstream/authn-request.ts';
import { parseAuthnRequest, verifyAuthnRequestSignature } from '../../../src/saml/downstream/authn-request.ts';
import type { UpstreamIdp } from '../../../src/saml/upstream/types.ts';

const spCred = generateSigningCredential('broker-sp');
const other = generateSigningCredential('other');
const sp = {
  entityId: 'https://pp.broker.test/saml/sp/metadata',
  acsUrl: 'https://pp.broker.test/saml/sp/acs',
  signingKeyPem: spCred.privateKeyPem,
  certificatePem: spCred.certificatePem,
  decryptionKeys: [],
};
const wso2: UpstreamIdp = {
  entityId: 'wso2.example',
  ssoUrl: 'https://wso2.example/samlsso?tenant=a',
  ssoBinding: 'redirect',
  certificates: [],
  signRequests: true,
  wantResponseSigned: true,
  wantAssertionSigned: true,
  allowSha1: false,
};
const now = new Date('2026-03-01T12:00:00Z');

t.test('Redirect binding, signed (as WSO2 wants)', async (t) => {
  const req = buildUpstreamAuthnRequest(sp, wso2, { relayState: 'flow-123', now });
  t.equal(req.binding, 'redirect');
  const url = new URL(req.url);
  t.equal(url.origin + url.pathname, 'https://wso2.example/samlsso');
  t.equal(url.searchParams.get('tenant'), 'a', 'existing query parameters are kept');
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString();
  t.match(xml, `ID="${req.id}"`);
  t.match(xml, `<saml:Issuer>${sp.entityId}</saml:Issuer>`);
  t.match(xml, `AssertionConsumerServiceURL="${sp.acsUrl}"`);
  t.match(xml, 'Destination="https://wso2.example/samlsso?tenant=a"');
  t.equal(url.searchParams.get('RelayState'), 'flow-123');
  t.equal(url.searchParams.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
  const raw = req.url.slice(req.url.indexOf('SAMLRequest='));
  const signed = raw.slice(0, raw.indexOf('&Signature='));
  t.ok(
    verify(
      'sha256',
      Buffer.from(signed),
      createPublicKey(spCred.certificatePem),
      Buffer.from(url.searchParams.get('Signature')!, 'base64'),
    ),
    'signature over the exact query octets',
  );
  // Our own IdP-side code reads and verifies it the same way an IdP would.
  const rawQuery = req.url.slice(req.url.indexOf('?') + 1);
  const parsed = await parseAuthnRequest({
    binding: 'redirect',
    samlRequest: url.searchParams.get('SAMLRequest')!,
    maxBytes: 65536,
  });
  t.equal(parsed.id, req.id);
  verifyAuthnRequestSignature({
    maxBytes: 262144,
    binding: 'redirect',
    rawQuery,
    samlRequest: url.searchParams.get('SAMLRequest')!,
    certificatePem: spCred.certificatePem,
  });
  t.throws(
    () =>
      verifyAuthnRequestSignature({
        maxBytes: 262144,
        binding: 'redirect',
        rawQuery,
        samlRequest: '',
        certificatePem: other.certificatePem,
      }),
    { code: 'saml_request_bad_signature' },
  );
  t.throws(
    () =>
      verifyAuthnRequestSignature({
        maxBytes: 262144,
        binding: 'redirect',
        rawQuery: rawQuery.replace('RelayState=flow-123', 'RelayState=flow-999'),
        samlRequest: '',
        certificatePem: spCred.certificatePem,
      }),
    { code: 'saml_request_bad_signature' },
  );
});

t.test('Redirect binding, unsigned when the IdP does not ask', async (t) => {
  const req = buildUpstreamAuthnRequest(sp, { ...wso2, signRequests: false }, { relayState: 'f', now });
  t.notMatch(req.url, /Signature=/);
});

t.test('POST binding, signed: xmlsec1 verifies the enveloped signature', async (t) => {
  const req = buildUpstreamAuthnRequest(
    sp,
    { ...wso2, ssoBinding: 'post' },
    { relayState: 'flow-9', now, forceAuthn: true },
  );
  if (req.binding !== 'post') throw new Error('expected POST');
  t.equal(req.fields.RelayState, 'flow-9');
  const xml = Buffer.from(req.fields.SAMLRequest, 'base64').toString();
  t.match(xml, 'ForceAuthn="true"');
  const dir = mkdtempSync(join(tmpdir(), 'xmlsec-'));
  writeFileSync(join(dir, 'cert.pem'), spCred.certificatePem);
  writeFileSync(join(dir, 'req.xml'), xml);
  execFileSync(
    'xmlsec1',
    [
      '--verify',
      '--pubkey-cert-pem',
      join(dir, 'cert.pem'),
      '--id-attr:ID',
      'urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest',
      join(dir, 'req.xml'),
    ],
    { stdio: 'pipe' },
  );
  t.pass('xmlsec1 verified');
  verifyAuthnRequestSignature({
    maxBytes: 262144,
    binding: 'post',
    samlRequest: req.fields.SAMLRequest,
    certificatePem: spCred.certificatePem,
  });
  t.throws(
    () =>
      verifyAuthnRequestSignature({
        maxBytes: 262144,
        binding: 'post',
        samlRequest: req.fields.SAMLRequest,
        certificatePem: other.certificatePem,
      }),
    { code: 'saml_request_bad_signature' },
  );
  const tampered = Buffer.from(xml.replace('ForceAuthn="true"', 'ForceAuthn="false"')).toString('base64');
  t.throws(
    () =>
      verifyAuthnRequestSignature({
        maxBytes: 262144,
        binding: 'post',
        samlRequest: tampered,
        certificatePem: spCred.certificatePem,
      }),
    { code: 'saml_request_bad_signature' },
  );
});
