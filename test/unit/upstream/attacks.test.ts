// Our ACS verification against responses our fake IdP signs: genuine ones pass, and each broken condition (time,
// audience, destination, recipient, InResponseTo, status, issuer, size, encryption) is refused with its own code.
// The signature attacks (unsigned, changed after signing, signature wrapping, duplicate IDs, comments and processing
// instructions, transforms, SHA-1, wrong keys, DOCTYPE) are files: test/fixtures/saml/invalid/*.xml, each with its
// expected code in test/fixtures/saml/manifest.json, checked by test/unit/xml-signature-fixtures.test.ts.
import t, { type Test } from 'tap';
import { deflateRawSync } from 'node:zlib';
import { generateSigningCredential } from '../../../src/saml/certificates.ts';
import { SamlError } from '../../../src/saml/errors.ts';
import {
  verifyUpstreamResponse,
  parseUpstreamResponse,
  verifyParsedResponse,
  type ParsedResponse,
  type VerifyInput,
} from '../../../src/saml/upstream/response.ts';
import type { UpstreamIdp } from '../../../src/saml/upstream/types.ts';
import { FakeIdp, WSO2_ATTRIBUTES, b64 } from '../../helpers/fake-idp.ts';

const idp = new FakeIdp({ entityId: 'http://www.okta.com/exk1' });
const spCred = generateSigningCredential('broker-sp');
const sp = {
  entityId: 'https://pp.broker.test/saml/sp/metadata',
  acsUrl: 'https://pp.broker.test/saml/sp/acs',
  signingKeyPem: spCred.privateKeyPem,
  certificatePem: spCred.certificatePem,
  decryptionKeys: [spCred.privateKeyPem],
};
const config: UpstreamIdp = {
  entityId: idp.entityId,
  ssoUrl: 'https://okta.example/sso',
  ssoBinding: 'redirect',
  certificates: [idp.certificatePem],
  signRequests: false,
  wantResponseSigned: false,
  wantAssertionSigned: true,
  allowSha1: false,
};
const now = new Date('2026-03-01T12:00:00Z');
const base = { acsUrl: sp.acsUrl, audience: sp.entityId, inResponseTo: '_req1', now };

const verify = (samlResponse: string, over: Partial<VerifyInput> = {}) =>
  verifyUpstreamResponse({
    samlResponse,
    sp,
    idp: config,
    expectedInResponseTo: '_req1',
    now,
    skewSeconds: 60,
    maxBytes: 256 * 1024,
    ...over,
  });

async function refused(t: Test, samlResponse: string, code: string, over: Partial<VerifyInput> = {}) {
  const err = await verify(samlResponse, over).then(
    () => null,
    (e) => e,
  );
  t.ok(err instanceof SamlError, `refused (${code})`);
  t.equal(err?.code, code, err?.message);
  return err as SamlError;
}

const assertionOf = (xml: string) => /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];

t.test('a genuine Okta-shaped response passes, with its attributes', async (t) => {
  const v = await verify(await idp.response(base));
  t.equal(v.nameId, 'ann@customer.example');
  t.equal(v.issuer, idp.entityId);
  t.same(v.attributes.groups, ['jira-customers']);
  t.equal(v.inResponseTo, '_req1');
  t.ok(v.assertionSigned && v.responseSigned);
});

t.test('a WSO2-shaped response (claim URIs) passes', async (t) => {
  const v = await verify(
    await idp.response({
      ...base,
      attributes: WSO2_ATTRIBUTES('bob@partner.example', ['admin', 'support']),
      nameId: 'bob@partner.example',
    }),
  );
  t.same(v.attributes['http://wso2.org/claims/role'], ['admin', 'support']);
});

t.test('expired, and not yet valid, with the skew honoured both ways', async (t) => {
  const r = await idp.response({ ...base, lifetimeSeconds: 300 });
  await verify(r, { now: new Date(now.getTime() + 300_000 + 59_000) });
  const expired = await refused(t, r, 'saml_expired', { now: new Date(now.getTime() + 300_000 + 61_000) });
  t.ok((expired.diagnosis.offsetSeconds as number) > 0, 'the diagnosis carries the measured offset');
  // the assertion's NotBefore is 30 s before issue: 60 s skew allows up to 90 s early
  await verify(r, { now: new Date(now.getTime() - 89_000) });
  await refused(t, r, 'saml_not_yet_valid', { now: new Date(now.getTime() - 91_000) });
  await refused(t, r, 'saml_not_yet_valid', { now: new Date(now.getTime() - 31_000), skewSeconds: 0 });
});

t.test('wrong Audience', async (t) => {
  const err = await refused(
    t,
    await idp.response({ ...base, audience: 'https://other-sp.example' }),
    'saml_wrong_audience',
  );
  t.same(err.diagnosis.expected, sp.entityId);
});

t.test('wrong Destination', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  await refused(
    t,
    b64(xml.replace(`Destination="${sp.acsUrl}"`, 'Destination="https://evil.example/acs"')),
    'saml_wrong_destination',
  );
});

t.test('our ACS URL spelled another valid way (host in capitals, explicit default port) is ours', async (t) => {
  const u = new URL(sp.acsUrl);
  const spelled = `${u.protocol}//${u.hostname.toUpperCase()}:${u.port || (u.protocol === 'https:' ? 443 : 80)}${u.pathname}`;
  const v = await verify(await idp.response({ ...base, acsUrl: spelled }));
  t.ok(v.nameId, `Destination and Recipient ${spelled} accepted for ${sp.acsUrl}`);
  await refused(
    t,
    await idp.response({ ...base, acsUrl: sp.acsUrl.replace(u.pathname, u.pathname.toUpperCase()) }),
    'saml_wrong_destination',
  );
});

t.test('wrong Recipient (and Destination) — a response for another SP', async (t) => {
  const forOther = await idp.responseXml({ ...base, acsUrl: 'https://other-sp.example/acs', signResponse: false });
  // The unsigned Response-level Destination can be edited to ours; the signed Recipient cannot.
  await refused(
    t,
    b64(forOther.replace('Destination="https://other-sp.example/acs"', `Destination="${sp.acsUrl}"`)),
    'saml_wrong_recipient',
  );
  await refused(t, await idp.response({ ...base, acsUrl: 'https://other-sp.example/acs' }), 'saml_wrong_destination');
});

t.test('wrong InResponseTo, and unsolicited responses', async (t) => {
  await refused(
    t,
    await idp.response({ ...base, inResponseTo: '_someone_elses_request' }),
    'saml_wrong_in_response_to',
  );
  await refused(t, await idp.response({ ...base, inResponseTo: null }), 'saml_wrong_in_response_to');
  await refused(t, await idp.response(base), 'saml_wrong_in_response_to', { expectedInResponseTo: null });
  const unsolicited = await verify(await idp.response({ ...base, inResponseTo: null }), { expectedInResponseTo: null });
  t.equal(unsolicited.inResponseTo, null, 'an unsolicited response passes only where the broker expects one');
});

t.test('failure status from the IdP', async (t) => {
  const xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_f1" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" InResponseTo="_req1"><saml:Issuer>${idp.entityId}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode></samlp:Status></samlp:Response>`;
  const err = await refused(t, b64(xml), 'saml_status_failure');
  t.match(err.diagnosis.statusCodes, [
    'urn:oasis:names:tc:SAML:2.0:status:Responder',
    'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
  ]);
});

t.test('wrong Issuer (a different, genuine IdP)', async (t) => {
  const other = new FakeIdp({ entityId: 'https://other-idp.example' });
  await refused(t, await other.response(base), 'saml_wrong_issuer');
});

t.test('a response with no assertion', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  await refused(t, b64(xml.replace(assertionOf(xml), '')), 'saml_no_assertion');
});

t.test('oversized, malformed base64, bad XML', async (t) => {
  const r = await idp.response(base);
  await refused(t, r, 'saml_too_large', { maxBytes: 1000 });
  await refused(t, 'not*base64!', 'saml_malformed');
  await refused(t, b64('hello, not xml'), 'saml_malformed');
  await refused(
    t,
    b64('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><unclosed></samlp:Response>'),
    'saml_schema_invalid',
  );
  await refused(t, deflateRawSync(Buffer.from(await idp.responseXml(base))).toString('base64'), 'saml_malformed');
});

t.test('encrypted assertions: decrypted with our key, refused with another', async (t) => {
  const v = await verify(await idp.response({ ...base, encryptTo: spCred.certificatePem }));
  t.equal(v.nameId, 'ann@customer.example');
  const otherSp = generateSigningCredential('other-sp');
  await refused(t, await idp.response({ ...base, encryptTo: otherSp.certificatePem }), 'saml_decryption_failed');
  // during a key rollover every published key is tried
  const next = generateSigningCredential('next-sp');
  const rolled = await verify(await idp.response({ ...base, encryptTo: next.certificatePem }), {
    sp: { ...sp, decryptionKeys: [spCred.privateKeyPem, next.privateKeyPem] },
  });
  t.equal(rolled.nameId, 'ann@customer.example');
});

t.test('a certificate rollover at the IdP: either configured certificate verifies', async (t) => {
  const newIdpKey = generateSigningCredential('idp-next');
  const v = await verify(await idp.response({ ...base, signWith: newIdpKey }), {
    idp: { ...config, certificates: [idp.certificatePem, newIdpKey.certificatePem] },
  });
  t.equal(v.nameId, 'ann@customer.example');
});

t.test('parseUpstreamResponse reads the Issuer without trusting it', async (t) => {
  t.equal((await parseUpstreamResponse(await idp.response(base), 256 * 1024)).claimedIssuer, idp.entityId);
});

t.test('an unsolicited Response is checked as a whole before its claimed Issuer can be read', async (t) => {
  // No Version on the Response: the schema refuses it, so no issuer is handed out to pick an IdP with.
  const xml = (await idp.responseXml({ ...base, inResponseTo: null })).replace(/ Version="2\.0"/, '');
  await t.rejects(parseUpstreamResponse(b64(xml), 256 * 1024), { code: 'saml_schema_invalid' });
  // Over the size limit: refused before it is even decoded.
  await t.rejects(parseUpstreamResponse(await idp.response(base), 1024), { code: 'saml_too_large' });
  // Only what parseUpstreamResponse made is verified: a look-alike document is not taken.
  const parsed = await parseUpstreamResponse(await idp.response(base), 256 * 1024);
  const lookAlike = { document: parsed.document, claimedIssuer: parsed.claimedIssuer } as ParsedResponse;
  await t.rejects(
    verifyParsedResponse(lookAlike, { sp, idp: config, expectedInResponseTo: '_req1', now, skewSeconds: 60 }),
    TypeError,
  );
  const v = await verifyParsedResponse(parsed, {
    sp,
    idp: config,
    expectedInResponseTo: '_req1',
    now,
    skewSeconds: 60,
  });
  t.equal(v.nameId, 'ann@customer.example', 'the parsed Response itself verifies');
});
