// Issue 22: no lost update under a burst. Two connectors of one IdP (two SCIM tokens) send 1,000 PATCH requests at
// once: each of 100 users gets givenName from one and familyName from the other, and both add every user to the
// same four groups. Afterwards the directory holds every change: each group has all 100 members, each user's
// users.groups (what policies read) names all four groups, and each user has both names. On both databases.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const SCIM = 'application/scim+json';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USERS = Number(process.env.BURST_USERS ?? 100);
const GROUPS = 4;

for (const provider of testProviders()) {
  t.test(`1,000 concurrent PATCHes from two connectors on ${provider}`, async (t) => {
    // the burst is the point: the per-organisation rate limit (its own tests cover it) would answer most of it with 429
    const ta = await createTestApp({
      provider,
      env: { RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_ORG_PER_MINUTE: '0' },
      ...(process.env.BURST_LOG && { logger: { level: 'warn' } }),
    });
    t.teardown(ta.cleanup);
    const pp = await createOrg(ta.ctx, 'piedpipers');
    const okta = await pp.store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/exk1',
      ssoUrl: 'https://pp.okta.example/sso',
      emailDomains: ['piedpipers.example'],
      linkingMode: 'verified-domains',
    });
    const tokenA = (await createScimToken(pp.store, ta.clock, okta.id, 'connector A', 'test')).token;
    const tokenB = (await createScimToken(pp.store, ta.clock, okta.id, 'connector B', 'test')).token;
    // A connector retries a 503 (Retry-After), as Okta and Entra ID do: under this burst the PostgreSQL pool sheds
    // what it cannot take in time, and such a request must have changed nothing, so that its retry completes it.
    let retried = 0;
    const as = (token: string) => async (method: string, path: string, body?: unknown) => {
      for (let attempt = 0; ; attempt++) {
        const res = await send(token, method, path, body);
        if (res.statusCode !== 503 || attempt === 30) return res;
        retried++;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
      }
    };
    const send = (token: string, method: string, path: string, body?: unknown) =>
      ta.request('piedpipers', {
        method: method as 'GET',
        url: `/scim/v2/${okta.id}${path}`,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': SCIM }) },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
    const A = as(tokenA);
    const B = as(tokenB);

    const users: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const res = await A('POST', '/Users', {
        schemas: [USER],
        userName: `u${i}@piedpipers.example`,
        name: { givenName: 'Old', familyName: 'Old' },
        emails: [{ value: `u${i}@piedpipers.example`, primary: true }],
      });
      if (res.statusCode !== 201) t.fail(res.body);
      users.push(res.json().id);
    }
    const groups: string[] = [];
    for (let g = 0; g < GROUPS; g++) {
      const res = await B('POST', '/Groups', { schemas: [GROUP], displayName: `team-${g}` });
      if (res.statusCode !== 201) t.fail(res.body);
      groups.push(res.json().id);
    }

    const requests: Promise<{ statusCode: number; body: string }>[] = [];
    const burst: (() => Promise<{ statusCode: number; body: string }>)[] = [];
    users.forEach((id, i) => {
      burst.push(() =>
        A('PATCH', `/Users/${id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'replace', path: 'name.givenName', value: `Given${i}` }],
        }),
      );
      burst.push(() =>
        B('PATCH', `/Users/${id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'replace', value: { 'name.familyName': `Family${i}` } }],
        }),
      );
      for (const g of groups) {
        burst.push(() =>
          A('PATCH', `/Groups/${g}`, {
            schemas: [PATCH],
            Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
          }),
        );
        burst.push(() =>
          B('PATCH', `/Groups/${g}`, {
            schemas: [PATCH],
            Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
          }),
        );
      }
    });
    t.equal(burst.length, USERS * 10);
    // interleaved, all in flight at once
    for (let i = 0; i < burst.length; i += 2)
      requests.push(burst[(i * 7) % burst.length](), burst[(i * 7 + 1) % burst.length]());
    const answers = await Promise.all(requests);
    const failed = answers.filter((a) => a.statusCode !== 200);
    t.same(
      failed.map((f) => `${f.statusCode} ${f.body.slice(0, 200)}`),
      [],
      'every PATCH answered 200',
    );
    t.comment(`${retried} answers were 503 and retried`);

    for (const g of groups) {
      const res = await A('GET', `/Groups/${g}`);
      t.same(
        new Set(res.json().members.map((m: { value: string }) => m.value)),
        new Set(users),
        `group ${res.json().displayName} has every member`,
      );
    }
    const names = groups.map((_, g) => `team-${g}`).sort();
    let wrongGroups = 0;
    let wrongNames = 0;
    for (const [i, id] of users.entries()) {
      const row = await pp.store.users.findById(id);
      if (JSON.stringify([...row!.groups].sort()) !== JSON.stringify(names)) wrongGroups++;
      if (row!.firstName !== `Given${i}` || row!.lastName !== `Family${i}`) wrongNames++;
      if (i % 25 === 0) {
        const res = (await B('GET', `/Users/${id}`)).json();
        t.match(res, { name: { givenName: `Given${i}`, familyName: `Family${i}` } });
        t.equal(res.groups.length, GROUPS);
      }
    }
    t.equal(wrongGroups, 0, 'users.groups names all four groups for every user');
    t.equal(wrongNames, 0, 'every user has both the givenName of connector A and the familyName of connector B');
  });
}
