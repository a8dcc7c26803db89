// Issue 22: `co`, `sw`, `ew`, `ne`, `pr`, `and`/`or`/`not` on userName, externalId, emails.value and displayName run in
// the database, page by page. Each filter's answer (totalResults, and the ids of each page) equals what the
// in-memory evaluator (`matches`) gives over every user, on both databases, without the store ever reading every
// provisioned user (listUsers is made to throw). Values with SQL wildcards (% _) and quotes are plain characters.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';
import { matches, parseFilter } from '../../src/scim/filter.ts';
import { ScimRepository } from '../../src/store/scim.ts';

const PEOPLE: { userName: string; email: string; externalId?: string; givenName?: string; familyName?: string }[] = [
  {
    userName: 'Ann.Lee@Pp.example',
    email: 'ann@pp.example',
    externalId: 'OKTA-1',
    givenName: 'Ann',
    familyName: 'Lee',
  },
  { userName: 'bob@pp.example', email: 'Bob.Ray@pp.example', externalId: 'okta-2', givenName: 'Bob' },
  { userName: 'carol_100%@pp.example', email: 'carol@other.example', familyName: 'Ortiz' },
  {
    userName: 'dave@pp.example',
    email: 'dave@pp.example',
    externalId: 'OKTA-10',
    givenName: 'Dave',
    familyName: "O'Neil",
  },
  { userName: 'erin', email: 'erin@pp.example', givenName: 'Erin', familyName: 'Lee' },
  { userName: 'carolx100a@pp.example', email: 'cx@pp.example', externalId: 'x' },
  { userName: 'fay@pp.example', email: 'fay@other.example', givenName: 'Fay', familyName: 'Annsley' },
];
const FILTERS = [
  'userName sw "ann"',
  'userName co "PP.EXAMPLE"',
  'userName ew ".example"',
  'userName co "100%"',
  'userName co "_"',
  'userName co ""',
  'externalId sw "OKTA"',
  'externalId sw "okta"',
  'externalId co "-1"',
  'externalId pr',
  'not (externalId pr)',
  'externalId ne "x"',
  'emails.value co "other"',
  'emails co "BOB"',
  'emails[value ew "pp.example"]',
  'emails.value sw "c"',
  'displayName co "lee"',
  'displayName eq "ann lee"',
  'displayName pr',
  'displayName ne "Bob"',
  'displayName sw "o\'"',
  'displayName co "Ortiz"',
  'userName sw "a" or emails.value co "other"',
  'userName co "pp" and not (displayName co "lee")',
  '(userName sw "c" or userName sw "d") and externalId pr',
  'userName sw "zzz"',
];

for (const provider of testProviders()) {
  t.test(`filters answered in the database on ${provider}`, async (t) => {
    const ta = await createTestApp({
      provider,
      env: { RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_ORG_PER_MINUTE: '0' },
    });
    t.teardown(ta.cleanup);
    const org = await createOrg(ta.ctx, 'piedpipers');
    const idp = await org.store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/exk1',
      ssoUrl: 'https://pp.okta.example/sso',
      linkingMode: 'any-email',
    });
    const token = (await createScimToken(org.store, ta.clock, idp.id, 'okta', 'test')).token;
    const get = (path: string) =>
      ta.request('piedpipers', {
        method: 'GET',
        url: `/scim/v2/${idp.id}${path}`,
        headers: { authorization: `Bearer ${token}` },
      });
    for (const p of PEOPLE) {
      const res = await ta.request('piedpipers', {
        method: 'POST',
        url: `/scim/v2/${idp.id}/Users`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({
          userName: p.userName,
          ...(p.externalId && { externalId: p.externalId }),
          emails: [{ value: p.email }],
          name: { givenName: p.givenName, familyName: p.familyName },
        }),
      });
      if (res.statusCode !== 201) t.fail(res.body);
      ta.clock.advance(1000);
    }
    const everyone = (await get('/Users?count=200')).json().Resources as Record<string, unknown>[];
    t.equal(everyone.length, PEOPLE.length);

    const listUsers = ScimRepository.prototype.listUsers;
    ScimRepository.prototype.listUsers = () => {
      throw new Error('read every provisioned user');
    };
    t.teardown(() => {
      ScimRepository.prototype.listUsers = listUsers;
    });
    for (const filter of FILTERS) {
      const expected = everyone.filter((r) => matches(r, parseFilter(filter))).map((r) => r.id);
      const ids: unknown[] = [];
      for (let start = 1; start <= Math.max(expected.length, 1); start += 2) {
        const res = await get(`/Users?count=2&startIndex=${start}&filter=${encodeURIComponent(filter)}`);
        if (res.statusCode !== 200) t.fail(`${filter}: ${res.body.slice(0, 300)}`);
        const page = res.json();
        if (page.totalResults !== expected.length || page.startIndex !== start)
          t.fail(
            `${filter}: totalResults ${page.totalResults} startIndex ${page.startIndex}, wanted ${expected.length} ${start}`,
          );
        ids.push(...page.Resources.map((r: { id: string }) => r.id));
      }
      t.same(ids, expected, `${filter}: ${expected.length} users, in order, page by page`);
    }
    t.ok(
      FILTERS.some((f) => everyone.filter((r) => matches(r, parseFilter(f))).length > 2),
      'some filter spans several pages',
    );
  });
}
