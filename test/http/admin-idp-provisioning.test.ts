// The IdP page's "Provisioning (SCIM 2.0)" section: the base URL, a token created in the console and shown once
// (a reload shows nothing and creates nothing), working at the SCIM endpoint, its last use shown, revoked from the
// page; another organisation's admin reaches none of it.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';

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
