// The SAML signature fixture corpus (test/fixtures/saml, written by scripts/generate-saml-fixtures.ts): every file in
// valid/ passes our ACS verifier (verifyUpstreamResponse, schema validation included) with the NameID the manifest
// names, every file in invalid/ is refused with the code the manifest names, and xmlsec1 (another implementation)
// gives each file the verdict the manifest records, so that the attacks whose signature is cryptographically intact
// (signature wrapping, comments) are seen passing xmlsec1 and refused by us. Files and manifest must match exactly.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SamlError } from '../../src/saml/errors.ts';
import { verifyUpstreamResponse } from '../../src/saml/upstream/response.ts';
import type { UpstreamIdp } from '../../src/saml/upstream/types.ts';

const DIR = new URL('../fixtures/saml/', import.meta.url).pathname;
interface Entry {
  idp?: Partial<Pick<UpstreamIdp, 'wantAssertionSigned' | 'wantResponseSigned' | 'allowSha1'>> & {
    certificates?: string[];
  };
  nameId?: string;
  code?: string;
  message?: string;
  diagnosisHas?: string[];
  diagnosis?: Record<string, unknown>;
  xmlsec1?: Record<string, 'pass' | 'fail'>;
  note: string;
}
const { settings: S, fixtures } = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
  settings: {
    now: string;
    idpEntityId: string;
    spEntityId: string;
    acsUrl: string;
    inResponseTo: string;
    idpCertificate: string;
  };
  fixtures: Record<string, Entry>;
};
const read = (file: string) => readFileSync(join(DIR, file), 'utf8');

const sp = {
  entityId: S.spEntityId,
  acsUrl: S.acsUrl,
  signingKeyPem: 'unused',
  certificatePem: 'unused',
  decryptionKeys: [],
};
const verify = (xml: string, e: Entry) => {
  const { certificates = [S.idpCertificate], ...flags } = e.idp ?? {};
  const idp: UpstreamIdp = {
    entityId: S.idpEntityId,
    ssoUrl: 'https://idp.example/sso',
    ssoBinding: 'redirect',
    certificates: certificates.map(read),
    signRequests: false,
    wantResponseSigned: false,
    wantAssertionSigned: true,
    allowSha1: false,
    ...flags,
  };
  return verifyUpstreamResponse({
    samlResponse: Buffer.from(xml).toString('base64'),
    sp,
    idp,
    expectedInResponseTo: S.inResponseTo,
    now: new Date(S.now),
    skewSeconds: 60,
    maxBytes: 256 * 1024,
  });
};

const RESPONSE = 'urn:oasis:names:tc:SAML:2.0:protocol:Response';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion';
/** xmlsec1's verdict on the first Signature in the document, or the first inside the first Response or Assertion
 *  (the same call as the generator's). */
function xmlsec1(xml: string, node: string): 'pass' | 'fail' {
  const dir = mkdtempSync(join(tmpdir(), 'saml-fixture-'));
  try {
    writeFileSync(join(dir, 'doc.xml'), xml);
    const select = node === 'first' ? [] : ['--node-name', node === 'Response' ? RESPONSE : ASSERTION];
    execFileSync(
      'xmlsec1',
      [
        '--verify',
        '--pubkey-cert-pem',
        join(DIR, S.idpCertificate),
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

t.test('the manifest names every fixture file, and only those', async (t) => {
  const onDisk = ['valid', 'invalid'].flatMap((d) => readdirSync(join(DIR, d)).map((f) => `${d}/${f}`)).sort();
  t.same(Object.keys(fixtures).sort(), onDisk);
  for (const [file, e] of Object.entries(fixtures)) {
    if (file.startsWith('valid/')) t.ok(e.nameId && !e.code, `${file}: a NameID, no code`);
    else t.ok(e.code && !e.nameId, `${file}: a code, no NameID`);
  }
});

t.test('the generator, run again, writes exactly the committed files (keys, IDs and instants are fixed)', async (t) => {
  const root = new URL('../..', import.meta.url).pathname;
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate-saml-fixtures.ts', '--check'], {
    cwd: root,
    encoding: 'utf8',
  });
  t.equal(run.status, 0, run.stdout + run.stderr);
});

for (const [file, e] of Object.entries(fixtures)) {
  t.test(`${file}: ${e.note}`, async (t) => {
    const xml = read(file);
    if (file.startsWith('valid/')) {
      const v = await verify(xml, e);
      t.equal(v.nameId, e.nameId, 'accepted, with the NameID the signature covers');
      t.equal(v.issuer, S.idpEntityId);
    } else {
      const err = await verify(xml, e).then(
        () => null,
        (x: unknown) => x,
      );
      t.ok(err instanceof SamlError, 'refused');
      const se = err as SamlError;
      t.equal(se.code, e.code, se.message);
      if (e.message) t.match(se.message, new RegExp(e.message));
      for (const key of e.diagnosisHas ?? []) t.ok(se.diagnosis?.[key], `diagnosis.${key}`);
      if (e.diagnosis) t.match(se.diagnosis, e.diagnosis);
    }
    for (const [node, verdict] of Object.entries(e.xmlsec1 ?? {})) {
      t.equal(xmlsec1(xml, node), verdict, `xmlsec1 (${node} signature): ${verdict}`);
    }
  });
}
