// The named attack set against our ACS verification: each forged or broken response is refused with its own code.
import t, { type Test } from 'tap';
import { deflateRawSync } from 'node:zlib';
import { generateSigningCredential } from '../../../src/saml/certificates.ts';
import { SamlError } from '../../../src/saml/errors.ts';
import { verifyUpstreamResponse, peekResponseIssuer, type VerifyInput } from '../../../src/saml/upstream/response.ts';
import type { UpstreamIdp } from '../../../src/saml/upstream/types.ts';
import { FakeIdp, WSO2_ATTRIBUTES, b64, signSha1 } from '../../helpers/fake-idp.ts';

const idp = new FakeIdp({ entityId: 'http://www.okta.com/exk1' });
const attacker = generateSigningCredential('attacker');
const spCred = generateSigningCredential('broker-sp');
const sp = { entityId: 'https://pp.broker.test/saml/sp/metadata', acsUrl: 'https://pp.broker.test/saml/sp/acs', signingKeyPem: spCred.privateKeyPem, certificatePem: spCred.certificatePem, decryptionKeys: [spCred.privateKeyPem] };
const config: UpstreamIdp = { entityId: idp.entityId, ssoUrl: 'https://okta.example/sso', ssoBinding: 'redirect', certificates: [idp.certificatePem], signRequests: false, wantResponseSigned: false, wantAssertionSigned: true, allowSha1: false };
const now = new Date('2026-03-01T12:00:00Z');
const base = { acsUrl: sp.acsUrl, audience: sp.entityId, inResponseTo: '_req1', now };

const verify = (samlResponse: string, over: Partial<VerifyInput> = {}) =>
  verifyUpstreamResponse({ samlResponse, sp, idp: config, expectedInResponseTo: '_req1', now, skewSeconds: 60, maxBytes: 256 * 1024, ...over });

async function refused(t: Test, samlResponse: string, code: string, over: Partial<VerifyInput> = {}) {
  const err = await verify(samlResponse, over).then(() => null, (e) => e);
  t.ok(err instanceof SamlError, `refused (${code})`);
  t.equal(err?.code, code, err?.message);
  return err as SamlError;
}

const unsigned = (xml: string) => xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
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
  const v = await verify(await idp.response({ ...base, attributes: WSO2_ATTRIBUTES('bob@partner.example', ['admin', 'support']) , nameId: 'bob@partner.example' }));
  t.same(v.attributes['http://wso2.org/claims/role'], ['admin', 'support']);
});

t.test('unsigned response', async (t) => {
  await refused(t, b64(unsigned(await idp.responseXml(base))), 'saml_unsigned');
  await refused(t, b64(unsigned(await idp.responseXml(base))), 'saml_unsigned', { idp: { ...config, wantAssertionSigned: false } });
});

t.test('response signed, but the IdP is configured to sign assertions', async (t) => {
  await refused(t, await idp.response({ ...base, signResponse: true, signAssertion: false }), 'saml_unsigned');
});

t.test('assertion altered after signing (NameID edited)', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  await refused(t, b64(xml.replace('ann@customer.example</saml:NameID>', 'admin@customer.example</saml:NameID>')), 'saml_bad_signature');
});

t.test('attribute added after signing', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  await refused(t, b64(xml.replace('<saml:AttributeValue', '<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">admins</saml:AttributeValue><saml:AttributeValue')), 'saml_bad_signature');
});

t.test('signature wrapping: an extra unsigned assertion before the signed one', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  const evil = assertionOf(xml).replace(/ID="[^"]+"/, 'ID="_evil"').replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '').replace('ann@customer.example', 'admin@customer.example');
  await refused(t, b64(xml.replace('<saml:Assertion', `${evil}<saml:Assertion`)), 'saml_multiple_assertions');
});

t.test('signature wrapping: an extra unsigned assertion after the signed one', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  const evil = assertionOf(xml).replace(/ID="[^"]+"/, 'ID="_evil"').replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '').replace('ann@customer.example', 'admin@customer.example');
  await refused(t, b64(xml.replace('</saml:Assertion>', `</saml:Assertion>${evil}`)), 'saml_multiple_assertions');
});

t.test('signature wrapping: signed assertion moved into Extensions, forged one in its place', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  const signed = assertionOf(xml);
  const forged = signed.replace(/ID="[^"]+"/, 'ID="_evil"').replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '').replace('ann@customer.example', 'admin@customer.example');
  const moved = xml.replace(signed, forged).replace('<samlp:Status>', `<samlp:Extensions>${signed}</samlp:Extensions><samlp:Status>`);
  const err = await refused(t, b64(moved), 'saml_multiple_assertions');
  t.ok(err);
});

t.test('signature wrapping: signed assertion moved into the signature\'s ds:Object', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: true, signAssertion: true });
  const signed = assertionOf(xml);
  const forged = signed.replace(/ID="[^"]+"/, 'ID="_evil"').replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '').replace('ann@customer.example', 'admin@customer.example');
  const withoutAssertion = xml.replace(signed, forged);
  const moved = withoutAssertion.replace('</ds:Signature>', `<ds:Object>${signed}</ds:Object></ds:Signature>`);
  await refused(t, b64(moved), 'saml_multiple_assertions');
});

t.test('signature wrapping: the whole signed response re-rooted inside a forged one', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: true, signAssertion: false });
  const inner = xml.replace(/^<\?xml[^>]*>/, '');
  const forged = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_evil" Version="2.0" IssueInstant="2026-03-01T12:00:00Z"><saml:Issuer>${idp.entityId}</saml:Issuer><samlp:Extensions>${inner}</samlp:Extensions><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>`;
  // The protocol schema already refuses a Response inside Extensions.
  await refused(t, b64(forged), 'saml_schema_invalid', { idp: { ...config, wantAssertionSigned: false, wantResponseSigned: true } });
});

t.test('signature shapes the ACS does not accept: two references, another element, unknown or XPath transforms', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  const reference = /<ds:Reference[\s\S]*?<\/ds:Reference>/.exec(xml)![0];
  const two = await refused(t, b64(xml.replace(reference, reference + reference)), 'saml_bad_signature');
  t.match(two.message, /does not cover/);
  const responseId = /<samlp:Response[^>]* ID="([^"]+)"/.exec(xml)![1];
  const other = await refused(t, b64(xml.replace(/(<ds:Reference URI=")#[^"]+"/, `$1#${responseId}"`)), 'saml_bad_signature');
  t.same(other.diagnosis.reference, [`#${responseId}`]);
  const exc = '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">';
  const unknown = await refused(t, b64(xml.replace(exc, '<ds:Transform Algorithm="urn:example:unknown">')), 'saml_bad_signature');
  t.match(unknown.message, /transform/);
  const xpath = '<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>';
  t.match((await refused(t, b64(xml.replace(exc, xpath + exc)), 'saml_bad_signature')).message, /transform/);
});

t.test('a processing instruction splitting a signed value', async (t) => {
  const xml = await idp.responseXml({ ...base, nameId: 'admin@customer.example.attacker.example', signResponse: false });
  // xml-crypto's canonicaliser would digest the instruction's data as text, so the digest still matches.
  await refused(t, b64(xml.replace('admin@customer.example.attacker.example</saml:NameID>', 'admin@customer.example<?x .attacker.example?></saml:NameID>')), 'saml_comment_injection');
  // Under a response signature, the signature check refuses it first.
  const attribute = await idp.responseXml({ ...base, attributes: { groups: ['jira-customers.attacker'] }, signResponse: true, signAssertion: false });
  const err = await refused(t, b64(attribute.replace('jira-customers.attacker<', 'jira-customers<?x .attacker?><')), 'saml_bad_signature', { idp: { ...config, wantAssertionSigned: false } });
  t.match(err.message, /processing instruction/);
});

t.test('duplicate IDs (a forged element reusing the signed ID)', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  const id = /<saml:Assertion[^>]*ID="([^"]+)"/.exec(xml)![1];
  await refused(t, b64(xml.replace('<samlp:Status>', `<samlp:Extensions><foo xmlns="urn:x" ID="${id}"/></samlp:Extensions><samlp:Status>`)), 'saml_duplicate_id');
});

t.test('XML comment inside NameID', async (t) => {
  const xml = await idp.responseXml({ ...base, nameId: 'admin@customer.example.attacker.example', signResponse: false });
  await refused(t, b64(xml.replace('admin@customer.example.attacker.example</saml:NameID>', 'admin@customer.example<!---->.attacker.example</saml:NameID>')), 'saml_comment_injection');
});

t.test('DOCTYPE and entity expansion', async (t) => {
  const xml = await idp.responseXml(base);
  await refused(t, b64(`<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${xml.replace(/^<\?xml[^>]*>/, '')}`), 'saml_doctype');
  await refused(t, b64(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`), 'saml_doctype');
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
  const err = await refused(t, await idp.response({ ...base, audience: 'https://other-sp.example' }), 'saml_wrong_audience');
  t.same(err.diagnosis.expected, sp.entityId);
});

t.test('wrong Destination', async (t) => {
  const xml = await idp.responseXml({ ...base, signResponse: false });
  await refused(t, b64(xml.replace(`Destination="${sp.acsUrl}"`, 'Destination="https://evil.example/acs"')), 'saml_wrong_destination');
});

t.test('our ACS URL spelled another valid way (host in capitals, explicit default port) is ours', async (t) => {
  const u = new URL(sp.acsUrl);
  const spelled = `${u.protocol}//${u.hostname.toUpperCase()}:${u.port || (u.protocol === 'https:' ? 443 : 80)}${u.pathname}`;
  const v = await verify(await idp.response({ ...base, acsUrl: spelled }));
  t.ok(v.nameId, `Destination and Recipient ${spelled} accepted for ${sp.acsUrl}`);
  await refused(t, await idp.response({ ...base, acsUrl: sp.acsUrl.replace(u.pathname, u.pathname.toUpperCase()) }), 'saml_wrong_destination');
});

t.test('wrong Recipient (and Destination) — a response for another SP', async (t) => {
  const forOther = await idp.responseXml({ ...base, acsUrl: 'https://other-sp.example/acs', signResponse: false });
  // The unsigned Response-level Destination can be edited to ours; the signed Recipient cannot.
  await refused(t, b64(forOther.replace('Destination="https://other-sp.example/acs"', `Destination="${sp.acsUrl}"`)), 'saml_wrong_recipient');
  await refused(t, await idp.response({ ...base, acsUrl: 'https://other-sp.example/acs' }), 'saml_wrong_destination');
});

t.test('wrong InResponseTo, and unsolicited responses', async (t) => {
  await refused(t, await idp.response({ ...base, inResponseTo: '_someone_elses_request' }), 'saml_wrong_in_response_to');
  await refused(t, await idp.response({ ...base, inResponseTo: null }), 'saml_wrong_in_response_to');
  await refused(t, await idp.response(base), 'saml_wrong_in_response_to', { expectedInResponseTo: null });
  const unsolicited = await verify(await idp.response({ ...base, inResponseTo: null }), { expectedInResponseTo: null });
  t.equal(unsolicited.inResponseTo, null, 'an unsolicited response passes only where the broker expects one');
});

t.test('signed by an attacker key with the attacker certificate in KeyInfo', async (t) => {
  const err = await refused(t, await idp.response({ ...base, signWith: attacker }), 'saml_untrusted_certificate');
  t.ok(err.diagnosis.receivedFingerprint && err.diagnosis.expectedFingerprints, 'both fingerprints in the diagnosis');
});

t.test('signed by an attacker key with the IdP certificate in KeyInfo', async (t) => {
  const xml = await idp.responseXml({ ...base, signWith: attacker });
  const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  await refused(t, b64(xml.split(body(attacker.certificatePem)).join(body(idp.certificatePem))), 'saml_bad_signature');
});

t.test('SHA-1 signatures: refused, unless the IdP is marked legacy', async (t) => {
  const xml = unsigned(await idp.responseXml({ ...base, signResponse: false }));
  const sha1 = b64(signSha1(xml, idp.credential, 'Assertion'));
  await refused(t, sha1, 'saml_weak_algorithm');
  const ok = await verify(sha1, { idp: { ...config, allowSha1: true } });
  t.equal(ok.nameId, 'ann@customer.example');
});

t.test('failure status from the IdP', async (t) => {
  const xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_f1" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" InResponseTo="_req1"><saml:Issuer>${idp.entityId}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode></samlp:Status></samlp:Response>`;
  const err = await refused(t, b64(xml), 'saml_status_failure');
  t.match(err.diagnosis.statusCodes, ['urn:oasis:names:tc:SAML:2.0:status:Responder', 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed']);
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
  await refused(t, b64('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><unclosed></samlp:Response>'), 'saml_schema_invalid');
  await refused(t, deflateRawSync(Buffer.from(await idp.responseXml(base))).toString('base64'), 'saml_malformed');
});

t.test('encrypted assertions: decrypted with our key, refused with another', async (t) => {
  const v = await verify(await idp.response({ ...base, encryptTo: spCred.certificatePem }));
  t.equal(v.nameId, 'ann@customer.example');
  const otherSp = generateSigningCredential('other-sp');
  await refused(t, await idp.response({ ...base, encryptTo: otherSp.certificatePem }), 'saml_decryption_failed');
  // during a key rollover every published key is tried
  const next = generateSigningCredential('next-sp');
  const rolled = await verify(await idp.response({ ...base, encryptTo: next.certificatePem }), { sp: { ...sp, decryptionKeys: [spCred.privateKeyPem, next.privateKeyPem] } });
  t.equal(rolled.nameId, 'ann@customer.example');
});

t.test('a certificate rollover at the IdP: either configured certificate verifies', async (t) => {
  const newIdpKey = generateSigningCredential('idp-next');
  const v = await verify(await idp.response({ ...base, signWith: newIdpKey }), { idp: { ...config, certificates: [idp.certificatePem, newIdpKey.certificatePem] } });
  t.equal(v.nameId, 'ann@customer.example');
});

t.test('peekResponseIssuer reads the Issuer without trusting it', async (t) => {
  t.equal(peekResponseIssuer(await idp.response(base), 256 * 1024), idp.entityId);
});
