// The IdP page's "Provisioning (SCIM 2.0)" section: the base URL, a token created in the console and shown once
// (a reload shows nothing and creates nothing), working at the SCIM endpoint, its last use shown, revoked from the
// page; another organisation's admin reaches none of it.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

t.test('SCIM provisioning on the IdP page', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const store = ta.ctx.store.forOrg(pp.orgId);
  const okta = await store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://pp.okta.example/sso',
  });
  const base = `http://piedpipers.broker.test/scim/v2/${okta.id}`;

  const page = (await pp.get(`/admin/idps/${okta.id}`)).body;
  t.match(page, /<h2 id="provisioning">Provisioning \(SCIM 2\.0\)<\/h2>/);
  t.match(page, new RegExp(`<code>${base}</code>`), 'the base URL to paste into Okta or Entra ID');
  t.match(page, /No SCIM token yet: provisioning is off/);

  const posted = await pp.post(`/admin/idps/${okta.id}/scim-tokens`, { name: 'Okta provisioning' });
  t.equal(posted.statusCode, 303);
  const shown = await pp.get(posted.headers.location!);
  const token = /value="(scim_[A-Za-z0-9_-]{43})"/.exec(shown.body)?.[1];
  t.ok(token, 'the token is shown once');
  t.match(shown.body, new RegExp(`value="${base}"`), 'with the base URL');
  const reload = await pp.get(posted.headers.location!);
  t.notMatch(reload.body, /scim_[A-Za-z0-9_-]{43}/, 'a reload does not show it again');
  t.equal((await store.scimTokens.list(okta.id)).length, 1, 'and creates nothing');
  t.equal((await hooli.get(posted.headers.location!)).statusCode, 303, "another organisation's admin is sent away");

  const scim = await ta.request('piedpipers', {
    method: 'GET',
    url: `/scim/v2/${okta.id}/Users`,
    headers: { authorization: `Bearer ${token}` },
  });
  t.equal(scim.statusCode, 200, 'the token works at the SCIM endpoint');
  const listed = (await pp.get(`/admin/idps/${okta.id}`)).body;
  t.match(listed, /<td>Okta provisioning<\/td><td><code>scim_/, 'listed by name and prefix');
  t.match(listed, /Last request from a provisioning client: 2026-01-15 10:00 UTC/);
  t.notMatch(listed, new RegExp(token!), 'the page never shows the token itself');

  const [row] = await store.scimTokens.list(okta.id);
  t.equal(
    (await hooli.post(`/admin/idps/${okta.id}/scim-tokens/${row.id}/revoke`)).statusCode,
    404,
    'another organisation cannot revoke it',
  );
  const revoked = await pp.post(`/admin/idps/${okta.id}/scim-tokens/${row.id}/revoke`);
  t.equal(revoked.headers.location, `/admin/idps/${okta.id}?done=scim-token-revoked#provisioning`);
  t.match((await pp.get(`/admin/idps/${okta.id}`)).body, /badge off">revoked/);
  t.equal(
    (
      await ta.request('piedpipers', {
        method: 'GET',
        url: `/scim/v2/${okta.id}/Users`,
        headers: { authorization: `Bearer ${token}` },
      })
    ).statusCode,
    401,
    'refused at once',
  );
  t.same((await store.audit.list({ typePrefix: 'scim.token' })).map((e) => e.type).sort(), [
    'scim.token_created',
    'scim.token_revoked',
  ]);
});

// Deleting an IdP with provisioning: the confirmation says what goes, and then its tokens are gone (401 at the old
// URL with the old token), its groups are gone with their names in the members' groups, and the provisioned users
// stay in the directory with their status; another IdP's SCIM groups and tokens are untouched. Audited with counts.
t.test('deleting an IdP ends its provisioning', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const store = ta.ctx.store.forOrg(pp.orgId);
  const okta = await store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://pp.okta.example/sso',
    emailDomains: ['piedpipers.example'],
  });
  const entra = await store.identityProviders.create({
    name: 'Entra',
    entityId: 'https://sts.windows.net/t1/',
    ssoUrl: 'https://login.example/sso',
    emailDomains: ['contractors.example'],
  });
  const scim = (idpId: string, token: string, method: string, path: string, body?: unknown) =>
    ta.request('piedpipers', {
      method: method as 'GET',
      url: `/scim/v2/${idpId}${path}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { 'content-type': 'application/scim+json' }),
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
  const tokenOf = async (idpId: string) => {
    const posted = await pp.post(`/admin/idps/${idpId}/scim-tokens`, { name: 'connector' });
    return /value="(scim_[A-Za-z0-9_-]{43})"/.exec((await pp.get(posted.headers.location!)).body)![1];
  };
  const oktaToken = await tokenOf(okta.id);
  const entraToken = await tokenOf(entra.id);
  const ann = (await scim(okta.id, oktaToken, 'POST', '/Users', { userName: 'ann@piedpipers.example' })).json();
  const bob = (await scim(entra.id, entraToken, 'POST', '/Users', { userName: 'bob@contractors.example' })).json();
  t.equal(
    (await scim(okta.id, oktaToken, 'POST', '/Groups', { displayName: 'engineering', members: [{ value: ann.id }] }))
      .statusCode,
    201,
  );
  t.equal(
    (await scim(entra.id, entraToken, 'POST', '/Groups', { displayName: 'sales', members: [{ value: bob.id }] }))
      .statusCode,
    201,
  );
  t.same((await store.users.findById(ann.id))!.groups, ['engineering']);

  const confirm = (await pp.get(`/admin/idps/${okta.id}/delete`)).body;
  t.match(
    confirm,
    /SCIM provisioning ends: 1 active SCIM token is deleted .* and 1 SCIM group is removed.*The 1 user it provisioned stay/s,
  );
  const deleted = await pp.post(`/admin/idps/${okta.id}/delete`);
  t.equal(deleted.statusCode, 303);

  t.equal((await scim(okta.id, oktaToken, 'GET', '/Users')).statusCode, 401, 'the old token no longer works');
  t.same(await store.scimTokens.list(okta.id), [], 'its tokens are deleted');
  t.equal(await store.scim.countGroups(okta.id), 0, 'its groups are deleted');
  t.match(
    await store.users.findById(ann.id),
    { status: 'active', groups: [] },
    'the user stays, without the group name',
  );
  t.equal(
    (await scim(entra.id, entraToken, 'GET', `/Users/${bob.id}`)).statusCode,
    200,
    'another IdP keeps its provisioning',
  );
  t.same((await store.users.findById(bob.id))!.groups, ['sales']);
  t.match((await store.audit.list({ type: 'idp.deleted' }))[0].details, {
    scimTokensDeleted: 1,
    scimGroupsDeleted: 1,
    provisionedUsers: 1,
  });
});

// Issue 22: the IdP page lists the IdP's own last provisioning events from the audit log, newest first (time,
// action, user or group, outcome), with a link to all of them in the audit log; another IdP's and another
// organisation's events never appear. On both databases.
for (const provider of testProviders()) {
  t.test(`recent provisioning events on the IdP page on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const pp = await signedInAdmin(ta, 'piedpipers');
    const hooli = await signedInAdmin(ta, 'hooli');
    const store = ta.ctx.store.forOrg(pp.orgId);
    const hooliStore = ta.ctx.store.forOrg(hooli.orgId);
    const okta = await store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/exk1',
      ssoUrl: 'https://pp.okta.example/sso',
      emailDomains: ['piedpipers.example'],
    });
    const entra = await store.identityProviders.create({
      name: 'Entra',
      entityId: 'https://sts.windows.net/t1/',
      ssoUrl: 'https://login.example/sso',
      emailDomains: ['contractors.example'],
    });
    const hooliIdp = await hooliStore.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/exk1',
      ssoUrl: 'https://hooli.okta.example/sso',
      emailDomains: ['hooli.example'],
    });

    const empty = (await pp.get(`/admin/idps/${okta.id}`)).body;
    t.match(empty, /<h3 id="provisioning-events">Recent provisioning events<\/h3>/);
    t.match(empty, /No provisioning events yet/, 'the empty state before any SCIM client came');

    const tokenOf = async (s: typeof store, slug: string, idpId: string) => ({
      slug,
      idpId,
      token: (await createScimToken(s, ta.ctx.clock, idpId, 'connector', 'test')).token,
    });
    const scim = (c: { slug: string; idpId: string; token: string }, method: string, path: string, body?: unknown) => {
      ta.clock.advance(1000);
      return ta.request(c.slug, {
        method: method as 'GET',
        url: `/scim/v2/${c.idpId}${path}`,
        headers: {
          authorization: `Bearer ${c.token}`,
          ...(body !== undefined && { 'content-type': 'application/scim+json' }),
        },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
    };
    const oktaClient = await tokenOf(store, 'piedpipers', okta.id);
    const entraClient = await tokenOf(store, 'piedpipers', entra.id);
    const hooliClient = await tokenOf(hooliStore, 'hooli', hooliIdp.id);

    const created = await scim(oktaClient, 'POST', '/Users', { userName: 'ann@piedpipers.example' });
    t.equal(created.statusCode, 201, 'the SCIM client creates a user');
    const ann = created.json();
    t.equal(
      (await scim(oktaClient, 'POST', '/Groups', { displayName: 'engineering', members: [{ value: ann.id }] }))
        .statusCode,
      201,
    );
    t.equal(
      (
        await scim(oktaClient, 'PATCH', `/Users/${ann.id}`, {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'replace', value: { active: false } }],
        })
      ).statusCode,
      200,
    );
    t.equal((await scim(entraClient, 'POST', '/Users', { userName: 'bob@contractors.example' })).statusCode, 201);
    t.equal((await scim(hooliClient, 'POST', '/Users', { userName: 'carol@hooli.example' })).statusCode, 201);

    const page = (await pp.get(`/admin/idps/${okta.id}`)).body;
    const section = page.slice(page.indexOf('id="provisioning-events"'));
    t.notMatch(section, /No provisioning events yet/);
    const rows = [
      ...section.matchAll(/<tr><td>([^<]+) UTC<\/td><td>([^<]+)<\/td><td>(.*?)<\/td><td>(.*?)<\/td><\/tr>/g),
    ];
    t.same(
      rows.map((r) => [r[2], r[3].replace(/<[^>]+>/g, ''), r[4].replace(/<[^>]+>/g, '')]),
      [
        ['User deactivated', 'ann@piedpipers.example', 'success'],
        ['Group created', 'engineering', 'success'],
        ['User created', 'ann@piedpipers.example', 'success'],
        ['Token created', 'connector', 'success'],
      ],
      "the IdP's events, newest first, with action, target and outcome",
    );
    t.match(rows[0][1], /^2026-01-15 10:00:0\d$/, 'each with its time');
    t.match(section, new RegExp(`<a href="/admin/users/${ann.id}">ann@piedpipers\\.example</a>`), 'linked to the user');
    t.match(
      section,
      new RegExp(`<a href="/admin/audit\\?type=scim\\.\\*&amp;idp=${okta.id}">`),
      'and a link to all its SCIM events in the audit log',
    );
    t.notMatch(page, /bob@contractors\.example/, "another IdP's events do not appear");
    t.notMatch(page, /carol@hooli\.example/, "another organisation's events do not appear");
    const entraPage = (await pp.get(`/admin/idps/${entra.id}`)).body;
    t.match(entraPage, /bob@contractors\.example/);
    t.notMatch(entraPage, /ann@piedpipers\.example|engineering/, "the other IdP's page shows only its own");
    const hooliPage = (await hooli.get(`/admin/idps/${hooliIdp.id}`)).body;
    t.match(hooliPage, /carol@hooli\.example/);
    t.notMatch(hooliPage, /ann@piedpipers\.example|bob@contractors\.example/);
    t.equal((await hooli.get(`/admin/idps/${okta.id}`)).statusCode, 404, "another organisation's admin sees no page");

    // Only the last 20: older events stay in the audit log.
    for (let i = 0; i < 25; i++) {
      ta.clock.advance(1000);
      await store.audit.record({
        type: 'scim.user_updated',
        idpId: okta.id,
        userId: ann.id,
        at: ta.clock.now(),
        details: { changed: ['name'] },
      });
    }
    const full = (await pp.get(`/admin/idps/${okta.id}`)).body;
    const fullRows = [...full.slice(full.indexOf('id="provisioning-events"')).matchAll(/<tr><td>[^<]+ UTC<\/td>/g)];
    t.equal(fullRows.length, 20, 'the page lists the last 20');
    t.match(full, /User updated<\/td><td><a href="[^"]+">ann@piedpipers\.example \(name\)<\/a>/);
  });
}
