// Our Responses, checked by implementations we did not write: @node-saml/node-saml (as the app would) and xmlsec1.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAML } from '@node-saml/node-saml';
import { generateSigningCredential } from '../../../src/saml/certificates.ts';
import { buildErrorResponse, buildLoginResponse, type DownstreamApp } from '../../../src/saml/downstream/response.ts';
import { createSchemaValidator } from '../../../src/saml/schema-validator.ts';

const idpCred = generateSigningCredential('broker-idp');
const appCred = generateSigningCredential('jira-app');
const otherCred = generateSigningCredential('someone-else');
const idp = {
  entityId: 'https://pp.broker.test/saml/idp/metadata',
  signingKeyPem: idpCred.privateKeyPem,
  certificatePem: idpCred.certificatePem,
};
const acsUrl = 'https://jira.example/plugins/servlet/samlconsumer';
const baseApp: DownstreamApp = {
  entityId: 'https://jira.example',
  acsUrl,
  signResponse: true,
  signAssertion: false,
  encryptAssertion: false,
  nameIdFormat: 'emailAddress',
};
const hostile = 'a<b>&"c"]]>\'';

function nodeSaml(
  opts: {
    cert?: string;
    wantAssertionsSigned?: boolean;
    wantAuthnResponseSigned?: boolean;
    decryptionPvk?: string;
  } = {},
) {
  return new SAML({
    entryPoint: 'https://pp.broker.test/saml/idp/sso',
    issuer: baseApp.entityId,
    audience: baseApp.entityId,
    callbackUrl: acsUrl,
    idpCert: opts.cert ?? idpCred.certificatePem,
    wantAssertionsSigned: opts.wantAssertionsSigned ?? false,
    wantAuthnResponseSigned: opts.wantAuthnResponseSigned ?? false,
    validateInResponseTo: 'never' as never,
    acceptedClockSkewMs: 5000,
    ...(opts.decryptionPvk && { decryptionPvk: opts.decryptionPvk }),
  });
}

async function build(
  app: Partial<DownstreamApp> = {},
  attributes: Record<string, string[]> = { email: ['ann@customer.example'], groups: ['jira-users', hostile] },
) {
  return buildLoginResponse({
    idp,
    app: { ...baseApp, ...app },
    inResponseTo: null,
    nameId: 'ann@customer.example',
    sessionIndex: '_s1',
    attributes,
    now: new Date(),
    authnInstant: new Date(),
  });
}

for (const mode of [
  { signResponse: true, signAssertion: false },
  { signResponse: false, signAssertion: true },
  { signResponse: true, signAssertion: true },
]) {
  t.test(`node-saml accepts our response: ${JSON.stringify(mode)}`, async (t) => {
    const built = await build(mode);
    const sp = nodeSaml({ wantAuthnResponseSigned: mode.signResponse, wantAssertionsSigned: mode.signAssertion });
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: built.samlResponse });
    t.equal(profile!.nameID, 'ann@customer.example');
    t.equal(profile!.nameIDFormat, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    t.same(profile!.groups, ['jira-users', hostile], 'multi-valued attribute with hostile characters arrives intact');
    t.equal(profile!.sessionIndex, '_s1');
    await t.rejects(
      nodeSaml({ cert: otherCred.certificatePem }).validatePostResponseAsync({ SAMLResponse: built.samlResponse }),
      'refused with another IdP certificate',
    );
  });
}

t.test('with neither option set the assertion is still signed', async (t) => {
  const xml = Buffer.from(
    (await build({ signResponse: false, signAssertion: false })).samlResponse,
    'base64',
  ).toString();
  t.match(xml, /<saml:Assertion[^>]*><saml:Issuer>[^<]*<\/saml:Issuer><ds:Signature/);
  await nodeSaml({ wantAssertionsSigned: true }).validatePostResponseAsync({
    SAMLResponse: Buffer.from(xml).toString('base64'),
  });
});

t.test('encrypted assertion: node-saml decrypts it with the app key', async (t) => {
  const built = await build({ encryptAssertion: true, certificatePem: appCred.certificatePem, signAssertion: true });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  t.match(xml, /<saml:EncryptedAssertion/);
  t.notMatch(xml, /ann@customer\.example/, 'nothing in clear');
  const { profile } = await nodeSaml({
    decryptionPvk: appCred.privateKeyPem,
    wantAssertionsSigned: true,
  }).validatePostResponseAsync({ SAMLResponse: built.samlResponse });
  t.equal(profile!.nameID, 'ann@customer.example');
});

t.test('persistent and unspecified NameID formats', async (t) => {
  for (const [format, urn] of [
    ['persistent', 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    ['unspecified', 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'],
  ] as const) {
    const built = await build({ nameIdFormat: format });
    const { profile } = await nodeSaml().validatePostResponseAsync({ SAMLResponse: built.samlResponse });
    t.equal(profile!.nameIDFormat, urn);
  }
});

t.test('schema-valid, and xmlsec1 verifies both signatures', async (t) => {
  const built = await build({ signResponse: true, signAssertion: true });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  await createSchemaValidator().validate(xml);
  const dir = mkdtempSync(join(tmpdir(), 'xmlsec-'));
  writeFileSync(join(dir, 'cert.pem'), idpCred.certificatePem);
  writeFileSync(join(dir, 'resp.xml'), xml);
  for (const node of [
    'urn:oasis:names:tc:SAML:2.0:protocol:Response',
    'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
  ]) {
    const out = execFileSync(
      'xmlsec1',
      [
        '--verify',
        '--pubkey-cert-pem',
        join(dir, 'cert.pem'),
        '--id-attr:ID',
        node,
        '--node-name',
        node,
        join(dir, 'resp.xml'),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.pass(`xmlsec1 verified ${node.split(':').pop()} ${out}`);
  }
  t.match(xml, /Destination="https:\/\/jira\.example\/plugins\/servlet\/samlconsumer"/);
  t.match(xml, /<saml:Audience>https:\/\/jira\.example<\/saml:Audience>/);
  t.match(xml, /SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
});

t.test('InResponseTo is set on the Response and the SubjectConfirmationData', async (t) => {
  const built = await buildLoginResponse({
    idp,
    app: baseApp,
    inResponseTo: '_req"1',
    nameId: 'x@y.example',
    sessionIndex: '_s',
    attributes: {},
    now: new Date(),
    authnInstant: new Date(),
  });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  t.equal(xml.match(/InResponseTo="_req&quot;1"/g)?.length, 2);
});

t.test('error Response: signed, RequestDenied, no assertion; node-saml reports the failure', async (t) => {
  const built = buildErrorResponse({
    idp,
    acsUrl,
    appEntityId: baseApp.entityId,
    inResponseTo: null,
    status: 'Responder',
    subStatus: 'RequestDenied',
    message: 'Denied <by> policy',
    now: new Date(),
  });
  const xml = Buffer.from(built.samlResponse, 'base64').toString();
  t.notMatch(xml, /Assertion/);
  await createSchemaValidator().validate(xml);
  const err = (await t.rejects(
    nodeSaml({ wantAuthnResponseSigned: true }).validatePostResponseAsync({ SAMLResponse: built.samlResponse }),
  )) as Error;
  t.match(err.message, /RequestDenied|Responder/);
});
