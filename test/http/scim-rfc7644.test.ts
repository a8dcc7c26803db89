// RFC 7644 conformance: the request/response examples of sections 3.2-3.7 and 3.12 that apply to what this server
// supports, written in the RFC's own shapes and checked field by field (status, schemas, scimType, Location, meta,
// ETag). Deviation: the directory needs an email address, so the created User carries `emails` (the RFC's
// example has none; without them the answer is 400 invalidValue, checked below). On both databases.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

for (const provider of testProviders()) {
  t.test(`RFC 7644 examples on ${provider}`, async (t) => {
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
    const base = `http://example.broker.test/scim/v2/${idp.id}`;
    const scim = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      ta.request('example', {
        method: method as 'GET',
        url: `/scim/v2/${idp.id}${path}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/scim+json' }),
          ...headers,
        },
        ...(body !== undefined && { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    const error = (
      res: { statusCode: number; json(): Record<string, unknown> },
      status: number,
      scimType: string | undefined,
      what: string,
    ) => {
      t.equal(res.statusCode, status, `${what}: status`);
      t.same(res.json().schemas, [ERROR], `${what}: schemas`);
      t.equal(res.json().status, String(status), `${what}: status member`);
      t.equal(res.json().scimType, scimType, `${what}: scimType`);
    };

    // 3.3 Creating Resources
    const created = await scim('POST', '/Users', {
      schemas: [USER],
      userName: 'bjensen',
      externalId: 'bjensen',
      name: { formatted: 'Ms. Barbara J Jensen III', familyName: 'Jensen', givenName: 'Barbara' },
      emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
    });
    t.equal(created.statusCode, 201, created.body);
    const bj = created.json();
    t.same(bj.schemas, [USER]);
    t.type(bj.id, 'string');
    t.equal(bj.externalId, 'bjensen');
    t.equal(bj.userName, 'bjensen');
    t.match(bj.name, { familyName: 'Jensen', givenName: 'Barbara' });
    t.equal(bj.meta.resourceType, 'User');
    t.equal(bj.meta.location, `${base}/Users/${bj.id}`);
    t.equal(created.headers.location, bj.meta.location);
    t.equal(created.headers.etag, bj.meta.version);
    t.match(bj.meta.version, /^W\/".+"$/);
    t.ok(bj.meta.created && bj.meta.lastModified);
    error(
      await scim('POST', '/Users', { schemas: [USER], userName: 'bjensen', emails: [{ value: 'other@example.com' }] }),
      409,
      'uniqueness',
      '3.3 a second bjensen',
    );
    error(
      await scim('POST', '/Users', { schemas: [USER], userName: 'nomail' }),
      400,
      'invalidValue',
      'a User without an email address',
    );

    // 3.4.1 Retrieving a Known Resource
    const got = await scim('GET', `/Users/${bj.id}`);
    t.equal(got.statusCode, 200);
    t.equal(got.headers.etag, bj.meta.version);
    t.same(got.json(), bj);
    t.equal((await scim('GET', `/Users/${bj.id}`, undefined, { 'if-match': bj.meta.version })).statusCode, 200);

    // a few more users for the filters
    for (const [userName, familyName, email] of [
      ['john', "O'Malley", 'john@example.org'],
      ['Jane', 'Doe', 'jane@example.com'],
    ]) {
      t.equal(
        (
          await scim('POST', '/Users', {
            schemas: [USER],
            userName,
            name: { familyName, givenName: userName },
            emails: [{ value: email, type: 'work' }],
          })
        ).statusCode,
        201,
      );
    }

    // 3.4.2.2 Filtering: the RFC's example filters
    const total = async (filter: string) => {
      const res = await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      t.equal(res.statusCode, 200, `${filter}: ${res.body.slice(0, 200)}`);
      t.same(res.json().schemas, [LIST]);
      return res.json().totalResults as number;
    };
    t.equal(await total('userName Eq "john"'), 1, 'operators without regard to case');
    t.equal(await total('name.familyName co "O\'Malley"'), 1);
    t.equal(await total('userName sw "J"'), 2);
    t.equal(await total('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"'), 2);
    t.equal(await total('title pr'), 0);
    t.equal(await total('meta.lastModified gt "2011-05-13T04:42:34Z"'), 3);
    t.equal(await total('meta.lastModified ge "2011-05-13T04:42:34Z"'), 3);
    t.equal(await total('meta.lastModified lt "2011-05-13T04:42:34Z"'), 0);
    t.equal(await total('meta.lastModified le "2011-05-13T04:42:34Z"'), 0);
    t.equal(await total('title pr and userType eq "Employee"'), 0);
    t.equal(await total('title pr or userType eq "Intern"'), 0);
    t.equal(await total('schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"'), 0);
    t.equal(await total('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")'), 0);
    t.equal(
      await total('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'),
      0,
    );
    t.equal(await total('emails co "example.com" or emails.value co "example.org"'), 3);
    t.equal(await total('userType ne "Employee" and (emails co "example.com" or emails.value co "example.org")'), 3);
    t.equal(
      await total('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]'),
      2,
    );
    error(
      await scim('GET', `/Users?filter=${encodeURIComponent('userName eq')}`),
      400,
      'invalidFilter',
      '3.4.2.2 an invalid filter',
    );

    // 3.4.2.4 Pagination
    const page = (await scim('GET', '/Users?startIndex=2&count=1')).json();
    t.match(page, { schemas: [LIST], totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    t.equal(page.Resources.length, 1);
    const past = (await scim('GET', '/Users?startIndex=10&count=10')).json();
    t.match(past, { totalResults: 3, startIndex: 10, itemsPerPage: 0, Resources: [] });
    t.match((await scim('GET', '/Users?count=0')).json(), { totalResults: 3, itemsPerPage: 0 });

    // 3.5.1 Replacing with PUT
    const put = await scim(
      'PUT',
      `/Users/${bj.id}`,
      {
        schemas: [USER],
        id: bj.id,
        userName: 'bjensen',
        externalId: 'bjensen',
        name: { formatted: 'Ms. Barbara J Jensen III', familyName: 'Jensen', givenName: 'Babs' },
        emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
      },
      { 'if-match': bj.meta.version },
    );
    t.equal(put.statusCode, 200, put.body);
    t.equal(put.json().name.givenName, 'Babs');
    t.not(put.json().meta.version, bj.meta.version, 'a new version');
    t.equal(put.headers.etag, put.json().meta.version);
    error(
      await scim(
        'PUT',
        `/Users/${bj.id}`,
        { schemas: [USER], userName: 'bjensen', emails: [{ value: 'bjensen@example.com' }] },
        { 'if-match': bj.meta.version },
      ),
      412,
      undefined,
      '3.14 a stale If-Match',
    );

    // 3.5.2.1 add: with a path (a Group's members) and without (a set of attributes)
    const group = (await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'Tour Guides' })).json();
    const john = (await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "john"')}`)).json().Resources[0];
    const added = await scim('PATCH', `/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [
        {
          op: 'add',
          path: 'members',
          value: [{ display: 'Babs Jensen', $ref: `${base}/Users/${bj.id}`, value: bj.id }],
        },
      ],
    });
    t.equal(added.statusCode, 200);
    t.same(
      added.json().members.map((m: { value: string }) => m.value),
      [bj.id],
    );
    const noPath = await scim('PATCH', `/Users/${bj.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'add', value: { emails: [{ value: 'babs@jensen.org', type: 'home' }], name: { givenName: 'Barbara' } } },
      ],
    });
    t.equal(noPath.statusCode, 200, noPath.body);
    t.equal(noPath.json().name.givenName, 'Barbara');
    // 3.5.2.3 replace with a value filter path
    const replaced = await scim('PATCH', `/Users/${bj.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'bjensen@example.net' }],
    });
    t.equal(replaced.statusCode, 200, replaced.body);
    t.equal(replaced.json().emails[0].value, 'bjensen@example.net');
    t.equal(replaced.headers.etag, replaced.json().meta.version);
    // 3.5.2.2 remove: a whole attribute, one member by a value filter, all members
    await scim('PATCH', `/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: john.id }] }],
    });
    const removedOne = await scim('PATCH', `/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${bj.id}"]` }],
    });
    t.same(
      removedOne.json().members.map((m: { value: string }) => m.value),
      [john.id],
    );
    const removedName = await scim('PATCH', `/Users/${bj.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: 'name.givenName' }],
    });
    t.equal(removedName.statusCode, 200);
    t.equal(removedName.json().name.givenName, undefined);
    const removedAll = await scim('PATCH', `/Groups/${group.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: 'members' }],
    });
    t.same(removedAll.json().members, []);
    error(
      await scim('PATCH', `/Users/${bj.id}`, { schemas: [PATCH], Operations: [{ op: 'remove' }] }),
      400,
      'noTarget',
      '3.5.2.2 remove without a path',
    );
    error(
      await scim('PATCH', `/Users/${bj.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'emails[type eq', value: 'x' }],
      }),
      400,
      'invalidPath',
      'a malformed value filter in a path',
    );
    error(
      await scim('PATCH', `/Users/${bj.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'name..givenName', value: 'x' }],
      }),
      400,
      'invalidPath',
      'an invalid path',
    );

    // 3.12 errors
    error(
      await scim('POST', '/Users', '{"schemas": ["' + USER + '"], "userName": '),
      400,
      'invalidSyntax',
      'invalidSyntax',
    );
    error(
      await scim('PATCH', `/Users/${bj.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'active', value: 'sometimes' }],
      }),
      400,
      'invalidValue',
      'invalidValue',
    );
    error(
      await scim('PATCH', `/Users/${bj.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'id', value: 'another-id' }],
      }),
      400,
      'mutability',
      'mutability: id is read-only',
    );
    error(
      await scim('PUT', `/Users/${bj.id}`, {
        schemas: [USER],
        id: 'another-id',
        userName: 'bjensen',
        emails: [{ value: 'bjensen@example.net' }],
      }),
      400,
      'mutability',
      'mutability: PUT with another id',
    );

    // 3.6 Deleting Resources
    const del = await scim('DELETE', `/Users/${bj.id}`);
    t.equal(del.statusCode, 204);
    t.equal(del.body, '');
    error(await scim('GET', `/Users/${bj.id}`), 404, undefined, '3.6 the deleted user');
    error(await scim('DELETE', `/Users/${bj.id}`), 404, undefined, '3.6 deleting again');
  });
}
