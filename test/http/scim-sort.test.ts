// sortBy and sortOrder (RFC 7644 3.4.2.3) on /Users and /Groups: the whole filtered set is sorted before the page is
// cut; strings without regard to case (except id, externalId, meta); a multi-valued attribute by its primary entry;
// resources without a value last in either order; a sortBy that is not one attribute of the schema and a bad
// sortOrder are 400 invalidValue. On both databases.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

for (const provider of testProviders()) {
  t.test(`SCIM sorting on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const pp = await createOrg(ta.ctx, 'piedpipers');
    const idp = await pp.store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/sort',
      ssoUrl: 'https://okta.example/sso',
      linkingMode: 'any-email',
    });
    const { token } = await createScimToken(pp.store, ta.clock, idp.id, 'okta', 'test');
    const scim = (method: 'GET' | 'POST', url: string, body?: unknown) =>
      ta.request('piedpipers', {
        method,
        url: `/scim/v2/${idp.id}${url}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/scim+json' }),
        },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
    // created in this order, which is the server's order without sortBy
    const people = [
      {
        userName: 'carol@example.org',
        familyName: 'Diaz',
        externalId: 'b',
        emails: [{ value: 'zz-carol@example.org' }, { value: 'carol@example.org', primary: true }],
      },
      {
        userName: 'Ann@example.org',
        familyName: 'lee',
        externalId: 'C',
        emails: [{ value: 'ann@example.org', primary: true }],
      },
      { userName: 'bob@example.org', familyName: null, externalId: 'a', emails: [{ value: 'bob@example.org' }] },
      {
        userName: 'dave@example.org',
        familyName: 'Adams',
        externalId: null,
        emails: [{ value: 'dave@example.org', primary: true }],
      },
    ];
    for (const p of people) {
      const res = await scim('POST', '/Users', {
        schemas: [USER],
        userName: p.userName,
        emails: p.emails,
        ...(p.familyName && { name: { givenName: 'X', familyName: p.familyName } }),
        ...(p.externalId && { externalId: p.externalId }),
      });
      t.equal(res.statusCode, 201, res.body);
    }
    const names = async (query: string) => {
      const res = await scim('GET', `/Users?${query}`);
      t.equal(res.statusCode, 200, `${query}: ${res.body.slice(0, 200)}`);
      return (res.json().Resources as { userName: string }[]).map((r) => r.userName.split('@')[0].toLowerCase());
    };

    t.same(await names(''), ['carol', 'ann', 'bob', 'dave'], 'without sortBy: the order of creation');
    t.same(
      await names('sortBy=userName'),
      ['ann', 'bob', 'carol', 'dave'],
      'userName ascending by default, without regard to case',
    );
    t.same(await names('sortBy=userName&sortOrder=descending'), ['dave', 'carol', 'bob', 'ann'], 'descending');
    t.same(
      await names('sortBy=urn:ietf:params:scim:schemas:core:2.0:User:userName&sortOrder=Descending'),
      ['dave', 'carol', 'bob', 'ann'],
      'the URN-qualified name and any letter case of sortOrder',
    );
    t.same(
      await names('sortBy=name.familyName'),
      ['dave', 'carol', 'ann', 'bob'],
      'a sub-attribute; without a value last',
    );
    t.same(
      await names('sortBy=name.familyName&sortOrder=descending'),
      ['ann', 'carol', 'dave', 'bob'],
      'without a value last in descending order too',
    );
    t.same(
      await names('sortBy=emails'),
      ['ann', 'bob', 'carol', 'dave'],
      'a multi-valued attribute by its primary entry',
    );
    t.same(
      await names('sortBy=emails.value&sortOrder=descending'),
      ['dave', 'carol', 'bob', 'ann'],
      'its value sub-attribute likewise',
    );
    t.same(
      await names('sortBy=externalId'),
      ['ann', 'bob', 'carol', 'dave'],
      'externalId is case-exact: "C" before "a" and "b"',
    );
    t.same(
      await names('sortBy=userName&startIndex=2&count=2'),
      ['bob', 'carol'],
      'the page is cut from the sorted set',
    );
    const page = (await scim('GET', '/Users?sortBy=userName&startIndex=2&count=2')).json();
    t.match(page, { totalResults: 4, startIndex: 2, itemsPerPage: 2 });
    t.same(
      await names(
        `filter=${encodeURIComponent('userName ew "example.org" and not (userName sw "bob")')}&sortBy=userName&sortOrder=descending`,
      ),
      ['dave', 'carol', 'ann'],
      'with a filter the database could answer',
    );
    t.same(
      await names(`filter=${encodeURIComponent('name.familyName pr')}&sortBy=name.familyName`),
      ['dave', 'carol', 'ann'],
      'with a filter answered in memory',
    );
    t.same(
      await names(`filter=${encodeURIComponent('userName eq "ann@example.org"')}&sortBy=userName`),
      ['ann'],
      'with an indexed look-up',
    );

    for (const g of ['sales', 'Engineering', 'admins'])
      t.equal((await scim('POST', '/Groups', { schemas: [GROUP], displayName: g })).statusCode, 201);
    const groups = async (query: string) =>
      ((await scim('GET', `/Groups?${query}`)).json().Resources as { displayName: string }[]).map((g) => g.displayName);
    t.same(await groups('sortBy=displayName'), ['admins', 'Engineering', 'sales']);
    t.same(await groups('sortBy=displayName&sortOrder=descending&excludedAttributes=members&count=2'), [
      'sales',
      'Engineering',
    ]);

    const refused = async (query: string, what: string, on = '/Users') => {
      const res = await scim('GET', `${on}?${query}`);
      t.equal(res.statusCode, 400, what);
      t.match(
        res.json(),
        { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidValue' },
        `${what}: a SCIM error`,
      );
    };
    await refused('sortBy=password', 'an attribute not in the schema');
    await refused('sortBy=name.nosuch', 'a sub-attribute not in the schema');
    await refused(`sortBy=${encodeURIComponent('userName pr or 1 eq 1')}`, 'a filter in sortBy');
    await refused(`sortBy=${encodeURIComponent('emails[type eq "work"]')}`, 'a value filter in sortBy');
    await refused(`sortBy=${encodeURIComponent('userName; DROP TABLE "User"')}`, 'SQL in sortBy');
    await refused('sortBy=userName&sortOrder=sideways', 'a sortOrder other than ascending or descending');
    await refused('sortBy=userName', 'a User attribute on /Groups', '/Groups');
    t.match(
      (await scim('GET', '/ServiceProviderConfig')).json(),
      { sort: { supported: true } },
      'the discovery document says so',
    );
  });
}
