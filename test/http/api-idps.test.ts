// /api/idps through HTTP: CRUD with bearer tokens of the Host's organisation only, validation as
// 400 validation_failed with details.fields, another organisation's ids as 404, signed metadata from a URL, and the
// routes in the OpenAPI document.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SignedXml } from 'xml-crypto';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';

const idpKey = generateSigningCredential('idp');
const federationKey = generateSigningCredential('federation');
const metadataOf = (entityId: string) =>
  idpMetadata({
    entityId,
    ssoUrl: `${entityId}/sso`,
    sloUrl: `${entityId}/slo`,
    certificates: [idpKey.certificatePem],
    organizationName: 'IdP',
    organizationUrl: 'https://idp.example',
  });

/** Metadata signed over the whole document, as federations publish it. */
function signedMetadata(entityId: string, key = federationKey) {
  const xml = metadataOf(entityId).replace('<md:EntityDescriptor ', '<md:EntityDescriptor ID="_md1" ');
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: "/*[@ID='_md1']",
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: "/*[@ID='_md1']", action: 'prepend' } });
  return sig.getSignedXml();
}

t.test('admin API: identity providers', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const hooli = await createOrg(ta.ctx, 'hooli');
  const { token } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
  const { token: hooliToken } = await createApiToken(hooli.store, ta.clock, 'other', 'test');
  const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, bearer = token) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(payload !== undefined && { payload: payload as object }),
    });
  const manual = {
    name: 'Okta',
    entityId: 'https://okta.example/api',
    ssoUrl: 'https://okta.example/api/sso',
    certificates: [idpKey.certificatePem],
  };
  let id = '';

  t.test('a token of this organisation is required', async (t) => {
    const none = await ta.request('piedpipers', { method: 'GET', url: '/api/idps' });
    t.equal(none.statusCode, 401);
    t.equal(none.json().error.code, 'api_unauthorized');
    t.equal(
      (await api('GET', '/api/idps', undefined, hooliToken)).statusCode,
      401,
      "another organisation's token is refused",
    );
    t.equal((await api('POST', '/api/idps', manual, hooliToken)).statusCode, 401);
    t.equal((await pp.store.identityProviders.list()).length, 0);
  });

  t.test('create by fields; the answer holds nothing internal', async (t) => {
    const res = await api('POST', '/api/idps', { ...manual, attributeMapping: { email: 'mail' }, signRequests: true });
    t.equal(res.statusCode, 201);
    const body = res.json();
    id = body.id;
    t.equal(res.headers.location, `/api/idps/${id}`);
    t.match(body, {
      name: 'Okta',
      entityId: manual.entityId,
      ssoBinding: 'redirect',
      source: 'manual',
      enabled: true,
      signRequests: true,
      attributeMapping: { email: 'mail' },
      metadataSigned: false,
    });
    t.match(body.certificates[0].fingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    for (const k of ['orgId', 'metadataXml', 'metadataSigningCertificate', 'metadataRefreshAt'])
      t.notOk(k in body, `no ${k}`);
    t.match((await pp.store.audit.list({ type: 'idp.created' }))[0], { actor: 'api-token:automation', idpId: id });
  });

  t.test('validation: 400 validation_failed with the fields; nothing saved', async (t) => {
    const cases: [unknown, string[]][] = [
      [{ entityId: 'https://x.example' }, ['name']],
      [
        { ...manual, entityId: 'https://x.example', certificates: ['not a certificate'], ssoUrl: 'ftp://x.example' },
        ['certificates', 'ssoUrl'],
      ],
      [
        { ...manual, entityId: 'https://x.example', attributeMapping: { username: 'uid' } },
        ['attributeMapping.username'],
      ],
      [{ ...manual, entityId: 'https://x.example', defaultAppId: 'no-such-app' }, ['defaultAppId']],
      [{ name: 'X', metadataXml: metadataOf('https://x.example'), entityId: 'https://y.example' }, ['entityId']],
      [{ name: 'X', metadataXml: '<nope/>' }, ['metadataXml']],
      [{ name: 'X', metadataUrl: 'http://127.0.0.1:9/metadata' }, ['metadataUrl']],
      [{ ...manual, entityId: 'https://x.example', ssoBinding: 'artifact' }, ['ssoBinding']],
    ];
    for (const [payload, fields] of cases) {
      const res = await api('POST', '/api/idps', payload);
      t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80));
      t.equal(res.json().error.code, 'validation_failed');
      t.same(Object.keys(res.json().error.details.fields).sort(), fields.sort());
    }
    t.match(
      (await api('POST', '/api/idps', { name: 'X', metadataUrl: 'http://127.0.0.1:9/metadata' })).json().error.details
        .fields.metadataUrl,
      /private network/,
    );
    const dup = await api('POST', '/api/idps', manual);
    t.equal(dup.statusCode, 409);
    t.equal(dup.json().error.code, 'idp_exists');
    t.equal((await pp.store.identityProviders.list()).length, 1, 'nothing saved');
  });

  t.test('create from metadata XML', async (t) => {
    const res = await api('POST', '/api/idps', {
      name: 'WSO2',
      metadataXml: metadataOf('https://wso2.example/idp'),
      mappingPreset: 'wso2',
    });
    t.equal(res.statusCode, 201);
    t.match(res.json(), {
      entityId: 'https://wso2.example/idp',
      ssoUrl: 'https://wso2.example/idp/sso',
      sloUrl: 'https://wso2.example/idp/slo',
      source: 'metadata_file',
      mappingPreset: 'wso2',
    });
  });

  t.test('read, change, disable, enable', async (t) => {
    const list = (await api('GET', '/api/idps')).json();
    t.same(
      list.idps.map((i: { name: string }) => i.name),
      ['Okta', 'WSO2'],
    );
    t.match((await api('GET', `/api/idps/${id}`)).json(), { id, name: 'Okta' });

    const patched = await api('PATCH', `/api/idps/${id}`, { name: 'Okta production', wantResponseSigned: true });
    t.equal(patched.statusCode, 200);
    t.match(patched.json(), {
      name: 'Okta production',
      wantResponseSigned: true,
      entityId: manual.entityId,
      signRequests: true,
    });
    const invalid = await api('PATCH', `/api/idps/${id}`, { wantResponseSigned: false, wantAssertionSigned: false });
    t.equal(invalid.statusCode, 400);
    t.ok(invalid.json().error.details.fields.wantAssertionSigned);
    t.equal((await pp.store.identityProviders.findById(id))!.wantResponseSigned, true, 'unchanged');

    t.match((await api('POST', `/api/idps/${id}/disable`)).json(), { enabled: false });
    t.equal((await pp.store.identityProviders.findById(id))!.enabled, false);
    t.match((await api('POST', `/api/idps/${id}/enable`)).json(), { enabled: true });
    t.same(
      (await pp.store.audit.list({ typePrefix: 'idp.', idpId: id })).map((e) => e.type).sort(),
      ['idp.created', 'idp.disabled', 'idp.enabled', 'idp.updated'],
      'each change audited once (the refused PATCH not at all)',
    );
  });

  t.test("another organisation's ids are not found, whatever the verb", async (t) => {
    const theirs = await saveIdentityProvider(hooli.store, {
      name: 'Hooli',
      entityId: 'https://hooli.example/idp',
      ssoUrl: 'https://hooli.example/sso',
      certificates: [idpKey.certificatePem],
    });
    for (const [method, url, payload] of [
      ['GET', `/api/idps/${theirs.id}`],
      ['PATCH', `/api/idps/${theirs.id}`, { name: 'Taken' }],
      ['POST', `/api/idps/${theirs.id}/disable`],
      ['DELETE', `/api/idps/${theirs.id}`],
    ] as const) {
      const res = await api(method, url, payload);
      t.equal(res.statusCode, 404, `${method} ${url}`);
      t.equal(res.json().error.code, 'idp_not_found');
    }
    t.match((await hooli.store.identityProviders.findById(theirs.id))!, { name: 'Hooli', enabled: true });
  });

  t.test('delete', async (t) => {
    const res = await api('DELETE', `/api/idps/${id}`);
    t.equal(res.statusCode, 204);
    t.equal((await api('GET', `/api/idps/${id}`)).statusCode, 404);
    t.match((await pp.store.audit.list({ type: 'idp.deleted' }))[0], { actor: 'api-token:automation', idpId: id });
  });

  t.test('the OpenAPI document describes the routes', async (t) => {
    const doc = (await ta.request('piedpipers', { method: 'GET', url: '/api/openapi.json' })).json();
    for (const path of ['/api/idps', '/api/idps/{id}', '/api/idps/{id}/enable', '/api/idps/{id}/disable'])
      t.ok(doc.paths[path], path);
    t.ok(doc.paths['/api/idps'].post.requestBody);
    t.same(doc.paths['/api/idps/{id}'].patch.tags, ['Identity providers']);
    t.ok(doc.paths['/api/idps/{id}'].delete.summary);
  });
});

t.test('admin API: signed metadata from a URL', async (t) => {
  const ta = await createTestApp({ env: { METADATA_ALLOW_PRIVATE: 'true' } });
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const { token } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
  const documents: Record<string, string> = {
    '/signed': signedMetadata('https://fed.example/signed'),
    '/other-signer': signedMetadata('https://fed.example/other', idpKey),
    '/tampered': signedMetadata('https://fed.example/tampered').replace(
      'https://fed.example/tampered/sso',
      'https://evil.example/sso',
    ),
  };
  const server = createServer((req, res) =>
    documents[req.url!] ? res.writeHead(200).end(documents[req.url!]) : res.writeHead(404).end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const create = (path: string) =>
    ta.request('piedpipers', {
      method: 'POST',
      url: '/api/idps',
      headers: { authorization: `Bearer ${token}` },
      payload: {
        name: 'Federation',
        metadataUrl: `${base}${path}`,
        metadataSigningCertificate: federationKey.certificatePem,
      },
    });

  for (const path of ['/other-signer', '/tampered']) {
    const res = await create(path);
    t.equal(res.statusCode, 400, path);
    t.match(res.json().error.details.fields.metadataUrl, /signed with another certificate|signature is not valid/);
  }
  const ok = await create('/signed');
  t.equal(ok.statusCode, 201);
  t.match(ok.json(), {
    entityId: 'https://fed.example/signed',
    source: 'metadata_url',
    metadataSigned: true,
    metadataUrl: `${base}/signed`,
  });
  const stored = (await pp.store.identityProviders.findById(ok.json().id))!;
  t.match(stored, { metadataRefreshAt: null, metadataError: null });
  t.ok(stored.metadataSigningCertificate?.includes('BEGIN CERTIFICATE'));

  const refresh = (idpId: string) =>
    ta.request('piedpipers', {
      method: 'POST',
      url: `/api/idps/${idpId}/refresh-metadata`,
      headers: { authorization: `Bearer ${token}` },
    });
  documents['/signed'] = documents['/tampered'];
  const refused = await refresh(stored.id);
  t.equal(refused.statusCode, 200);
  t.match(
    refused.json(),
    { status: 'failed', idp: { ssoUrl: 'https://fed.example/signed/sso' } },
    'a refused document changes nothing',
  );
  const manual = await saveIdentityProvider(pp.store, {
    name: 'Manual',
    entityId: 'https://manual.example',
    ssoUrl: 'https://manual.example/sso',
    certificates: [idpKey.certificatePem],
  });
  const noUrl = await refresh(manual.id);
  t.equal(noUrl.statusCode, 400);
  t.ok(noUrl.json().error.details.fields.metadataUrl);
});

// Deleting touches four tables in one transaction: checked on every database.
for (const provider of testProviders()) {
  t.test(`admin API: delete with dependents (${provider})`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const pp = await createOrg(ta.ctx, 'piedpipers');
    const { token } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
    const idp = await saveIdentityProvider(pp.store, {
      name: 'Okta',
      entityId: 'https://okta.example/del',
      ssoUrl: 'https://okta.example/sso',
      certificates: [idpKey.certificatePem],
    });
    const keep = await saveIdentityProvider(pp.store, {
      name: 'Other',
      entityId: 'https://other.example/idp',
      ssoUrl: 'https://other.example/sso',
      certificates: [idpKey.certificatePem],
    });
    const app = await saveApplication(pp.store, {
      name: 'Jira',
      entityId: 'https://jira.example/sp',
      acsUrls: ['https://jira.example/acs'],
      primaryIdpId: idp.id,
    });
    const user = await pp.store.users.create({ email: 'ann@customer.example' });
    await pp.store.users.link(user.id, idp.id, 'ann');
    await pp.store.users.link(user.id, keep.id, 'ann');
    const expiresAt = new Date(ta.clock.now().getTime() + 3600_000);
    await pp.store.sessions.create({ id: 's-deleted', userId: user.id, idpId: idp.id, nameId: 'ann', expiresAt });
    await pp.store.sessions.create({ id: 's-kept', userId: user.id, idpId: keep.id, nameId: 'ann', expiresAt });

    const res = await ta.request('piedpipers', {
      method: 'DELETE',
      url: `/api/idps/${idp.id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    t.equal(res.statusCode, 204);
    t.equal((await pp.store.applications.findById(app.id))!.primaryIdpId, null);
    t.notOk(await pp.store.users.findByIdentity(idp.id, 'ann'));
    t.ok(await pp.store.users.findByIdentity(keep.id, 'ann'), 'links to other IdPs stay');
    t.notOk(await pp.store.sessions.findActive('s-deleted', ta.clock.now()));
    t.ok(await pp.store.sessions.findActive('s-kept', ta.clock.now()), 'sessions from other IdPs stay');
  });
}
