// Console section "Identity providers" through HTTP: add from a metadata file, by hand (a field error, then
// corrected) and from a metadata URL served on 127.0.0.1; edit, disable, delete (with what it touches); another
// organisation's ids and forms without the CSRF token are refused.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential, normaliseCertificate } from '../../src/saml/certificates.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { createTestApp } from '../helpers/app.ts';

const credential = generateSigningCredential('okta-test');
const nextCredential = generateSigningCredential('okta-test-next');
const metadataOf = (entityId: string, extra: { validUntil?: string } = {}) => {
  const xml = idpMetadata({
    entityId,
    ssoUrl: `${entityId}/sso`,
    sloUrl: `${entityId}/slo`,
    certificates: [credential.certificatePem],
    organizationName: 'Okta',
    organizationUrl: 'https://okta.example',
  });
  return extra.validUntil
    ? xml.replace('<md:EntityDescriptor ', `<md:EntityDescriptor validUntil="${extra.validUntil}" `)
    : xml;
};
const errorFor = (html: string, id: string) => new RegExp(`id="${id}-error">([^<]*)<`).exec(html)?.[1] ?? null;

t.test('console: identity providers', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const other = await signedInAdmin(ta, 'hooli');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const otherStore = ta.ctx.store.forOrg(other.orgId);

  t.test('the empty list offers to add one', async (t) => {
    const res = await admin.get('/admin/idps');
    t.equal(res.statusCode, 200);
    t.match(res.body, /href="\/admin\/idps\/new"[^>]*>Add identity provider/);
    const add = await admin.get('/admin/idps/new');
    t.equal(add.statusCode, 200);
    t.match(add.body, /action="\/admin\/idps\/new\/url"/);
    t.match(add.body, /action="\/admin\/idps\/new\/file" enctype="multipart\/form-data"/);
    t.match(add.body, /action="\/admin\/idps\/new\/manual"/);
    t.match(
      add.body,
      /data-copy="http:\/\/piedpipers\.broker\.test\/saml\/sp\/acs"/,
      'the values for the IdP come first, with copy buttons',
    );
  });

  t.test('add from an uploaded metadata file', async (t) => {
    const broken = await admin.upload(
      '/admin/idps/new/file',
      { name: 'Okta' },
      {
        metadataFile: {
          filename: 'okta.xml',
          content: '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"',
        },
      },
    );
    t.equal(broken.statusCode, 400);
    t.match(errorFor(broken.body, 'file-metadataFile'), /not well-formed XML/);
    t.match(broken.body, /id="file-name" name="name" value="Okta"/, 'the name typed is kept');
    t.equal((await store.identityProviders.list()).length, 0, 'nothing saved');

    const res = await admin.upload(
      '/admin/idps/new/file',
      { name: 'Okta', mappingPreset: 'okta' },
      {
        metadataFile: {
          filename: 'okta.xml',
          content: metadataOf('https://okta.example/file'),
          contentType: 'application/xml',
        },
      },
    );
    t.equal(res.statusCode, 303);
    const id = /^\/admin\/idps\/([\w-]+)\?done=created$/.exec(res.headers.location as string)?.[1];
    t.ok(id);
    const idp = (await store.identityProviders.findById(id!))!;
    t.match(idp, {
      name: 'Okta',
      entityId: 'https://okta.example/file',
      ssoUrl: 'https://okta.example/file/sso',
      sloUrl: 'https://okta.example/file/slo',
      metadataUrl: null,
      mappingPreset: 'okta',
    });
    t.same(idp.certificates, [normaliseCertificate(credential.certificatePem)]);
    t.ok(idp.metadataXml?.includes('https://okta.example/file'), 'the document is kept');
    const audit = await store.audit.list({ type: 'idp.created' });
    t.match(audit[0], { actor: admin.email, idpId: id });

    const list = await admin.get('/admin/idps?done=created');
    t.match(list.body, /Created\./);
    t.match(list.body, /https:\/\/okta\.example\/file/);
    t.match(list.body, /Metadata file/);
    t.match(list.body, /badge ok">Enabled/);

    const again = await admin.upload(
      '/admin/idps/new/file',
      { name: 'Okta again' },
      { metadataFile: { filename: 'okta.xml', content: metadataOf('https://okta.example/file') } },
    );
    t.equal(again.statusCode, 400);
    t.match(
      errorFor(again.body, 'file-metadataFile'),
      /already registered/,
      'a duplicate entity ID is shown next to the file field',
    );
  });

  t.test('add by hand: errors next to the fields, nothing saved, then corrected', async (t) => {
    const form = {
      name: 'WSO2',
      entityId: 'https://wso2.example/idp',
      ssoUrl: 'not a url',
      ssoBinding: 'post',
      certificates: 'this is not a certificate',
      mappingPreset: 'wso2',
      'map.email': 'mail',
      signRequests: 'on',
      wantAssertionSigned: 'on',
    };
    const bad = await admin.post('/admin/idps/new/manual', form);
    t.equal(bad.statusCode, 400);
    t.match(errorFor(bad.body, 'manual-ssoUrl'), /SSO URL is not a valid URL/);
    t.match(errorFor(bad.body, 'manual-certificates'), /not an X\.509 certificate/);
    t.match(bad.body, /aria-describedby="manual-ssoUrl-hint manual-ssoUrl-error"/);
    t.match(bad.body, /id="manual-name" name="name" value="WSO2"/, 'values are kept');
    t.match(bad.body, /id="manual-map-email" name="map.email" value="mail"/);
    t.notOk(await store.identityProviders.findByEntityId('https://wso2.example/idp'), 'nothing saved');

    const ok = await admin.post('/admin/idps/new/manual', {
      ...form,
      ssoUrl: 'https://wso2.example/samlsso',
      certificates: `${credential.certificatePem}\n${nextCredential.certificatePem}`,
    });
    t.equal(ok.statusCode, 303);
    const idp = (await store.identityProviders.findByEntityId('https://wso2.example/idp'))!;
    t.match(idp, {
      name: 'WSO2',
      ssoBinding: 'post',
      signRequests: true,
      wantAssertionSigned: true,
      wantResponseSigned: false,
      mappingPreset: 'wso2',
      metadataXml: null,
    });
    t.same(idp.attributeMapping, { email: 'mail' });
    t.equal(idp.certificates.length, 2, 'both certificates of a rollover are kept');
  });

  t.test('a metadata URL inside a private network is refused by default', async (t) => {
    const res = await admin.post('/admin/idps/new/url', { name: 'Local', metadataUrl: 'http://127.0.0.1:9/metadata' });
    t.equal(res.statusCode, 400);
    t.match(errorFor(res.body, 'url-metadataUrl'), /private network/);
  });

  t.test('edit, show the SP values, disable and enable', async (t) => {
    const idp = (await store.identityProviders.findByEntityId('https://wso2.example/idp'))!;
    const page = await admin.get(`/admin/idps/${idp.id}`);
    t.equal(page.statusCode, 200);
    for (const url of ['http://piedpipers.broker.test/saml/sp/metadata', 'http://piedpipers.broker.test/saml/sp/acs'])
      t.match(page.body, `data-copy="${url}"`);
    t.match(page.body, /action="\/admin\/idps\/[\w-]+\/test" target="_blank"/);
    t.match(page.body, /id="edit-entityId" name="entityId" value="https:\/\/wso2\.example\/idp"/);

    const fields = {
      name: 'WSO2 production',
      entityId: idp.entityId,
      ssoUrl: idp.ssoUrl,
      ssoBinding: 'post',
      certificates: idp.certificates.join('\n'),
      mappingPreset: 'custom',
      'map.email': 'mail',
      'map.groups': 'roles',
      wantResponseSigned: 'on',
      wantAssertionSigned: 'on',
    };
    const bad = await admin.post(`/admin/idps/${idp.id}`, {
      ...fields,
      entityId: '',
      wantResponseSigned: '',
      wantAssertionSigned: '',
    });
    t.equal(bad.statusCode, 400);
    t.match(errorFor(bad.body, 'edit-entityId'), /Entity ID is required/);
    t.match(errorFor(bad.body, 'edit-wantAssertionSigned'), /must be signed/);
    t.equal((await store.identityProviders.findById(idp.id))!.name, 'WSO2', 'nothing saved');

    const saved = await admin.post(`/admin/idps/${idp.id}`, fields);
    t.equal(saved.statusCode, 303);
    t.equal(saved.headers.location, `/admin/idps/${idp.id}?done=saved`);
    const after = (await store.identityProviders.findById(idp.id))!;
    t.match(after, { name: 'WSO2 production', mappingPreset: 'custom', wantResponseSigned: true, signRequests: false });
    t.same(after.attributeMapping, { email: 'mail', groups: 'roles' });
    t.match((await store.audit.list({ type: 'idp.updated' }))[0].details, {
      changed: ['name', 'signRequests', 'wantResponseSigned', 'mappingPreset', 'attributeMapping'],
    });

    const off = await admin.post(`/admin/idps/${idp.id}/enabled`, { enabled: 'false' });
    t.equal(off.headers.location, `/admin/idps/${idp.id}?done=disabled`);
    t.equal((await store.identityProviders.findById(idp.id))!.enabled, false);
    t.match((await admin.get(`/admin/idps/${idp.id}?done=disabled`)).body, /badge off">Disabled/);
    await admin.post(`/admin/idps/${idp.id}/enabled`, { enabled: 'true' });
    t.equal((await store.identityProviders.findById(idp.id))!.enabled, true);
    t.equal((await store.audit.list({ type: 'idp.disabled' })).length, 1);
    t.equal((await store.audit.list({ type: 'idp.enabled' })).length, 1);
  });

  t.test('delete: confirmation shows what it touches; apps, links and sessions follow in one step', async (t) => {
    const idp = (await store.identityProviders.findByEntityId('https://okta.example/file'))!;
    const app = await saveApplication(store, {
      name: 'Jira',
      entityId: 'https://jira.example/sp',
      acsUrls: ['https://jira.example/acs'],
      primaryIdpId: idp.id,
    });
    const user = await store.users.create({ email: 'ann@customer.example' });
    await store.users.link(user.id, idp.id, 'ann@customer.example');
    await store.sessions.create({
      id: 'session-hash',
      userId: user.id,
      idpId: idp.id,
      nameId: 'ann@customer.example',
      expiresAt: new Date(ta.clock.now().getTime() + 3600_000),
    });

    const confirm = await admin.get(`/admin/idps/${idp.id}/delete`);
    t.equal(confirm.statusCode, 200);
    t.match(confirm.body, /Jira/);
    t.match(confirm.body, /1 user is linked/);
    t.ok(await store.identityProviders.findById(idp.id), 'the confirmation page deletes nothing');

    const res = await admin.post(`/admin/idps/${idp.id}/delete`);
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/idps?done=deleted');
    t.notOk(await store.identityProviders.findById(idp.id));
    t.equal((await store.applications.findById(app.id))!.primaryIdpId, null, 'the app falls back to the chooser');
    t.notOk(await store.users.findByIdentity(idp.id, 'ann@customer.example'), 'the identity link is gone');
    t.ok(await store.users.findById(user.id), 'the user stays');
    t.notOk(await store.sessions.findActive('session-hash', ta.clock.now()), 'its broker session ended');
    const audit = (await store.audit.list({ type: 'idp.deleted' }))[0];
    t.match(audit, { actor: admin.email, idpId: idp.id });
    t.match(audit.details, {
      primaryClearedFor: [{ id: app.id, name: 'Jira' }],
      identityLinksRemoved: 1,
      sessionsEnded: 1,
    });
  });

  t.test("another organisation's identity providers are not found; forms need the CSRF token", async (t) => {
    const theirs = await saveIdentityProvider(otherStore, {
      name: 'Hooli IdP',
      entityId: 'https://hooli.example/idp',
      ssoUrl: 'https://hooli.example/sso',
      certificates: [credential.certificatePem],
    });
    t.equal((await admin.get(`/admin/idps/${theirs.id}`)).statusCode, 404);
    t.equal((await admin.get(`/admin/idps/${theirs.id}/delete`)).statusCode, 404);
    t.equal(
      (
        await admin.post(`/admin/idps/${theirs.id}`, {
          name: 'Taken over',
          entityId: theirs.entityId,
          ssoUrl: theirs.ssoUrl,
          certificates: credential.certificatePem,
          wantAssertionSigned: 'on',
        })
      ).statusCode,
      404,
    );
    t.equal((await admin.post(`/admin/idps/${theirs.id}/enabled`, { enabled: 'false' })).statusCode, 404);
    t.equal((await admin.post(`/admin/idps/${theirs.id}/delete`)).statusCode, 404);
    t.equal((await admin.post(`/admin/idps/${theirs.id}/test`)).statusCode, 404);
    t.match(
      (await otherStore.identityProviders.findById(theirs.id))!,
      { name: 'Hooli IdP', enabled: true },
      'unchanged',
    );
    t.notMatch((await admin.get('/admin/idps')).body, /Hooli IdP/);

    const noCsrf = await admin.post('/admin/idps/new/manual', {
      _csrf: '',
      name: 'X',
      entityId: 'https://x.example',
      ssoUrl: 'https://x.example/sso',
      certificates: credential.certificatePem,
      wantAssertionSigned: 'on',
    });
    t.equal(noCsrf.statusCode, 403);
    const otherCsrf = await admin.post('/admin/idps/new/manual', {
      _csrf: other.csrf,
      name: 'X',
      entityId: 'https://x.example',
      ssoUrl: 'https://x.example/sso',
      certificates: credential.certificatePem,
      wantAssertionSigned: 'on',
    });
    t.equal(otherCsrf.statusCode, 403, "another session's token does not do");
    t.notOk(await store.identityProviders.findByEntityId('https://x.example'));
    const mine = (await store.identityProviders.list())[0];
    t.equal((await admin.post(`/admin/idps/${mine.id}/delete`, { _csrf: 'wrong' })).statusCode, 403);
    t.ok(await store.identityProviders.findById(mine.id));
  });
});

t.test('console: add from a metadata URL (private addresses allowed for this test)', async (t) => {
  const ta = await createTestApp({ env: { METADATA_ALLOW_PRIVATE: 'true' } });
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const validUntil = new Date(ta.clock.now().getTime() + 7 * 86400_000).toISOString();
  let served = metadataOf('https://okta.example/url', { validUntil });
  const server: Server = createServer((req, res) => {
    if (req.url === '/app/metadata') res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(served);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const notFound = await admin.post('/admin/idps/new/url', { name: 'Okta', metadataUrl: `${base}/nothing` });
  t.equal(notFound.statusCode, 400);
  t.match(errorFor(notFound.body, 'url-metadataUrl'), /HTTP 404/);

  const badCert = await admin.post('/admin/idps/new/url', {
    name: 'Okta',
    metadataUrl: `${base}/app/metadata`,
    metadataSigningCertificate: 'nonsense',
  });
  t.equal(badCert.statusCode, 400);
  t.match(errorFor(badCert.body, 'url-metadataSigningCertificate'), /not an X\.509 certificate/);

  const unsigned = await admin.post('/admin/idps/new/url', {
    name: 'Okta',
    metadataUrl: `${base}/app/metadata`,
    metadataSigningCertificate: credential.certificatePem,
  });
  t.equal(unsigned.statusCode, 400);
  t.match(errorFor(unsigned.body, 'url-metadataUrl'), /not signed/, 'a signing certificate requires signed metadata');

  served = metadataOf('https://okta.example/url', {
    validUntil: new Date(ta.clock.now().getTime() - 1000).toISOString(),
  });
  const expired = await admin.post('/admin/idps/new/url', { name: 'Okta', metadataUrl: `${base}/app/metadata` });
  t.equal(expired.statusCode, 400);
  t.match(errorFor(expired.body, 'url-metadataUrl'), /expired/);
  t.equal((await store.identityProviders.list()).length, 0, 'nothing saved by the failures');

  served = metadataOf('https://okta.example/url', { validUntil });
  const res = await admin.post('/admin/idps/new/url', {
    name: 'Okta',
    metadataUrl: `${base}/app/metadata`,
    mappingPreset: 'okta',
  });
  t.equal(res.statusCode, 303);
  const idp = (await store.identityProviders.findByEntityId('https://okta.example/url'))!;
  t.match(idp, {
    name: 'Okta',
    metadataUrl: `${base}/app/metadata`,
    metadataRefreshAt: null,
    metadataSigningCertificate: null,
    ssoUrl: 'https://okta.example/url/sso',
  });
  t.equal(idp.metadataFetchedAt?.toISOString(), ta.clock.now().toISOString());
  t.equal(idp.metadataValidUntil?.toISOString(), validUntil);
  t.equal(idp.metadataXml, served);
  const list = await admin.get('/admin/idps');
  t.match(list.body, /Metadata URL/);
  t.match(list.body, new RegExp(`datetime="${ta.clock.now().toISOString()}"`));

  // Refresh now: the IdP moved its SSO endpoint; then its metadata URL breaks and the last good copy stays.
  served = metadataOf('https://okta.example/url', { validUntil }).replaceAll(
    'https://okta.example/url/sso',
    'https://okta.example/url/sso2',
  );
  const refreshed = await admin.post(`/admin/idps/${idp.id}/refresh`);
  t.equal(refreshed.headers.location, `/admin/idps/${idp.id}?done=metadata-refreshed`);
  t.equal((await store.identityProviders.findById(idp.id))!.ssoUrl, 'https://okta.example/url/sso2');
  served = 'not metadata';
  const failed = await admin.post(`/admin/idps/${idp.id}/refresh`);
  t.equal(failed.headers.location, `/admin/idps/${idp.id}?done=metadata-refresh-failed`);
  const after = (await store.identityProviders.findById(idp.id))!;
  t.equal(after.ssoUrl, 'https://okta.example/url/sso2', 'the previous copy stays in use');
  const page = await admin.get(failed.headers.location as string);
  t.match(page.body, /could not be refreshed/);
  t.match(page.body, /The last refresh failed: The metadata is not well-formed XML/);
});
