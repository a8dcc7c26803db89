// XML signature micro-benchmark (issue 7): `npm run bench:xml [-- --rounds 7] [--seconds 1] [--only c]`.
// Per operation, in µs: (a) building and signing a login Response as the broker sends it to an app (assertion
// signed; also response signed, and both), (b) verifying an upstream IdP Response as the ACS does
// (verifyUpstreamResponse, schema validation included; and an IdP-initiated one: parsed once, its claimed issuer read
// to pick the IdP, then verified), and the schema validation alone, to show what is left.
// The upstream Responses are signed here with xml-crypto, as a third-party IdP would sign them (Okta-shaped:
// InclusiveNamespaces PrefixList="xs"), so the input does not change when our own signing code does.
// (c) compares the two ways of signing what we send: the hand-written canonical templates (signEnveloped: the digest
// is SHA-256 of the text we wrote, no parse) against xml-crypto's SignedXml on the same unsigned text (parse, XPath,
// canonicalise, sign, serialise), given the same parsed KeyObject and KeyInfo, i.e. xml-crypto at its best.
// Each figure is the median of several rounds; CPU time (process.cpuUsage) is reported next to wall time because
// the machine is shared with other benchmarks. Figures, never assertions.
import { parseArgs } from 'node:util';
import { SignedXml } from 'xml-crypto';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../src/saml/algorithms.ts';
import { generateSigningCredential, type GeneratedCredential } from '../src/saml/certificates.ts';
import { keyInfoContent, privateKeyObject } from '../src/saml/keys.ts';
import { signEnveloped, signXml } from '../src/saml/signature/sign.ts';
import { buildLoginResponse, type DownstreamApp } from '../src/saml/downstream/response.ts';
import { createSchemaValidator } from '../src/saml/schema-validator.ts';
import { parseUpstreamResponse, verifyParsedResponse, verifyUpstreamResponse } from '../src/saml/upstream/response.ts';
import type { UpstreamIdp } from '../src/saml/upstream/types.ts';
import { median } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    seconds: { type: 'string', default: '1' },
    only: { type: 'string', default: '' },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);

const brokerIdp = generateSigningCredential('bench-broker-idp');
const upstreamIdp = generateSigningCredential('bench-upstream-idp');
const brokerSp = generateSigningCredential('bench-broker-sp');
const attributes = {
  email: ['ann@customer.example'],
  firstName: ['Ann'],
  lastName: ['Lee'],
  groups: ['jira-users', 'confluence-users', 'staff'],
};
const app: DownstreamApp = {
  entityId: 'https://jira.example',
  acsUrl: 'https://jira.example/plugins/servlet/samlconsumer',
  signResponse: false,
  signAssertion: true,
  encryptAssertion: false,
  nameIdFormat: 'emailAddress',
};

const login = (mode: Pick<DownstreamApp, 'signResponse' | 'signAssertion'>) => () =>
  buildLoginResponse({
    idp: {
      entityId: 'https://pp.broker.test/saml/idp/metadata',
      signingKeyPem: brokerIdp.privateKeyPem,
      certificatePem: brokerIdp.certificatePem,
    },
    app: { ...app, ...mode },
    inResponseTo: '_req1',
    nameId: 'ann@customer.example',
    sessionIndex: '_s1',
    attributes,
    now: new Date(),
    authnInstant: new Date(),
  });

// An Okta-shaped upstream Response, signed by xml-crypto as a third-party IdP would.
const sp = {
  entityId: 'https://pp.broker.test/saml/sp/metadata',
  acsUrl: 'https://pp.broker.test/saml/sp/acs',
  signingKeyPem: brokerSp.privateKeyPem,
  certificatePem: brokerSp.certificatePem,
  decryptionKeys: [brokerSp.privateKeyPem],
};
const idpEntity = 'http://www.okta.com/exk1bench';
const now = new Date();
const at = (ms: number) => new Date(now.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `inResponseTo` null: an unsolicited (IdP-initiated) Response, answering no request. */
function upstreamXml(inResponseTo: string | null = '_req1'): string {
  const answers = inResponseTo === null ? '' : ` InResponseTo="${inResponseTo}"`;
  const values = Object.entries(attributes)
    .map(
      ([name, vs]) =>
        `<saml2:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified">${vs.map((v) => `<saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${v}</saml2:AttributeValue>`).join('')}</saml2:Attribute>`,
    )
    .join('');
  return (
    `<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" Destination="${sp.acsUrl}" ID="_resp1"${answers} IssueInstant="${at(0)}" Version="2.0">` +
    `<saml2:Issuer xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">${idpEntity}</saml2:Issuer>` +
    `<saml2p:Status><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></saml2p:Status>` +
    `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_assert1" IssueInstant="${at(0)}" Version="2.0">` +
    `<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">${idpEntity}</saml2:Issuer>` +
    `<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ann@customer.example</saml2:NameID>` +
    `<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml2:SubjectConfirmationData${answers} NotOnOrAfter="${at(300_000)}" Recipient="${sp.acsUrl}"/></saml2:SubjectConfirmation></saml2:Subject>` +
    `<saml2:Conditions NotBefore="${at(-30_000)}" NotOnOrAfter="${at(300_000)}"><saml2:AudienceRestriction><saml2:Audience>${sp.entityId}</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>` +
    `<saml2:AuthnStatement AuthnInstant="${at(0)}" SessionIndex="_idp_session_1"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>` +
    `<saml2:AttributeStatement>${values}</saml2:AttributeStatement></saml2:Assertion></saml2p:Response>`
  );
}

function xmlCryptoSign(xml: string, key: GeneratedCredential, element: 'Assertion' | 'Response'): string {
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  sig.addReference({
    xpath: `//*[local-name(.)='${element}']`,
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: SHA256,
    inclusiveNamespacesPrefixList: ['xs'],
  });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[local-name(.)='${element}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}

const assertionSigned = xmlCryptoSign(upstreamXml(), upstreamIdp, 'Assertion');
const bothSigned = xmlCryptoSign(assertionSigned, upstreamIdp, 'Response');
const unsolicited = xmlCryptoSign(upstreamXml(null), upstreamIdp, 'Assertion');
const idp: UpstreamIdp = {
  entityId: idpEntity,
  ssoUrl: 'https://okta.example/sso',
  ssoBinding: 'redirect',
  certificates: [upstreamIdp.certificatePem],
  signRequests: false,
  wantResponseSigned: false,
  wantAssertionSigned: true,
  allowSha1: false,
};
const acs = (xml: string) => {
  const samlResponse = Buffer.from(xml).toString('base64');
  return () =>
    verifyUpstreamResponse({
      samlResponse,
      sp,
      idp,
      expectedInResponseTo: '_req1',
      now,
      skewSeconds: 60,
      maxBytes: 256 * 1024,
    });
};
// IdP-initiated, as the ACS does it when no flow waits: one parse, whose claimed issuer picks the IdP, then verified.
const idpInitiated = (xml: string) => {
  const samlResponse = Buffer.from(xml).toString('base64');
  return async () => {
    const parsed = await parseUpstreamResponse(samlResponse, 256 * 1024);
    if (parsed.claimedIssuer !== idp.entityId) throw new Error('the claimed issuer is not the IdP');
    return verifyParsedResponse(parsed, { sp, idp, expectedInResponseTo: null, now, skewSeconds: 60 });
  };
};
const schema = createSchemaValidator();

// (c) The assertion and Response text of a login Response as our templates write them, unsigned: taken from a signed
// one, without its Signatures (each Signature sits right after the element's Issuer).
const unsignedAssertion = { head: '', tail: '', id: '' };
const unsignedResponse = { head: '', tail: '', id: '', xml: '' };
{
  const built = await login({ signResponse: true, signAssertion: true })();
  const xml = Buffer.from(built.samlResponse, 'base64')
    .toString()
    .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
  const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
  const cut = (text: string) => {
    const at = text.indexOf('</saml:Issuer>') + '</saml:Issuer>'.length;
    return { head: text.slice(0, at), tail: text.slice(at) };
  };
  Object.assign(unsignedAssertion, cut(assertion), { id: built.assertionId });
  Object.assign(unsignedResponse, cut(xml), { id: built.id, xml });
}
const brokerKey = { keyPem: brokerIdp.privateKeyPem, certificatePem: brokerIdp.certificatePem };
const handWritten = (x: { head: string; tail: string; id: string }) => () =>
  signEnveloped(x.head, x.tail, x.id, brokerKey, ['xs']);
function signedXml(xml: string, id: string): string {
  const sig = new SignedXml({
    privateKey: privateKeyObject(brokerIdp.privateKeyPem),
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: keyInfoContent(brokerIdp.certificatePem),
  });
  sig.addReference({
    xpath: `//*[@ID='${id}']`,
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: SHA256,
    inclusiveNamespacesPrefixList: ['xs'],
  });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}
const assertionText = unsignedAssertion.head + unsignedAssertion.tail;

async function measure(op: () => unknown): Promise<{ wall: number; cpu: number }> {
  const rounds: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < 50; i++) await op(); // warm-up (JIT, key caches, schema compilation)
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000) {
      await op();
      n++;
    }
    const wall = ((performance.now() - t0) * 1000) / n;
    const cpuUsed = process.cpuUsage(cpu0);
    rounds.push({ wall, cpu: (cpuUsed.user + cpuUsed.system) / n });
  }
  return { wall: median(rounds.map((r) => r.wall)), cpu: median(rounds.map((r) => r.cpu)) };
}

const ops: [string, () => unknown][] = [
  ['(a) build + sign login Response, assertion signed', login({ signResponse: false, signAssertion: true })],
  ['    build + sign login Response, response signed', login({ signResponse: true, signAssertion: false })],
  ['    build + sign login Response, both signed', login({ signResponse: true, signAssertion: true })],
  ['(b) ACS verifyUpstreamResponse, assertion signed', acs(assertionSigned)],
  ['    ACS verifyUpstreamResponse, response + assertion signed', acs(bothSigned)],
  ['    ACS IdP-initiated (issuer read, then verified), assertion signed', idpInitiated(unsolicited)],
  ['    schema validation alone (inside (b))', () => schema.validate(bothSigned)],
  ['(c) sign the assertion: hand-written canonical (signEnveloped)', handWritten(unsignedAssertion)],
  ['    sign the assertion: xml-crypto SignedXml', () => signedXml(assertionText, unsignedAssertion.id)],
  [
    '    sign the assertion: one parse + xml-crypto C14N (signXml)',
    () => signXml(assertionText, unsignedAssertion.id, brokerKey),
  ],
  [
    '    sign assertion then Response: hand-written canonical',
    () => {
      const assertion = handWritten(unsignedAssertion)();
      return signEnveloped(
        unsignedResponse.head,
        unsignedResponse.tail.replace(assertionText, assertion),
        unsignedResponse.id,
        brokerKey,
        ['xs'],
      );
    },
  ],
  [
    '    sign assertion then Response: xml-crypto SignedXml',
    () => signedXml(signedXml(unsignedResponse.xml, unsignedAssertion.id), unsignedResponse.id),
  ],
];

// Each op must succeed before it is timed.
for (const [, op] of ops) await op();
console.log(
  `XML signature micro-benchmark: median of ${ROUNDS} rounds of ${SECONDS} s, µs per operation (wall / CPU)\n`,
);
console.log('| operation | wall µs | CPU µs |');
console.log('|---|---|---|');
for (const [name, op] of ops) {
  if (
    args.only &&
    !name.startsWith(`(${args.only})`) &&
    !ops
      .slice(0, ops.findIndex(([n]) => n === name) + 1)
      .reverse()
      .find(([n]) => n.startsWith('('))?.[0]
      .startsWith(`(${args.only})`)
  )
    continue;
  const m = await measure(op);
  console.log(`| ${name.trim()} | ${m.wall.toFixed(0)} | ${m.cpu.toFixed(0)} |`);
}
