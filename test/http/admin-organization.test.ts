// Organisation & branding in the console and over /api/organization: settings with errors next to their fields and
// nothing half-saved, the immutable slug, logo upload checked by magic bytes and served at /branding/logo (shown on
// the login page), CSRF, and no reach into another organisation.
import t from 'tap';
import { deflateSync } from 'node:zlib';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';

/** CRC-32 as PNG chunks use it. */
function crc32(bytes: Buffer) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Buffer) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A valid 2×2 RGB PNG of one colour. */
function tinyPng(rgb: [number, number, number]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter method variants, no interlace
  const row = Buffer.from([0, ...rgb, ...rgb]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat([row, row]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const validSettings = {
  name: 'Pied Piper Inc.',
  logoUrl: '',
  primaryColor: '#112233',
  accentColor: '#445566',
  loginMessage: 'Use your company account.',
  sessionTtlSeconds: '3600',
  totpDigits: '6',
  totpPeriod: '30',
  totpAlgorithm: 'SHA1',
  jitProvisioning: 'on',
};

t.test('organisation & branding', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers', { name: 'Pied Pipers' });
  const hooli = await signedInAdmin(ta, 'hooli', { name: 'Hooli' });
  const org = async (id: string) => (await ta.ctx.store.organizations.findById(id))!;
  const audit = (orgId: string, type: string) => ta.ctx.store.forOrg(orgId).audit.list({ type });

  t.test('the page shows the settings, the immutable slug and every URL', async (t) => {
    const res = await pp.get('/admin/organization');
    t.equal(res.statusCode, 200);
    t.match(res.body, /<input id="slug" type="text" value="piedpipers" readonly/);
    t.match(res.body, /Cannot be changed/);
    t.match(res.body, /id="name" name="name"[^>]*value="Pied Pipers"/);
    t.match(res.body, /type="color"/);
    t.match(res.body, /http:\/\/piedpipers\.broker\.test\/saml\/idp\/metadata/);
    t.match(res.body, /data-copy="http:\/\/piedpipers\.broker\.test\/saml\/sp\/acs"/);
    t.match(res.body, /new enrolments only/);
  });

  t.test('invalid values: errors next to their fields, values kept, nothing saved', async (t) => {
    const before = await org(pp.orgId);
    const res = await pp.post('/admin/organization', {
      ...validSettings,
      name: '',
      primaryColor: 'red',
      sessionTtlSeconds: 'ten',
      totpPeriod: '5',
      loginMessage: 'kept <b>text</b>',
    });
    t.equal(res.statusCode, 400);
    t.match(res.body, /id="name" name="name"[^>]*aria-describedby="name-error" aria-invalid="true"/);
    t.match(res.body, /<div class="field-error" id="name-error">Display name must be 1-100 characters<\/div>/);
    t.match(res.body, /id="primaryColor-error">Primary colour must be a colour like #1f4fd1/);
    t.match(res.body, /id="sessionTtlSeconds-error">Session lifetime must be 60 s to 30 days/);
    t.match(res.body, /id="totpPeriod-error">Period must be 15-120 seconds/);
    t.match(res.body, /name="primaryColor"[^>]*value="red"/, 'the submitted value is kept');
    t.match(res.body, /kept &lt;b&gt;text&lt;\/b&gt;<\/textarea>/, 'and escaped');
    t.notOk(res.body.includes('id="accentColor-error"'), 'a valid field has no error');
    const after = await org(pp.orgId);
    t.same(
      {
        name: after.name,
        primaryColor: after.primaryColor,
        loginMessage: after.loginMessage,
        sessionTtlSeconds: after.sessionTtlSeconds,
      },
      {
        name: before.name,
        primaryColor: before.primaryColor,
        loginMessage: before.loginMessage,
        sessionTtlSeconds: before.sessionTtlSeconds,
      },
    );
    t.equal((await audit(pp.orgId, 'organization.settings_changed')).length, 0);
  });

  t.test('a POST without the CSRF token is refused', async (t) => {
    const res = await pp.post('/admin/organization', { ...validSettings, _csrf: '' });
    t.equal(res.statusCode, 403);
    t.equal((await org(pp.orgId)).name, 'Pied Pipers');
  });

  t.test('saving: stored, audited, shown on the login page; the slug does not change', async (t) => {
    const res = await pp.post('/admin/organization', { ...validSettings, slug: 'hijacked', requireAdminTotp: '' });
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/organization?done=saved');
    const saved = await org(pp.orgId);
    t.match(saved, {
      slug: 'piedpipers',
      name: 'Pied Piper Inc.',
      primaryColor: '#112233',
      accentColor: '#445566',
      loginMessage: 'Use your company account.',
      sessionTtlSeconds: 3600,
      jitProvisioning: true,
      requireAdminTotp: false,
    });
    t.equal(await ta.ctx.store.organizations.findBySlug('hijacked'), null);
    const [event] = await audit(pp.orgId, 'organization.settings_changed');
    t.equal(event.actor, pp.email);
    t.match(
      event.details,
      { changes: { name: { from: 'Pied Pipers', to: 'Pied Piper Inc.' }, primaryColor: { to: '#112233' } } },
      'the audit says what changed, from what to what',
    );
    t.notOk('slug' in (event.details as { changes: object }).changes, 'not what stayed the same');
    t.equal((await pp.post('/admin/organization', { ...validSettings, requireAdminTotp: '' })).statusCode, 303);
    t.equal(
      (await audit(pp.orgId, 'organization.settings_changed')).length,
      1,
      'saving the form unchanged is not an event',
    );
    t.match((await pp.get('/admin/organization?done=saved')).body, /role="status">Saved\./);
    const login = await ta.request('piedpipers', { method: 'GET', url: '/login' });
    t.match(login.body, /Sign in to Pied Piper Inc\./);
    t.match(login.body, /Use your company account\./);
    t.match(login.body, /--primary: #112233; --accent: #445566;/);
    t.match(
      (await ta.request('hooli', { method: 'GET', url: '/login' })).body,
      /Sign in to Hooli/,
      'the other organisation keeps its own branding',
    );
  });

  t.test('logo: a real PNG is stored, served with safe headers and shown on the login page', async (t) => {
    const png = tinyPng([200, 30, 30]);
    const res = await pp.upload(
      '/admin/organization/logo',
      {},
      { logo: { filename: 'logo.png', content: png, contentType: 'image/png' } },
    );
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/organization?done=logo-saved');
    const logo = await ta.request('piedpipers', { method: 'GET', url: '/branding/logo' });
    t.equal(logo.statusCode, 200);
    t.equal(logo.headers['content-type'], 'image/png');
    t.equal(logo.headers['x-content-type-options'], 'nosniff');
    t.match(logo.headers['cache-control'], /max-age=\d+/);
    t.ok(logo.rawPayload.equals(png), 'the bytes come back unchanged');
    const etag = logo.headers.etag as string;
    t.match(etag, /^"[^"]+"$/);
    const again = await ta.request('piedpipers', {
      method: 'GET',
      url: '/branding/logo',
      headers: { 'if-none-match': etag },
    });
    t.equal(again.statusCode, 304);
    t.equal(again.body, '');
    t.match(
      (await ta.request('piedpipers', { method: 'GET', url: '/login' })).body,
      /<img src="\/branding\/logo\?v=[a-z0-9]+" alt="">/,
    );
    t.match((await pp.get('/admin/organization')).body, /Remove logo/);
    t.equal(
      (await ta.request('hooli', { method: 'GET', url: '/branding/logo' })).statusCode,
      404,
      'the other organisation has none',
    );
    t.notMatch((await ta.request('hooli', { method: 'GET', url: '/login' })).body, /branding\/logo/);
    t.equal((await audit(pp.orgId, 'organization.logo_changed')).length, 1);
    const api = await ta.request('piedpipers', {
      method: 'GET',
      url: '/api/organization',
      headers: { authorization: `Bearer ${await pp.apiToken()}` },
    });
    t.match(api.json(), { hasUploadedLogo: true, effectiveLogoUrl: /^\/branding\/logo\?v=/ });
    t.notOk('logo' in api.json(), 'no logo bytes in the API');
  });

  t.test('logo: a text file named .png and an oversized image are refused; the stored logo stays', async (t) => {
    const renamed = await pp.upload(
      '/admin/organization/logo',
      {},
      { logo: { filename: 'logo.png', content: 'this is not an image\n', contentType: 'image/png' } },
    );
    t.equal(renamed.statusCode, 400);
    t.match(
      renamed.body,
      /<div class="field-error" id="logo-error" role="alert">Logo must be a PNG, JPEG, GIF or WebP image<\/div>/,
    );
    t.match(
      renamed.body,
      /id="logo" name="logo" type="file"[^>]*aria-describedby="logo-hint logo-error"[^>]*aria-invalid="true"/,
    );
    const svg = await pp.upload(
      '/admin/organization/logo',
      {},
      {
        logo: {
          filename: 'logo.svg',
          content: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
          contentType: 'image/svg+xml',
        },
      },
    );
    t.equal(svg.statusCode, 400, 'SVG is not accepted');
    const huge = Buffer.concat([tinyPng([0, 0, 0]), Buffer.alloc(600 * 1024)]);
    const oversized = await pp.upload(
      '/admin/organization/logo',
      {},
      { logo: { filename: 'big.png', content: huge, contentType: 'image/png' } },
    );
    t.equal(oversized.statusCode, 400);
    t.match(oversized.body, /Logo must be at most 512 KB/);
    const none = await pp.upload('/admin/organization/logo', {}, {});
    t.equal(none.statusCode, 400);
    const logo = await ta.request('piedpipers', { method: 'GET', url: '/branding/logo' });
    t.ok(logo.rawPayload.equals(tinyPng([200, 30, 30])), 'the earlier logo is still served');
    t.equal((await audit(pp.orgId, 'organization.logo_changed')).length, 1);
  });

  t.test(
    'logo: the upload takes precedence over the logo URL, which shows again once the upload is removed',
    async (t) => {
      t.equal(
        (await pp.post('/admin/organization', { ...validSettings, logoUrl: 'https://cdn.example/pp.png' })).statusCode,
        303,
      );
      t.match(
        (await ta.request('piedpipers', { method: 'GET', url: '/login' })).body,
        /<img src="\/branding\/logo\?v=/,
      );
      const removed = await pp.post('/admin/organization/logo/remove');
      t.equal(removed.statusCode, 303);
      t.equal(removed.headers.location, '/admin/organization?done=logo-removed');
      t.equal((await ta.request('piedpipers', { method: 'GET', url: '/branding/logo' })).statusCode, 404);
      t.match(
        (await ta.request('piedpipers', { method: 'GET', url: '/login' })).body,
        /<img src="https:\/\/cdn\.example\/pp\.png"/,
      );
      t.equal((await audit(pp.orgId, 'organization.logo_removed')).length, 1);
    },
  );

  t.test("one organisation's admin cannot change another organisation", async (t) => {
    const crossHost = await ta.request('hooli', {
      method: 'POST',
      url: '/admin/organization',
      headers: { cookie: pp.cookie(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ ...validSettings, _csrf: pp.csrf, name: 'Owned' }).toString(),
    });
    t.equal(crossHost.statusCode, 303);
    t.equal(crossHost.headers.location, '/admin/login?expired', 'a session of piedpipers is no session on hooli');
    const logo = await ta.request('hooli', {
      method: 'POST',
      url: '/admin/organization/logo/remove',
      headers: { cookie: pp.cookie() },
    });
    t.equal(logo.statusCode, 303);
    t.equal((await org(hooli.orgId)).name, 'Hooli');
    t.equal((await audit(hooli.orgId, 'organization.settings_changed')).length, 0);
  });

  t.test(
    '/api/organization: read and change with the same validation, slug refused, other organisation untouched',
    async (t) => {
      const token = await pp.apiToken('settings bot');
      const api = (method: 'GET' | 'PATCH', payload?: object, auth = `Bearer ${token}`) =>
        ta.request('piedpipers', {
          method,
          url: '/api/organization',
          headers: { authorization: auth },
          ...(payload && { payload }),
        });
      const got = await api('GET');
      t.equal(got.statusCode, 200);
      t.match(got.json(), {
        slug: 'piedpipers',
        name: 'Pied Piper Inc.',
        totpDigits: 6,
        jitProvisioning: true,
        urls: {
          idpMetadata: 'http://piedpipers.broker.test/saml/idp/metadata',
          login: 'http://piedpipers.broker.test/login',
        },
      });
      const bad = await api('PATCH', { primaryColor: 'blue', totpDigits: 8 });
      t.equal(bad.statusCode, 400);
      t.match(bad.json(), { error: { code: 'validation_failed', details: { fields: { primaryColor: /colour/ } } } });
      t.equal((await org(pp.orgId)).totpDigits, 6, 'nothing saved');
      const slug = await api('PATCH', { slug: 'other' });
      t.equal(slug.statusCode, 400);
      t.match(slug.json(), { error: { details: { fields: { slug: /cannot be changed/ } } } });
      const ok = await api('PATCH', { totpDigits: 8, loginMessage: null, requireAdminTotp: false });
      t.equal(ok.statusCode, 200);
      t.match(ok.json(), { totpDigits: 8, loginMessage: null, name: 'Pied Piper Inc.' });
      const events = await audit(pp.orgId, 'organization.settings_changed');
      t.same(
        events.filter((e) => e.actor === 'api-token:settings bot').map((e) => e.details),
        [
          {
            fields: ['loginMessage', 'totpDigits'],
            changes: { loginMessage: { from: 'Use your company account.', to: null }, totpDigits: { from: 6, to: 8 } },
          },
        ],
        'audited once, with the API token as actor: only what changed (requireAdminTotp was off already), before and after',
      );
      t.equal((await api('GET', undefined, '')).statusCode, 401);
      const hooliToken = await hooli.apiToken();
      t.equal(
        (await api('PATCH', { name: 'x' }, `Bearer ${hooliToken}`)).statusCode,
        401,
        "another organisation's token is refused",
      );
      const viaHooli = await ta.request('hooli', {
        method: 'PATCH',
        url: '/api/organization',
        headers: { authorization: `Bearer ${hooliToken}` },
        payload: { name: 'Hooli XYZ' },
      });
      t.equal(viaHooli.json().name, 'Hooli XYZ');
      t.equal((await org(pp.orgId)).name, 'Pied Piper Inc.', 'a token changes only its own organisation');
      const openapi = (await ta.request('piedpipers', { method: 'GET', url: '/api/openapi.json' })).json();
      t.ok(openapi.paths['/api/organization'].patch, 'described in the OpenAPI document');
    },
  );
});
