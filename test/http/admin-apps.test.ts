// Console "Apps": add from SP metadata (file) or by hand with errors shown next to the fields, edit, the
// Metadata panel an app admin copies into Jira, metadata download, enable/disable, delete; CSRF and other
// organisations refused; every change audited.
import t from 'tap';
import { SAML } from '@node-saml/node-saml';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { validateMetadata } from '../helpers/metadata-schema.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { parseIdpMetadata } from '../../src/orgs/remote/metadata-import.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';

const decode = (s: string) =>
  s
    .replace(/&#10;/g, '\n')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
/** The message shown under a field (the element with id="<field>-error"). */
const fieldError = (html: string, id: string) => {
  const m = new RegExp(`<div class="field-error" id="${id}-error">([^<]*)</div>`).exec(html);
  return m ? decode(m[1]) : null;
};
const inputValue = (html: string, id: string) =>
  decode(new RegExp(`id="${id}"[^>]*value="([^"]*)"`).exec(html)?.[1] ?? '');

t.test('admin console: apps', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers', { name: 'Pied Pipers' });
  const other = await signedInAdmin(ta, 'hooli');
  const pp = ta.ctx.store.forOrg(admin.orgId);
  const hooli = ta.ctx.store.forOrg(other.orgId);
  const idpCert = generateSigningCredential('okta').certificatePem;
  const okta = await saveIdentityProvider(pp, {
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://okta.example/sso',
    certificates: [idpCert],
  });
  const hooliIdp = await saveIdentityProvider(hooli, {
    name: 'Hooli IdP',
    entityId: 'https://idp.hooli.example',
    ssoUrl: 'https://idp.hooli.example/sso',
    certificates: [idpCert],
  });
  const spKey = generateSigningCredential('jira-sp');
  const spCert = spKey.certificatePem;
  const pemBody = (pem: string) => pem.replace(/-----[^-]+-----|\s+/g, '');
  const audit = async (type: string) =>
    (await pp.audit.list({ type })).map((e) => ({ actor: e.actor, appId: e.appId, details: e.details }));

  t.test('the empty list offers "Add app"', async (t) => {
    const res = await admin.get('/admin/apps');
    t.equal(res.statusCode, 200);
    t.match(res.body, /No apps yet/);
    t.match(res.body, /href="\/admin\/apps\/new"/);
    const form = await admin.get('/admin/apps/new');
    t.equal(form.statusCode, 200);
    t.match(form.body, /enctype="multipart\/form-data"/);
    t.match(
      form.body,
      /<option value="[^"]+">Okta<\/option>/,
      "the primary IdP selector lists the organisation's IdPs",
    );
    t.notMatch(form.body, /Hooli IdP/, 'and only those');
  });

  let jiraId = '';
  t.test('add from an uploaded SP metadata file, with a primary IdP', async (t) => {
    // Jira's SSO app as node-saml would describe itself.
    const sp = new SAML({
      issuer: 'https://jira.example.com/plugins/servlet/samlsso',
      callbackUrl: 'https://jira.example.com/plugins/servlet/samlconsumer',
      idpCert,
      logoutCallbackUrl: 'https://jira.example.com/slo',
      privateKey: spKey.privateKeyPem,
    } as never);
    const xml = sp.generateServiceProviderMetadata(null, spCert);

    const broken = await admin.upload(
      '/admin/apps/new/metadata',
      { name: 'Jira' },
      { metadataFile: { filename: 'jira.xml', content: '<md:EntityDescriptor' } },
    );
    t.equal(broken.statusCode, 400);
    t.match(fieldError(broken.body, 'import-metadataFile'), /not well-formed XML/);
    t.equal(inputValue(broken.body, 'import-name'), 'Jira', 'the name is kept');
    const nothing = await admin.upload('/admin/apps/new/metadata', { name: '' }, {});
    t.equal(nothing.statusCode, 400);
    t.match(fieldError(nothing.body, 'import-metadataUrl'), /metadata file is required/);
    t.match(fieldError(nothing.body, 'import-name'), /Name is required/);
    const privateUrl = await admin.upload(
      '/admin/apps/new/metadata',
      { name: 'Jira', metadataUrl: 'http://127.0.0.1:9/metadata.xml' },
      {},
    );
    t.equal(privateUrl.statusCode, 400);
    t.match(
      fieldError(privateUrl.body, 'import-metadataUrl'),
      /Metadata URL points into a private network/,
      "the URL is fetched with the operator's limits",
    );
    t.equal(inputValue(privateUrl.body, 'import-metadataUrl'), 'http://127.0.0.1:9/metadata.xml');
    t.equal((await pp.applications.list()).length, 0, 'nothing saved');

    const res = await admin.upload(
      '/admin/apps/new/metadata',
      { name: 'Jira', primaryIdpId: okta.id },
      { metadataFile: { filename: 'jira.xml', content: xml, contentType: 'text/xml' } },
    );
    t.equal(res.statusCode, 303, res.body.slice(0, 500));
    const [stored] = await pp.applications.list();
    t.equal(res.headers.location, `/admin/apps/${stored.id}?done=created`);
    t.match(stored, {
      name: 'Jira',
      entityId: 'https://jira.example.com/plugins/servlet/samlsso',
      acsUrls: ['https://jira.example.com/plugins/servlet/samlconsumer'],
      primaryIdpId: okta.id,
      signResponse: true,
      sloUrl: 'https://jira.example.com/slo',
    });
    t.equal(pemBody(stored.certificate!), pemBody(spCert), "the app's signing certificate comes from the metadata");
    t.equal(stored.wantAuthnRequestsSigned, true, 'so do its signed requests');
    jiraId = stored.id;
    t.same(await audit('app.created'), [
      {
        actor: admin.email,
        appId: stored.id,
        details: {
          name: 'Jira',
          entityId: stored.entityId,
          source: 'metadata',
          allowSha1: false,
          signedRequestsRequiredBy: 'metadata',
        },
      },
    ]);

    const again = await admin.upload(
      '/admin/apps/new/metadata',
      { name: 'Jira again' },
      { metadataFile: { filename: 'jira.xml', content: xml } },
    );
    t.equal(again.statusCode, 400);
    t.match(
      fieldError(again.body, 'import-metadataFile'),
      /Entity ID is already registered/,
      'a second app with the same entity ID is refused next to the file',
    );

    const list = await admin.get('/admin/apps');
    t.match(list.body, /<a href="\/admin\/apps\/[^"]+">Jira<\/a>/);
    t.match(list.body, /https:\/\/jira\.example\.com\/plugins\/servlet\/samlsso/);
    t.match(list.body, /<td>Okta<\/td>/, 'the primary IdP is shown');
    t.match(list.body, /2FA off/);
    t.match(list.body, /Enabled/);
  });

  let manualId = '';
  t.test('add by hand: every error next to its field, values kept, nothing saved; then corrected', async (t) => {
    const bad = {
      name: '',
      entityId: 'https://portal.example/sp',
      acsUrls: 'not a url\nhttps://portal.example/acs',
      sloUrl: 'ftp://portal.example/slo',
      wantAuthnRequestsSigned: 'on',
      certificate: '',
      nameIdFormat: 'persistent',
      'release.email': 'on',
      primaryIdpId: hooliIdp.id,
      defaultRelayState: '/portal',
    };
    const res = await admin.post('/admin/apps/new', bad);
    t.equal(res.statusCode, 400);
    t.match(fieldError(res.body, 'name'), /Name is required/);
    t.match(fieldError(res.body, 'acsUrls'), /ACS URL on line 1 is not a valid URL/);
    t.match(fieldError(res.body, 'sloUrl'), /http\(s\)/);
    t.match(fieldError(res.body, 'certificate'), /required to verify signed requests/);
    t.match(
      fieldError(res.body, 'primaryIdpId'),
      /not an identity provider of this organisation/,
      "another organisation's IdP cannot be chosen",
    );
    t.match(res.body, /id="name"[^>]*aria-describedby="name-error"/, 'the error is tied to its input');
    t.equal(inputValue(res.body, 'entityId'), 'https://portal.example/sp', 'submitted values are kept');
    t.match(res.body, /<textarea id="acsUrls"[^>]*>not a url\nhttps:\/\/portal\.example\/acs<\/textarea>/);
    t.match(res.body, /<option value="persistent" selected>/);
    t.equal((await pp.applications.list()).length, 1, 'nothing saved');

    const ok = await admin.post('/admin/apps/new', {
      ...bad,
      name: 'Customer portal',
      sloUrl: 'https://portal.example/slo',
      certificate: spCert,
      primaryIdpId: okta.id,
      signResponse: 'on',
      signAssertion: 'on',
      'release.groups': 'on',
      acsUrls: 'https://portal.example/acs\nhttps://portal.example/acs2',
    });
    t.equal(ok.statusCode, 303, ok.body.slice(0, 300));
    const stored = (await pp.applications.findByEntityId('https://portal.example/sp'))!;
    manualId = stored.id;
    t.equal(ok.headers.location, `/admin/apps/${stored.id}?done=created`);
    t.match(stored, {
      name: 'Customer portal',
      acsUrls: ['https://portal.example/acs', 'https://portal.example/acs2'],
      sloUrl: 'https://portal.example/slo',
      wantAuthnRequestsSigned: true,
      signResponse: true,
      signAssertion: true,
      encryptAssertion: false,
      nameIdFormat: 'persistent',
      attributeRelease: ['email', 'groups'],
      defaultRelayState: '/portal',
      primaryIdpId: okta.id,
    });

    const dup = await admin.post('/admin/apps/new', {
      ...bad,
      name: 'Copy',
      certificate: spCert,
      primaryIdpId: '',
      sloUrl: '',
      acsUrls: 'https://x.example/acs',
    });
    t.equal(dup.statusCode, 400);
    t.match(fieldError(dup.body, 'entityId'), /already registered/);
  });

  t.test(
    "app page: the Metadata panel has what Jira needs; the download is the organisation's IdP metadata",
    async (t) => {
      const res = await admin.get(`/admin/apps/${jiraId}?done=created`);
      t.equal(res.statusCode, 200);
      t.match(res.body, /Created\./);
      const base = 'http://piedpipers.broker.test';
      t.match(res.body, `${base}/saml/idp/metadata`);
      t.match(res.body, /SSO URL \(HTTP-Redirect\)<\/dt><dd>http:\/\/piedpipers\.broker\.test\/saml\/idp\/sso/);
      t.match(res.body, /SSO URL \(HTTP-POST\)<\/dt><dd>http:\/\/piedpipers\.broker\.test\/saml\/idp\/sso/);
      t.match(res.body, `${base}/saml/idp/slo`);
      const activeCert = (await pp.signingKeys.active())!.certificatePem;
      const textarea = /<textarea id="signing-certificate"[^>]*readonly[^>]*>([^<]*)<\/textarea>/.exec(res.body);
      t.equal(pemBody(decode(textarea?.[1] ?? '')), pemBody(activeCert), 'the active signing certificate, read-only');
      t.match(
        res.body,
        /<button type="button" class="small secondary" data-copy="-----BEGIN CERTIFICATE-----/,
        'with a copy button',
      );
      const launch = `${base}/apps/${jiraId}/launch`;
      t.match(res.body, `data-copy="${launch}"`, 'the launch URL can be copied');
      t.match(res.body, `<a class="button" href="${launch}" target="_blank" rel="noopener">Test login</a>`);
      t.match(res.body, `href="/admin/apps/${jiraId}/metadata.xml"`);

      const dl = await admin.get(`/admin/apps/${jiraId}/metadata.xml`);
      t.equal(dl.statusCode, 200);
      t.match(dl.headers['content-disposition'], /^attachment; filename="piedpipers-idp-metadata\.xml"$/);
      t.match(dl.headers['content-type'], /application\/samlmetadata\+xml/);
      t.doesNotThrow(() => validateMetadata(dl.body), 'valid against the SAML metadata schema');
      const parsed = parseIdpMetadata(dl.body);
      t.equal(parsed.entityId, `${base}/saml/idp/metadata`);
      t.equal(parsed.ssoUrl, `${base}/saml/idp/sso`);
      t.same(parsed.certificates.map(pemBody), [pemBody(activeCert)]);

      const launched = await ta.request('piedpipers', { method: 'GET', url: `/apps/${jiraId}/launch` });
      t.equal(launched.statusCode, 302, 'the launch URL starts a login (to the primary IdP)');
      t.match(launched.headers.location, /^https:\/\/okta\.example\/sso\?SAMLRequest=/);
    },
  );

  t.test('edit: errors next to fields and nothing saved; then saved and audited', async (t) => {
    const current = (await pp.applications.findById(manualId))!;
    const form = {
      name: 'Customer portal',
      entityId: current.entityId,
      acsUrls: current.acsUrls.join('\n'),
      sloUrl: current.sloUrl!,
      certificate: '',
      wantAuthnRequestsSigned: 'on',
      signResponse: 'on',
      nameIdFormat: 'emailAddress',
      'release.email': 'on',
      defaultRelayState: '',
      primaryIdpId: '',
    };
    const bad = await admin.post(`/admin/apps/${manualId}`, form);
    t.equal(bad.statusCode, 400);
    t.match(
      fieldError(bad.body, 'certificate'),
      /required to verify signed requests/,
      'clearing the certificate while requests must be signed is refused',
    );
    t.match((await pp.applications.findById(manualId))!.certificate, /BEGIN CERTIFICATE/, 'nothing saved');

    const ok = await admin.post(`/admin/apps/${manualId}`, { ...form, name: 'Portal', wantAuthnRequestsSigned: '' });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, `/admin/apps/${manualId}?done=saved`);
    const saved = (await pp.applications.findById(manualId))!;
    t.match(saved, {
      name: 'Portal',
      certificate: null,
      wantAuthnRequestsSigned: false,
      signAssertion: false,
      nameIdFormat: 'emailAddress',
      attributeRelease: ['email'],
      defaultRelayState: null,
      primaryIdpId: null,
    });
    const [updated] = await audit('app.updated');
    t.equal(updated.actor, admin.email);
    t.same(
      new Set(updated.details.changed as string[]),
      new Set([
        'name',
        'certificate',
        'wantAuthnRequestsSigned',
        'signAssertion',
        'nameIdFormat',
        'attributeRelease',
        'defaultRelayState',
        'primaryIdpId',
      ]),
    );
    t.match((await admin.get('/admin/apps')).body, /<td>User chooses<\/td>/, 'no primary IdP: the user chooses');
  });

  t.test('disable and enable', async (t) => {
    const off = await admin.post(`/admin/apps/${manualId}/enabled`, { enabled: 'false' });
    t.equal(off.statusCode, 303);
    t.equal(off.headers.location, `/admin/apps/${manualId}?done=disabled`);
    t.equal((await pp.applications.findById(manualId))!.enabled, false);
    const page = await admin.get(`/admin/apps/${manualId}`);
    t.match(page.body, /Disabled/);
    t.notMatch(page.body, /Test login/, 'no test login for a disabled app');
    t.equal(
      (await ta.request('piedpipers', { method: 'GET', url: `/apps/${manualId}/launch` })).statusCode,
      404,
      'its launch URL stops working',
    );
    const on = await admin.post(`/admin/apps/${manualId}/enabled`, { enabled: 'true' });
    t.equal(on.headers.location, `/admin/apps/${manualId}?done=enabled`);
    t.equal((await pp.applications.findById(manualId))!.enabled, true);
    t.same(
      (await audit('app.disabled')).map((e) => e.appId),
      [manualId],
    );
    t.same(
      (await audit('app.enabled')).map((e) => e.appId),
      [manualId],
    );
  });

  t.test("another organisation's app is not found, whatever the action", async (t) => {
    for (const url of [`/admin/apps/${jiraId}`, `/admin/apps/${jiraId}/metadata.xml`, `/admin/apps/${jiraId}/delete`]) {
      const res = await other.get(url);
      t.equal(res.statusCode, 404, url);
      t.notMatch(res.body, /samlsso/);
    }
    t.equal(
      (
        await other.post(`/admin/apps/${jiraId}`, {
          name: 'Hijacked',
          entityId: 'x',
          acsUrls: 'https://evil.example/acs',
        })
      ).statusCode,
      404,
    );
    t.equal((await other.post(`/admin/apps/${jiraId}/enabled`, { enabled: 'false' })).statusCode, 404);
    t.equal((await other.post(`/admin/apps/${jiraId}/delete`)).statusCode, 404);
    t.match((await pp.applications.findById(jiraId))!, { name: 'Jira', enabled: true }, 'untouched');
    t.notMatch((await other.get('/admin/apps')).body, />Jira</, 'not listed either');
  });

  t.test("every POST needs the session's CSRF token", async (t) => {
    for (const [url, form] of [
      [`/admin/apps/${jiraId}/delete`, {}],
      [`/admin/apps/${jiraId}/enabled`, { enabled: 'false' }],
      ['/admin/apps/new', { name: 'X', entityId: 'https://x.example', acsUrls: 'https://x.example/acs' }],
    ] as const) {
      const res = await admin.post(url, { ...form, _csrf: 'forged' });
      t.equal(res.statusCode, 403, url);
    }
    t.equal((await pp.applications.list()).length, 2, 'nothing created or deleted');
    t.equal((await pp.applications.findById(jiraId))!.enabled, true);
  });

  t.test('delete asks first, then removes the app; audited', async (t) => {
    const confirm = await admin.get(`/admin/apps/${manualId}/delete`);
    t.equal(confirm.statusCode, 200);
    t.match(confirm.body, /Delete “Portal”\?/);
    t.match(confirm.body, new RegExp(`<form method="post" action="/admin/apps/${manualId}/delete"`));
    t.ok(await pp.applications.findById(manualId), 'the confirmation page deletes nothing');
    const res = await admin.post(`/admin/apps/${manualId}/delete`);
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/apps?done=deleted');
    t.equal(await pp.applications.findById(manualId), null);
    t.same(await audit('app.deleted'), [
      { actor: admin.email, appId: manualId, details: { name: 'Portal', entityId: 'https://portal.example/sp' } },
    ]);
    t.equal((await admin.get(`/admin/apps/${manualId}`)).statusCode, 404);
    t.match((await admin.get('/admin/apps?done=deleted')).body, /Deleted\./);
  });
});
