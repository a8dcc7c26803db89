// RFC 7644 3.4.2.5: `attributes` and `excludedAttributes` on GET of one resource, on lists (with a filter and pages),
// and on the answers of POST and PATCH. `schemas` and `id` are always returned; names compare without regard to
// case, may carry the core URN, and may name sub-attributes of single- and multi-valued attributes. The ETag and
// Location headers stay those of the whole resource. On both databases.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

for (const provider of testProviders()) {
  t.test(`attributes and excludedAttributes on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const org = await createOrg(ta.ctx, 'example');
    const idp = await org.store.identityProviders.create({
      name: 'IdP',
      entityId: 'https://idp.example.com',
      ssoUrl: 'https://idp.example.com/sso',
      linkingMode: 'any-email',
    });
    const token = (await createScimToken(org.store, ta.clock, idp.id, 'rfc', 'test')).token;
    const scim = (method: string, path: string, body?: unknown) =>
      ta.request('example', {
        method: method as 'GET',
        url: `/scim/v2/${idp.id}${path}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/scim+json' }),
        },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });

    const created = await scim('POST', '/Users?attributes=userName', {
      schemas: [USER],
      userName: 'bjensen',
      externalId: 'bj',
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
      phoneNumbers: [{ value: '+1 555 0100' }],
    });
    t.equal(created.statusCode, 201, created.body);
    const id = created.json().id;
    t.same(
      created.json(),
      { schemas: [USER], id, userName: 'bjensen' },
      'POST answers only what was asked, with schemas and id',
    );
    t.equal(
      created.headers.location,
      `http://example.broker.test/scim/v2/${idp.id}/Users/${id}`,
      'Location of the whole resource',
    );
    const full = (await scim('GET', `/Users/${id}`)).json();
    t.ok(created.headers.etag, 'ETag sent');
    t.equal(created.headers.etag, full.meta.version, "the ETag is the whole resource's version");
    await scim('POST', '/Users', { userName: 'ann', emails: [{ value: 'ann@example.com' }] });

    const one = await scim(
      'GET',
      `/Users/${id}?attributes=${encodeURIComponent('UserName,name.familyName,emails.value,urn:ietf:params:scim:schemas:core:2.0:User:externalId')}`,
    );
    t.same(
      one.json(),
      {
        schemas: [USER],
        id,
        externalId: 'bj',
        userName: 'bjensen',
        name: { familyName: 'Jensen' },
        emails: [{ value: 'bjensen@example.com' }],
      },
      'attributes with letter case, a URN, sub-attributes',
    );
    t.equal(one.headers.etag, full.meta.version);

    const without = (
      await scim(
        'GET',
        `/Users/${id}?excludedAttributes=${encodeURIComponent('emails,name.givenName,meta,id,schemas,groups')}`,
      )
    ).json();
    t.same(
      Object.keys(without).sort(),
      ['active', 'displayName', 'externalId', 'id', 'name', 'phoneNumbers', 'schemas', 'userName'],
      'excluded attributes go; id and schemas stay',
    );
    t.same(without.name, { familyName: 'Jensen', formatted: 'Barbara Jensen' });

    const unknown = (await scim('GET', `/Users/${id}?attributes=nickName`)).json();
    t.same(unknown, { schemas: [USER], id }, 'an attribute the resource does not have selects nothing');

    const list = await scim(
      'GET',
      `/Users?attributes=userName&count=1&startIndex=2&filter=${encodeURIComponent('userName pr')}`,
    );
    t.match(list.json(), { totalResults: 2, startIndex: 2, itemsPerPage: 1 });
    t.same(
      list.json().Resources.map((r: Record<string, unknown>) => Object.keys(r).sort()),
      [['id', 'schemas', 'userName']],
      'each listed resource is projected; the ListResponse is not',
    );

    const patched = await scim('PATCH', `/Users/${id}?excludedAttributes=emails,phoneNumbers,meta,groups,name`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'name.givenName', value: 'Babs' }],
    });
    t.equal(patched.statusCode, 200);
    t.same(patched.json(), {
      schemas: [USER],
      id,
      externalId: 'bj',
      userName: 'bjensen',
      displayName: 'Babs Jensen',
      active: true,
    });
    t.equal((await org.store.users.findById(id))!.firstName, 'Babs', 'the projection changes only the answer');

    const group = (
      await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'Tour Guides', members: [{ value: id }] })
    ).json();
    t.same((await scim('GET', `/Groups/${group.id}?attributes=displayName`)).json(), {
      schemas: [GROUP],
      id: group.id,
      displayName: 'Tour Guides',
    });
    t.same((await scim('GET', `/Groups/${group.id}?attributes=members.value`)).json(), {
      schemas: [GROUP],
      id: group.id,
      members: [{ value: id }],
    });
    t.same((await scim('GET', `/Groups?excludedAttributes=members,meta`)).json().Resources, [
      { schemas: [GROUP], id: group.id, displayName: 'Tour Guides' },
    ]);

    const tooLong = await scim('GET', `/Users?attributes=${'a,'.repeat(1001)}`);
    t.equal(tooLong.statusCode, 400);
    t.equal(tooLong.json().scimType, 'invalidValue');
  });
}
