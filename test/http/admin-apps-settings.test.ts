// Apps: the legacy RSA-SHA1 switch (off by default; console and API; each change audited with its old and new
// value) and the reason signed AuthnRequests are required, shown on the app's page: the app's metadata said
// AuthnRequestsSigned="true", or an admin set it; with the way to change it.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { saveApplication } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { spMetadata } from '../../src/saml/metadata.ts';

const spCert = generateSigningCredential('sp').certificatePem;
const metadataOf = (entityId: string, authnRequestsSigned: boolean) =>
  spMetadata({
    entityId,
    acsUrl: `${entityId}/acs`,
    sloUrl: `${entityId}/slo`,
    certificates: [spCert],
    authnRequestsSigned,
    wantAssertionsSigned: false,
    organizationName: 'SP',
    organizationUrl: entityId,
  });
const checked = (html: string, name: string) =>
  new RegExp(`<input type="checkbox" name="${name}" value="on" checked`).test(html);
const reason = (html: string) =>
  /id="signed-requests-reason">([\s\S]*?)<\/div>/
    .exec(html)?.[1]
    .replace(/<[^>]+>/g, '')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'") ?? null;
const form = (entityId: string, extra: Record<string, string> = {}) => ({
  name: 'Legacy',
  entityId,
  acsUrls: `${entityId}/acs`,
  nameIdFormat: 'emailAddress',
  signResponse: 'on',
  'release.email': 'on',
  ...extra,
});

t.test('apps: RSA-SHA1 switch and the reason for signed requests', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const token = await admin.apiToken();
  const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload !== undefined && { payload: payload as object }),
    });

  t.test('console: off by default, labelled as a legacy switch; toggling it is audited', async (t) => {
    const page = await admin.get('/admin/apps/new');
    t.match(
      page.body,
      /Accept RSA-SHA1 signatures on this app's requests \(pysaml2's default and many older SP libraries\)/,
    );
    t.notOk(checked(page.body, 'allowSha1'));
    t.equal((await admin.post('/admin/apps/new', form('https://legacy.example'))).statusCode, 303);
    const app = (await store.applications.findByEntityId('https://legacy.example'))!;
    t.equal(app.allowSha1, false);
    t.match((await store.audit.list({ type: 'app.created' }))[0].details, { allowSha1: false, source: 'manual' });

    t.equal((await admin.post(`/admin/apps/${app.id}`, form(app.entityId, { allowSha1: 'on' }))).statusCode, 303);
    t.equal((await store.applications.findById(app.id))!.allowSha1, true);
    const on = (await store.audit.list({ type: 'app.updated' }))[0];
    t.match(on, {
      actor: admin.email,
      appId: app.id,
      details: { changed: ['allowSha1'], changes: { allowSha1: { from: false, to: true } } },
    });
    const shown = await admin.get(`/admin/apps/${app.id}`);
    t.ok(checked(shown.body, 'allowSha1'));
    t.match(shown.body, /RSA-SHA1 accepted/);

    await admin.post(`/admin/apps/${app.id}`, form(app.entityId));
    t.equal((await store.applications.findById(app.id))!.allowSha1, false);
    t.match((await store.audit.list({ type: 'app.updated' }))[0].details, {
      changes: { allowSha1: { from: true, to: false } },
    });
  });

  t.test('API: allowSha1 on create and PATCH, audited; a non-boolean is refused', async (t) => {
    const created = await api('POST', '/api/apps', {
      name: 'pysaml2',
      entityId: 'https://pysaml2.example',
      acsUrls: ['https://pysaml2.example/acs'],
    });
    t.equal(created.statusCode, 201);
    t.equal(created.json().allowSha1, false, 'off by default');
    const id = created.json().id;
    t.equal((await api('PATCH', `/api/apps/${id}`, { allowSha1: 'yes' })).statusCode, 400);
    const patched = await api('PATCH', `/api/apps/${id}`, { allowSha1: true });
    t.equal(patched.statusCode, 200);
    t.equal(patched.json().allowSha1, true);
    t.match((await store.audit.list({ type: 'app.updated', appId: id }))[0], {
      actor: 'api-token:test token',
      details: { changes: { allowSha1: { from: false, to: true } } },
    });
    t.equal((await api('PATCH', `/api/apps/${id}`, { allowSha1: true })).statusCode, 200);
    t.equal((await store.audit.list({ type: 'app.updated', appId: id })).length, 1, 'no change, no audit line');
    const doc = (await api('GET', '/api/openapi.json')).json();
    t.match(
      doc.paths['/api/apps'].post.requestBody.content['application/json'].schema.properties.allowSha1.description,
      /RSA-SHA1/,
    );
  });

  t.test(
    'registered from metadata with AuthnRequestsSigned="true": required, and the page says why and how to change it',
    async (t) => {
      const res = await admin.upload(
        '/admin/apps/new/metadata',
        { name: 'Signed SP' },
        { metadataFile: { filename: 'sp.xml', content: metadataOf('https://signed.example', true) } },
      );
      t.equal(res.statusCode, 303);
      const app = (await store.applications.findByEntityId('https://signed.example'))!;
      t.equal(app.wantAuthnRequestsSigned, true);
      t.match((await store.audit.list({ type: 'app.created', appId: app.id }))[0].details, {
        source: 'metadata',
        signedRequestsRequiredBy: 'metadata',
      });
      const page = await admin.get(`/admin/apps/${app.id}`);
      t.ok(checked(page.body, 'wantAuthnRequestsSigned'));
      t.match(
        reason(page.body),
        /Signed requests are required because the app's metadata says AuthnRequestsSigned="true"/,
      );
      t.match(reason(page.body), /untick this box and save/);
      t.match(page.body, /Signed AuthnRequests: <span class="badge ok">required<\/span>/);

      // The API's metadata path records the same reason.
      const byApi = await api('POST', '/api/apps', {
        name: 'Signed by API',
        metadataXml: metadataOf('https://signed-api.example', true),
      });
      t.equal(byApi.json().wantAuthnRequestsSigned, true);
      t.match(
        (await admin.get(`/admin/apps/${byApi.json().id}`)).body,
        /because the app(&#39;|')s metadata says AuthnRequestsSigned/,
      );
    },
  );

  t.test('metadata without AuthnRequestsSigned: not required, no reason shown; an admin then sets it', async (t) => {
    const res = await admin.upload(
      '/admin/apps/new/metadata',
      { name: 'Plain SP' },
      { metadataFile: { filename: 'sp.xml', content: metadataOf('https://plain.example', false) } },
    );
    t.equal(res.statusCode, 303);
    const app = (await store.applications.findByEntityId('https://plain.example'))!;
    t.equal(app.wantAuthnRequestsSigned, false);
    t.equal(reason((await admin.get(`/admin/apps/${app.id}`)).body), null);

    await admin.post(
      `/admin/apps/${app.id}`,
      form(app.entityId, { name: 'Plain SP', certificate: spCert, wantAuthnRequestsSigned: 'on' }),
    );
    t.equal((await store.applications.findById(app.id))!.wantAuthnRequestsSigned, true);
    t.match(
      reason((await admin.get(`/admin/apps/${app.id}`)).body),
      new RegExp(`because it was set by an admin \\(${admin.email.replace('.', '\\.')}\\)`),
    );
  });

  t.test(
    'set by hand at registration: "set by an admin"; an app from before the reason was recorded: no claim',
    async (t) => {
      await admin.post(
        '/admin/apps/new',
        form('https://manual-signed.example', { certificate: spCert, wantAuthnRequestsSigned: 'on' }),
      );
      const app = (await store.applications.findByEntityId('https://manual-signed.example'))!;
      t.match(reason((await admin.get(`/admin/apps/${app.id}`)).body), /because it was set by an admin/);

      const old = await saveApplication(store, {
        name: 'Old',
        entityId: 'https://old.example',
        acsUrls: ['https://old.example/acs'],
        certificate: spCert,
        wantAuthnRequestsSigned: true,
      });
      await store.audit.record({
        type: 'app.created',
        actor: 'cli',
        appId: old.id,
        details: { name: 'Old', entityId: old.entityId },
      });
      t.match(reason((await admin.get(`/admin/apps/${old.id}`)).body), /because it is set in this app's settings/);
    },
  );
});
