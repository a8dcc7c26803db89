// SCIM 2.0 per upstream IdP (docs/scim.md): the conversations Okta and Entra ID hold with /scim/v2/<idpId>, token
// isolation between organisations and IdPs, error bodies, ETags, pagination and groups feeding users.groups. On
// both databases, through the real HTTP application.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const SCIM = 'application/scim+json';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

async function world(provider: 'sqlite' | 'postgresql') {
  const ta = await createTestApp({ provider });
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const hooli = await createOrg(ta.ctx, 'hooli');
  const okta = await pp.store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://pp.okta.example/sso',
    emailDomains: ['piedpipers.example'],
    linkingMode: 'verified-domains',
  });
  const entra = await pp.store.identityProviders.create({
    name: 'Entra',
    entityId: 'https://sts.windows.net/t1/',
    ssoUrl: 'https://login.microsoftonline.example/t1/saml2',
    emailDomains: ['contractors.example'],
    linkingMode: 'verified-domains',
  });
  const hooliIdp = await hooli.store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/hooli',
    ssoUrl: 'https://hooli.okta.example/sso',
  });
  const oktaToken = (await createScimToken(pp.store, ta.clock, okta.id, 'okta provisioning', 'test')).token;
  const entraToken = (await createScimToken(pp.store, ta.clock, entra.id, 'entra provisioning', 'test')).token;
  const hooliToken = (await createScimToken(hooli.store, ta.clock, hooliIdp.id, 'hooli', 'test')).token;
  const scim =
    (token: string, idpId: string, slug = 'piedpipers') =>
    (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      ta.request(slug, {
        method: method as 'GET',
        url: `/scim/v2/${idpId}${path}`,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': SCIM }), ...headers },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
  return {
    ta,
    pp,
    hooli,
    okta,
    entra,
    hooliIdp,
    oktaToken,
    entraToken,
    hooliToken,
    asOkta: scim(oktaToken, okta.id),
    asEntra: scim(entraToken, entra.id),
    scim,
  };
}

const oktaUser = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER],
  userName,
  name: { givenName: 'Ann', familyName: 'Lee' },
  emails: [{ primary: true, value: userName, type: 'work' }],
  displayName: 'Ann Lee',
  locale: 'en-US',
  externalId: '00u1abcd',
  groups: [],
  password: 'ignored!',
  active: true,
  ...extra,
});

for (const provider of testProviders()) {
  t.test(`SCIM on ${provider}`, async (t) => {
    const w = await world(provider);
    t.teardown(w.ta.cleanup);
    const { ta, pp, asOkta, asEntra } = w;

    t.test('Okta: look up, create, deactivate, reactivate', async (t) => {
      const lookup = await asOkta(
        'GET',
        '/Users?filter=' + encodeURIComponent('userName eq "ann@piedpipers.example"') + '&startIndex=1&count=100',
      );
      t.equal(lookup.statusCode, 200);
      t.match(lookup.headers['content-type'], /application\/scim\+json/);
      t.same(lookup.json(), {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: 0,
        startIndex: 1,
        itemsPerPage: 0,
        Resources: [],
      });

      const created = await asOkta('POST', '/Users', oktaUser('ann@piedpipers.example'));
      t.equal(created.statusCode, 201, created.body);
      const ann = created.json();
      t.match(ann, {
        userName: 'ann@piedpipers.example',
        externalId: '00u1abcd',
        active: true,
        name: { givenName: 'Ann', familyName: 'Lee' },
        emails: [{ value: 'ann@piedpipers.example', primary: true }],
        meta: { resourceType: 'User', location: `http://piedpipers.broker.test/scim/v2/${w.okta.id}/Users/${ann.id}` },
      });
      t.equal(created.headers.etag, ann.meta.version);
      t.equal(created.headers.location, ann.meta.location);
      const row = await pp.store.users.findById(ann.id);
      t.match(row, {
        email: 'ann@piedpipers.example',
        firstName: 'Ann',
        lastName: 'Lee',
        status: 'active',
        source: 'scim',
      });
      t.match(await pp.store.users.identities(ann.id), [
        { idpId: w.okta.id, nameId: 'ann@piedpipers.example', source: 'scim' },
      ]);

      const again = await asOkta(
        'GET',
        '/Users?filter=' + encodeURIComponent('userName eq "ANN@piedpipers.example"') + '&startIndex=1&count=100',
      );
      t.equal(again.json().totalResults, 1, 'userName is matched without regard to case');
      t.equal(again.json().Resources[0].id, ann.id);

      const dup = await asOkta('POST', '/Users', oktaUser('Ann@piedpipers.example'));
      t.equal(dup.statusCode, 409);
      t.match(dup.json(), {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '409',
        scimType: 'uniqueness',
      });

      const off = await asOkta('PATCH', `/Users/${ann.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { active: false } }],
      });
      t.equal(off.statusCode, 200, off.body);
      t.equal(off.json().active, false);
      t.equal((await pp.store.users.findById(ann.id))!.status, 'disabled');

      await pp.store.totp.savePending(ann.id, { secretEnc: 'x', algorithm: 'SHA1', digits: 6, period: 30 });
      const on = await asOkta('PATCH', `/Users/${ann.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { active: true } }],
      });
      t.equal(on.json().active, true);
      t.equal((await pp.store.users.findById(ann.id))!.status, 'active');
      t.ok(await pp.store.totp.find(ann.id), 'reactivation keeps the second factor');
      const types = (
        await ta.ctx.store.db.auditEvent.findMany({ where: { userId: ann.id }, orderBy: { at: 'asc' } })
      ).map((e) => e.type);
      t.match(types, ['scim.user_created', 'scim.user_deactivated', 'scim.user_reactivated']);

      const put = await asOkta(
        'PUT',
        `/Users/${ann.id}`,
        oktaUser('ann@piedpipers.example', {
          name: { givenName: 'Annie', familyName: 'Lee' },
          phoneNumbers: [{ value: '+1 555 0100', type: 'mobile' }],
        }),
      );
      t.equal(put.statusCode, 200, put.body);
      t.match(put.json(), { name: { givenName: 'Annie' }, phoneNumbers: [{ value: '+1 555 0100' }] });
    });

    t.test('Entra: look up, create with capitalised ops and string booleans, groups, delete', async (t) => {
      const probe = await asEntra(
        'GET',
        '/Users?filter=' + encodeURIComponent('userName eq "8f3c1e2a-7b6d-4c1f-9e0a-2d4b6c8e0f1a"'),
      );
      t.equal(probe.json().totalResults, 0);
      const created = await asEntra('POST', '/Users', {
        schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        externalId: 'bob',
        userName: 'bob@contractors.example',
        active: true,
        displayName: 'Bob Ray',
        emails: [{ primary: true, type: 'work', value: 'bob@contractors.example' }],
        meta: { resourceType: 'User' },
        name: { formatted: 'Bob Ray', familyName: 'Ray', givenName: 'Bob' },
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Sales', employeeNumber: '42' },
      });
      t.equal(created.statusCode, 201, created.body);
      const bob = created.json();
      const patched = await asEntra('PATCH', `/Users/${bob.id}`, {
        schemas: [PATCH],
        Operations: [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'robert@contractors.example' },
          { op: 'Replace', path: 'name.givenName', value: 'Robert' },
          {
            op: 'Add',
            path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department',
            value: 'Marketing',
          },
          { op: 'Replace', path: 'active', value: 'False' },
        ],
      });
      t.equal(patched.statusCode, 200, patched.body);
      t.match(patched.json(), {
        active: false,
        name: { givenName: 'Robert' },
        emails: [{ value: 'robert@contractors.example' }],
      });
      t.match(await pp.store.users.findById(bob.id), { email: 'robert@contractors.example', status: 'disabled' });

      const group = await asEntra('POST', '/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'Sales',
        externalId: 'g1',
        members: [],
      });
      t.equal(group.statusCode, 201, group.body);
      const gid = group.json().id;
      const add = await asEntra('PATCH', `/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Add', path: 'members', value: [{ value: bob.id }] }],
      });
      t.equal(add.statusCode, 200, add.body);
      t.match(add.json().members, [{ value: bob.id }]);
      t.same((await pp.store.users.findById(bob.id))!.groups, ['Sales']);
      t.match((await asEntra('GET', `/Users/${bob.id}`)).json().groups, [{ value: gid, display: 'Sales' }]);
      const byName = await asEntra(
        'GET',
        '/Groups?excludedAttributes=members&filter=' + encodeURIComponent('displayName eq "sales"'),
      );
      t.equal(byName.json().totalResults, 1);
      t.notOk('members' in byName.json().Resources[0]);

      const rename = await asEntra('PATCH', `/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Replace', path: 'displayName', value: 'Sales EMEA' }],
      });
      t.equal(rename.json().displayName, 'Sales EMEA');
      t.same((await pp.store.users.findById(bob.id))!.groups, ['Sales EMEA']);
      const remove = await asEntra('PATCH', `/Groups/${gid}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Remove', path: `members[value eq "${bob.id}"]` }],
      });
      t.same(remove.json().members, []);
      t.same((await pp.store.users.findById(bob.id))!.groups, []);

      const del = await asEntra('DELETE', `/Users/${bob.id}`);
      t.equal(del.statusCode, 204);
      t.equal((await asEntra('GET', `/Users/${bob.id}`)).statusCode, 404, 'a deleted user is gone for the client');
      t.match(await pp.store.users.findById(bob.id), { status: 'disabled' }, 'and kept disabled in the directory');
      const events = await ta.ctx.store.db.auditEvent.findMany({
        where: { userId: bob.id, type: 'scim.user_deleted' },
      });
      t.equal(events.length, 1);
      t.equal(events[0].idpId, w.entra.id);
      const back = await asEntra('POST', '/Users', {
        schemas: [USER],
        userName: 'bob@contractors.example',
        emails: [{ value: 'robert@contractors.example', primary: true }],
        active: true,
      });
      t.equal(back.statusCode, 201, 're-provisioning links the kept user again');
      t.equal(back.json().id, bob.id);
      t.equal((await pp.store.users.findById(bob.id))!.status, 'active');
    });

    t.test("tokens: another organisation's is 401, another IdP's sees nothing of this one", async (t) => {
      const ann = (
        await asOkta('GET', '/Users?filter=' + encodeURIComponent('userName eq "ann@piedpipers.example"'))
      ).json().Resources[0];
      t.equal(
        (await w.scim(w.hooliToken, w.okta.id)('GET', `/Users/${ann.id}`)).statusCode,
        401,
        'a token of another organisation',
      );
      t.equal(
        (await w.scim(w.hooliToken, w.hooliIdp.id, 'piedpipers')('GET', '/Users')).statusCode,
        401,
        'on this host, with its own IdP id',
      );
      t.equal(
        (await w.scim(w.entraToken, w.okta.id)('GET', '/Users')).statusCode,
        401,
        "a token of another IdP on this IdP's URL",
      );
      const none = await ta.request('piedpipers', { method: 'GET', url: `/scim/v2/${w.okta.id}/Users` });
      t.equal(none.statusCode, 401);
      t.match(none.json(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' });
      t.equal((await asEntra('GET', `/Users/${ann.id}`)).statusCode, 404, "Okta's user is not Entra's");
      t.equal(
        (
          await asEntra('PATCH', `/Users/${ann.id}`, {
            schemas: [PATCH],
            Operations: [{ op: 'replace', value: { active: false } }],
          })
        ).statusCode,
        404,
      );
      t.equal((await asEntra('DELETE', `/Users/${ann.id}`)).statusCode, 404);
      t.notOk((await asEntra('GET', '/Users')).json().Resources.some((r: { id: string }) => r.id === ann.id));
      const takeover = await asEntra(
        'POST',
        '/Users',
        oktaUser('ann-entra', { emails: [{ value: 'ann@piedpipers.example', primary: true }] }),
      );
      t.equal(takeover.statusCode, 409, 'never takes over a user of another IdP');
      const admins = await pp.store.users.create({ email: 'carol@piedpipers.example', source: 'admin' });
      t.equal(
        (await asOkta('GET', `/Users/${admins.id}`)).statusCode,
        404,
        'a user the admins keep is invisible until provisioned',
      );
      const linked = await asOkta('POST', '/Users', oktaUser('carol@piedpipers.example', { externalId: 'c1' }));
      t.equal(linked.statusCode, 201, 'an unlinked user in a domain this IdP owns is linked');
      t.equal(linked.json().id, admins.id);
    });

    t.test('errors, ETags and pages', async (t) => {
      const bad = await asOkta('GET', '/Users?filter=' + encodeURIComponent('userName eq'));
      t.equal(bad.statusCode, 400);
      t.match(bad.json(), { status: '400', scimType: 'invalidFilter' });
      const user = (await asOkta('GET', '/Users?count=1')).json().Resources[0];
      const stale = await asOkta('PUT', `/Users/${user.id}`, oktaUser(user.userName), {
        'if-match': 'W/"not-this-one"',
      });
      t.equal(stale.statusCode, 412);
      t.match(stale.json(), { status: '412' });
      const fresh = await asOkta(
        'PATCH',
        `/Users/${user.id}`,
        { schemas: [PATCH], Operations: [{ op: 'replace', path: 'name.familyName', value: 'Other' }] },
        { 'if-match': user.meta.version },
      );
      t.equal(fresh.statusCode, 200);
      t.not(fresh.json().meta.version, user.meta.version, 'a change makes a new version');
      t.equal(
        (await asOkta('POST', '/Users', { schemas: [USER], userName: 'x' })).json().scimType,
        'invalidValue',
        'no email at all',
      );
      const syntax = await ta.request('piedpipers', {
        method: 'POST',
        url: `/scim/v2/${w.okta.id}/Users`,
        headers: { authorization: `Bearer ${w.oktaToken}`, 'content-type': SCIM },
        payload: '{not json',
      });
      t.equal(syntax.statusCode, 400);
      t.match(syntax.json(), { scimType: 'invalidSyntax' });
      t.equal(
        (await asOkta('PATCH', `/Users/${user.id}`, { Operations: [{ op: 'move', path: 'x' }] })).json().scimType,
        'invalidSyntax',
      );

      for (let i = 0; i < 5; i++)
        t.equal(
          (await asOkta('POST', '/Users', oktaUser(`p${i}@piedpipers.example`, { externalId: `p${i}` }))).statusCode,
          201,
        );
      const all = (await asOkta('GET', '/Users')).json();
      const page = (await asOkta('GET', '/Users?startIndex=3&count=2')).json();
      t.equal(page.totalResults, all.totalResults);
      t.equal(page.startIndex, 3);
      t.equal(page.itemsPerPage, 2);
      t.same(
        page.Resources.map((r: { id: string }) => r.id),
        all.Resources.slice(2, 4).map((r: { id: string }) => r.id),
      );
      const sw = (
        await asOkta(
          'GET',
          '/Users?filter=' + encodeURIComponent('userName sw "p" and (emails.value co "p1" or externalId eq "p3")'),
        )
      ).json();
      t.same(sw.Resources.map((r: { userName: string }) => r.userName).sort(), [
        'p1@piedpipers.example',
        'p3@piedpipers.example',
      ]);
    });

    t.test('discovery documents', async (t) => {
      const spc = (await asOkta('GET', '/ServiceProviderConfig')).json();
      t.match(spc, {
        patch: { supported: true },
        bulk: { supported: false },
        filter: { supported: true, maxResults: 200 },
        etag: { supported: true },
        sort: { supported: true },
        changePassword: { supported: false },
      });
      t.equal((await asOkta('GET', '/ResourceTypes')).json().totalResults, 2);
      t.equal((await asOkta('GET', '/Schemas')).json().totalResults, 3);
      t.equal((await asOkta('GET', `/Schemas/${USER}`)).json().id, USER);
    });
  });
}
