// Admin JSON API for apps and their login policies: bearer tokens of the Host's organisation only, create from
// metadata (document or URL) or by hand, change, delete, connection values, rules and the 2-factor switch;
// validation errors carry details.fields; other organisations' ids are not found.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { spMetadata } from '../../src/saml/metadata.ts';

t.test('admin API: apps and policies', async (t) => {
  // The metadata URL test serves from this machine.
  const ta = await createTestApp({ env: { METADATA_ALLOW_PRIVATE: 'true' } });
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const hooli = await createOrg(ta.ctx, 'hooli');
  const { token } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
  const { token: hooliToken } = await createApiToken(hooli.store, ta.clock, 'other', 'test');
  const cert = generateSigningCredential('sp').certificatePem;
  const okta = await saveIdentityProvider(pp.store, {
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://okta.example/sso',
    certificates: [cert],
  });
  const hooliIdp = await saveIdentityProvider(hooli.store, {
    name: 'Hooli',
    entityId: 'https://idp.hooli.example',
    ssoUrl: 'https://idp.hooli.example/sso',
    certificates: [cert],
  });

  const call = (
    slug: string,
    bearer: string | null,
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
  ) =>
    ta.request(slug, {
      method,
      url,
      headers: { ...(bearer && { authorization: `Bearer ${bearer}` }) },
      ...(body !== undefined && { payload: body as object }),
    });
  const api = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    call('piedpipers', token, method, url, body);
  const auditOf = async (type: string) =>
    (await pp.store.audit.list({ type })).map((e) => ({ actor: e.actor, appId: e.appId, details: e.details }));

  t.test('a token of this organisation is required', async (t) => {
    const none = await call('piedpipers', null, 'GET', '/api/apps');
    t.equal(none.statusCode, 401);
    t.equal(none.json().error.code, 'api_unauthorized');
    t.equal(
      (await call('piedpipers', hooliToken, 'GET', '/api/apps')).statusCode,
      401,
      "another organisation's token is refused",
    );
    t.equal(
      (
        await call('piedpipers', null, 'POST', '/api/apps', {
          name: 'X',
          entityId: 'https://x.example',
          acsUrls: ['https://x.example/acs'],
        })
      ).statusCode,
      401,
    );
    t.equal((await call('piedpipers', hooliToken, 'PUT', '/api/apps/whatever/policy', { rules: [] })).statusCode, 401);
    t.equal((await pp.store.applications.list()).length, 0);
  });

  let jiraId = '';
  t.test('create by hand: schema and domain errors alike come back as details.fields; nothing saved', async (t) => {
    const missing = await api('POST', '/api/apps', { entityId: 'https://jira.example' });
    t.equal(missing.statusCode, 400);
    t.match(missing.json().error, { code: 'validation_failed', details: { fields: { name: 'is required' } } });
    const wrongType = await api('POST', '/api/apps', {
      name: 'Jira',
      entityId: 'https://jira.example',
      acsUrls: ['https://jira.example/acs'],
      nameIdFormat: 'x500',
    });
    t.equal(wrongType.statusCode, 400);
    t.ok(wrongType.json().error.details.fields.nameIdFormat);
    const bad = await api('POST', '/api/apps', {
      name: 'Jira',
      entityId: 'https://jira.example',
      acsUrls: ['javascript:alert(1)'],
      primaryIdpId: hooliIdp.id,
      encryptAssertion: true,
    });
    t.equal(bad.statusCode, 400);
    t.match(bad.json().error.details.fields, {
      'acsUrls.0': /http\(s\)/,
      primaryIdpId: /not an identity provider/,
      certificate: /required/,
    });
    t.equal((await pp.store.applications.list()).length, 0);

    const res = await api('POST', '/api/apps', {
      name: 'Jira',
      entityId: 'https://jira.example',
      acsUrls: ['https://jira.example/acs'],
      primaryIdpId: okta.id,
      signAssertion: true,
      nameIdFormat: 'persistent',
      attributeRelease: ['email', 'groups'],
      defaultRelayState: '/servicedesk',
    });
    t.equal(res.statusCode, 201, res.body);
    const body = res.json();
    jiraId = body.id;
    t.equal(res.headers.location, `/api/apps/${jiraId}`);
    t.match(body, {
      name: 'Jira',
      entityId: 'https://jira.example',
      acsUrls: ['https://jira.example/acs'],
      primaryIdpId: okta.id,
      signResponse: true,
      signAssertion: true,
      nameIdFormat: 'persistent',
      attributeRelease: ['email', 'groups'],
      defaultRelayState: '/servicedesk',
      enabled: true,
      twoFactor: false,
      launchUrl: `http://piedpipers.broker.test/apps/${jiraId}/launch`,
      certificate: null,
      sloUrl: null,
    });
    t.notOk('policy' in body || 'orgId' in body, 'the response has no internal fields');
    t.match(await auditOf('app.created'), [{ actor: 'api-token:automation', appId: jiraId }]);

    const dup = await api('POST', '/api/apps', {
      name: 'Again',
      entityId: 'https://jira.example',
      acsUrls: ['https://jira.example/acs'],
    });
    t.equal(dup.statusCode, 409);
    t.equal(dup.json().error.code, 'app_exists');
  });

  t.test('create from SP metadata: a document, or a URL to fetch', async (t) => {
    const xml = spMetadata({
      entityId: 'https://confluence.example',
      acsUrl: 'https://confluence.example/acs',
      sloUrl: 'https://confluence.example/slo',
      certificates: [cert],
      authnRequestsSigned: true,
      wantAssertionsSigned: true,
      organizationName: 'C',
      organizationUrl: 'https://confluence.example',
    });
    const fromXml = await api('POST', '/api/apps', { name: 'Confluence', metadataXml: xml });
    t.equal(fromXml.statusCode, 201, fromXml.body);
    t.match(fromXml.json(), {
      entityId: 'https://confluence.example',
      acsUrls: ['https://confluence.example/acs'],
      sloUrl: 'https://confluence.example/slo',
      wantAuthnRequestsSigned: true,
      signAssertion: true,
      certificate: /BEGIN CERTIFICATE/,
    });

    const broken = await api('POST', '/api/apps', { name: 'Broken', metadataXml: '<not-metadata/>' });
    t.equal(broken.statusCode, 400);
    t.match(broken.json().error.details.fields, { metadataXml: /not SAML 2\.0 metadata/ });

    const served = spMetadata({
      entityId: 'https://bitbucket.example',
      acsUrl: 'https://bitbucket.example/acs',
      sloUrl: 'https://bitbucket.example/slo',
      certificates: [cert],
      authnRequestsSigned: false,
      wantAssertionsSigned: false,
      organizationName: 'B',
      organizationUrl: 'https://bitbucket.example',
    });
    const server = createServer((req, res) => {
      res
        .writeHead(req.url === '/metadata.xml' ? 200 : 404, { 'content-type': 'application/xml' })
        .end(req.url === '/metadata.xml' ? served : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const fromUrl = await api('POST', '/api/apps', {
      name: 'Bitbucket',
      metadataUrl: `${base}/metadata.xml`,
      signAssertion: true,
    });
    t.equal(fromUrl.statusCode, 201, fromUrl.body);
    t.match(
      fromUrl.json(),
      { name: 'Bitbucket', entityId: 'https://bitbucket.example', wantAuthnRequestsSigned: false, signAssertion: true },
      'fields sent with the URL override the metadata',
    );
    const notFound = await api('POST', '/api/apps', { name: 'Missing', metadataUrl: `${base}/nothing.xml` });
    t.equal(notFound.statusCode, 400);
    t.match(notFound.json().error.details.fields, { metadataUrl: /HTTP 404/ });
  });

  t.test('read, change, metadata values, delete', async (t) => {
    const list = (await api('GET', '/api/apps')).json();
    t.same(
      list.apps.map((a: { name: string }) => a.name),
      ['Bitbucket', 'Confluence', 'Jira'],
    );
    t.match((await api('GET', `/api/apps/${jiraId}`)).json(), { id: jiraId, name: 'Jira' });

    const badPatch = await api('PATCH', `/api/apps/${jiraId}`, { acsUrls: [] });
    t.equal(badPatch.statusCode, 400);
    t.match(badPatch.json().error.details.fields, { acsUrls: /at least one/ });
    const patched = await api('PATCH', `/api/apps/${jiraId}`, {
      name: 'Jira Service Management',
      primaryIdpId: null,
      enabled: false,
    });
    t.equal(patched.statusCode, 200, patched.body);
    t.match(patched.json(), {
      name: 'Jira Service Management',
      primaryIdpId: null,
      enabled: false,
      acsUrls: ['https://jira.example/acs'],
    });
    t.match(await auditOf('app.updated'), [{ appId: jiraId, details: { changed: ['name', 'primaryIdpId'] } }]);
    t.match(await auditOf('app.disabled'), [{ appId: jiraId, actor: 'api-token:automation' }]);

    const meta = await api('GET', `/api/apps/${jiraId}/metadata`);
    t.equal(meta.statusCode, 200);
    const base = 'http://piedpipers.broker.test';
    t.same(meta.json(), {
      idpEntityId: `${base}/saml/idp/metadata`,
      ssoUrlRedirect: `${base}/saml/idp/sso`,
      ssoUrlPost: `${base}/saml/idp/sso`,
      sloUrl: `${base}/saml/idp/slo`,
      metadataUrl: `${base}/saml/idp/metadata`,
      certificatePem: (await pp.store.signingKeys.active())!.certificatePem,
      launchUrl: `${base}/apps/${jiraId}/launch`,
    });
  });

  t.test("another organisation's app ids are not found", async (t) => {
    const asHooli = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
      call('hooli', hooliToken, method, url, body);
    for (const [method, url, body] of [
      ['GET', `/api/apps/${jiraId}`],
      ['PATCH', `/api/apps/${jiraId}`, { name: 'Hijacked' }],
      ['DELETE', `/api/apps/${jiraId}`],
      ['GET', `/api/apps/${jiraId}/metadata`],
      ['GET', `/api/apps/${jiraId}/policy`],
      ['PUT', `/api/apps/${jiraId}/policy`, { rules: [] }],
      ['POST', `/api/apps/${jiraId}/policy/two-factor`, { enabled: true }],
    ] as const) {
      const res = await asHooli(method, url, body);
      t.equal(res.statusCode, 404, `${method} ${url}`);
      t.equal(res.json().error.code, 'app_not_found');
    }
    t.same((await asHooli('GET', '/api/apps')).json().apps, []);
    t.match(await pp.store.applications.findById(jiraId), { name: 'Jira Service Management', policy: [] }, 'untouched');
  });

  t.test('policy: read, replace (validated), the 2-factor switch', async (t) => {
    t.same((await api('GET', `/api/apps/${jiraId}/policy`)).json(), {
      appId: jiraId,
      valid: true,
      rules: [],
      twoFactor: false,
      rememberDeviceDays: 0,
    });

    const invalid = await api('PUT', `/api/apps/${jiraId}/policy`, {
      rules: [
        { id: 'ok', action: 'allow' },
        { id: 'x', action: 'explode' },
        { id: 'ok', action: 'deny' },
      ],
    });
    t.equal(invalid.statusCode, 400);
    t.equal(invalid.json().error.code, 'validation_failed');
    t.ok(invalid.json().error.details.fields['rules.1.action'], 'the bad field is named');
    const domain = await api('PUT', `/api/apps/${jiraId}/policy`, {
      rules: [
        { id: 'a', action: 'deny', conditions: { emailDomains: ['not a domain'] } },
        { id: 'a', action: 'allow' },
      ],
    });
    t.equal(domain.statusCode, 400);
    t.match(domain.json().error.details.fields, { 'rules.0.conditions.emailDomains.0': /domain/ });
    const dupId = await api('PUT', `/api/apps/${jiraId}/policy`, {
      rules: [
        { id: 'a', action: 'deny' },
        { id: 'a', action: 'allow' },
      ],
    });
    t.match(dupId.json().error.details.fields, { 'rules.1.id': /duplicate/ });
    const foreignIdp = await api('PUT', `/api/apps/${jiraId}/policy`, {
      rules: [{ id: 'hooli-only', action: 'allow', conditions: { idpIds: [hooliIdp.id] } }],
    });
    t.equal(foreignIdp.statusCode, 400);
    t.match(foreignIdp.json().error.details.fields, {
      'rules.0.conditions.idpIds': /not an identity provider of this organisation/,
    });
    t.same((await pp.store.applications.findById(jiraId))!.policy, [], 'nothing saved');

    const rules = [
      {
        id: 'contractors',
        name: 'No contractors',
        action: 'deny',
        conditions: { groups: ['contractors'] },
        message: 'Contractors use the other portal.',
      },
      { id: 'okta-totp', action: 'require_totp', conditions: { idpIds: [okta.id] }, freshFactor: true },
    ];
    const put = await api('PUT', `/api/apps/${jiraId}/policy`, { rules });
    t.equal(put.statusCode, 200, put.body);
    t.same(put.json(), {
      appId: jiraId,
      valid: true,
      rules: [{ ...rules[0] }, { ...rules[1] }],
      twoFactor: false,
      rememberDeviceDays: 0,
    });
    t.same((await pp.store.applications.findById(jiraId))!.policy, rules);

    const badDays = await api('POST', `/api/apps/${jiraId}/policy/two-factor`, {
      enabled: true,
      rememberDeviceDays: 1000,
    });
    t.equal(badDays.statusCode, 400);
    t.ok(badDays.json().error.details.fields.rememberDeviceDays);
    const on = await api('POST', `/api/apps/${jiraId}/policy/two-factor`, { enabled: true, rememberDeviceDays: 30 });
    t.equal(on.statusCode, 200, on.body);
    t.match(on.json(), { twoFactor: true, rememberDeviceDays: 30 });
    t.same(
      on.json().rules.map((r: { id: string }) => r.id),
      ['contractors', 'everyone-totp', 'okta-totp'],
      'deny rules stay in front of the 2-factor rule',
    );
    t.equal((await api('GET', '/api/apps')).json().apps.find((a: { id: string }) => a.id === jiraId).twoFactor, true);
    const off = await api('POST', `/api/apps/${jiraId}/policy/two-factor`, { enabled: false });
    t.same(
      off.json().rules.map((r: { id: string }) => r.id),
      ['contractors', 'okta-totp'],
    );
    // The manual clock does not move, so the audit rows are compared by what they say, not by their order.
    const rows = (await auditOf('policy.updated')).sort((a, b) =>
      String(a.details.change).localeCompare(String(b.details.change)),
    );
    t.match(rows, [
      { actor: 'api-token:automation', appId: jiraId, details: { change: 'rules', rules: 2, twoFactor: false } },
      { actor: 'api-token:automation', details: { change: 'two_factor_off', twoFactor: false, rules: 2 } },
      { actor: 'api-token:automation', details: { change: 'two_factor_on', twoFactor: true, rules: 3 } },
    ]);
    t.equal(rows.length, 3, 'failed attempts leave no audit row');
  });

  t.test('delete', async (t) => {
    const res = await api('DELETE', `/api/apps/${jiraId}`);
    t.equal(res.statusCode, 204);
    t.equal((await api('GET', `/api/apps/${jiraId}`)).statusCode, 404);
    t.equal((await api('DELETE', `/api/apps/${jiraId}`)).json().error.code, 'app_not_found');
    t.match(await auditOf('app.deleted'), [{ appId: jiraId, details: { name: 'Jira Service Management' } }]);
  });

  t.test('the OpenAPI document describes every route', async (t) => {
    const doc = (await call('piedpipers', null, 'GET', '/api/openapi.json')).json();
    for (const [path, methods] of Object.entries({
      '/api/apps': ['get', 'post'],
      '/api/apps/{id}': ['get', 'patch', 'delete'],
      '/api/apps/{id}/metadata': ['get'],
      '/api/apps/{id}/policy': ['get', 'put'],
      '/api/apps/{id}/policy/two-factor': ['post'],
    })) {
      for (const m of methods) t.ok(doc.paths[path]?.[m]?.summary, `${m.toUpperCase()} ${path}`);
    }
    t.ok(doc.paths['/api/apps'].post.requestBody, 'with its request body');
  });
});
