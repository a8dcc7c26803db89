// Issue 22: concurrent replaces and PATCHes of one group lose no member. Two connectors send at once: PATCHes that add
// one member each, PUTs that rename the group and list every member, and PATCHes that rename it. Each change is
// computed from the group as the previous one left it (it is read after the group's row is locked), so afterwards
// the group has every member, and every member's users.groups (what policies read) holds the group's final name and
// none of its former ones. On both databases.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const SCIM = 'application/scim+json';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USERS = 40;
const RENAMES = 10;

for (const provider of testProviders()) {
  t.test(`concurrent PUT and PATCH of one group on ${provider}`, async (t) => {
    const ta = await createTestApp({
      provider,
      env: { RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_ORG_PER_MINUTE: '0' },
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
    const send = async (token: string, method: string, path: string, body?: unknown) => {
      // a connector retries a 503 (Retry-After), as Okta and Entra ID do; such an answer changed nothing
      for (let attempt = 0; ; attempt++) {
        const res = await ta.request('piedpipers', {
          method: method as 'GET',
          url: `/scim/v2/${okta.id}${path}`,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': SCIM }) },
          ...(body !== undefined && { payload: JSON.stringify(body) }),
        });
        if (res.statusCode !== 503 || attempt === 30) return res;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
      }
    };

    const users: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const res = await send(tokenA, 'POST', '/Users', {
        schemas: [USER],
        userName: `u${i}@piedpipers.example`,
        emails: [{ value: `u${i}@piedpipers.example`, primary: true }],
      });
      if (res.statusCode !== 201) t.fail(res.body);
      users.push(res.json().id);
    }
    // the first half are members from the start; the PUTs list those only, so each member the PATCHes add must survive them
    const start = users.slice(0, USERS / 2);
    const created = await send(tokenB, 'POST', '/Groups', {
      schemas: [GROUP],
      displayName: 'team',
      members: start.map((value) => ({ value })),
    });
    if (created.statusCode !== 201) t.fail(created.body);
    const gid = created.json().id;

    const burst: (() => Promise<{ statusCode: number; body: string }>)[] = [];
    for (const id of users.slice(USERS / 2))
      burst.push(() =>
        send(tokenA, 'PATCH', `/Groups/${gid}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
        }),
      );
    for (let k = 0; k < RENAMES; k++) {
      burst.push(() =>
        send(tokenB, 'PATCH', `/Groups/${gid}`, {
          schemas: [PATCH],
          Operations: [{ op: 'Replace', path: 'displayName', value: `team-patched-${k}` }],
        }),
      );
      burst.push(() =>
        send(tokenB, 'PATCH', `/Groups/${gid}`, {
          schemas: [PATCH],
          Operations: [{ op: 'replace', value: { displayName: `team-replaced-${k}` } }],
        }),
      );
    }
    // interleave the adds and the renames, all in flight at once
    const order = burst.map((_, i) => (i * 7) % burst.length);
    t.equal(new Set(order).size, burst.length);
    const answers = await Promise.all(order.map((i) => burst[i]()));
    t.same(
      answers.filter((a) => a.statusCode !== 200).map((a) => `${a.statusCode} ${a.body.slice(0, 200)}`),
      [],
      'every PATCH answered 200',
    );

    const group = (await send(tokenA, 'GET', `/Groups/${gid}`)).json();
    t.same(new Set(group.members.map((m: { value: string }) => m.value)), new Set(users), 'the group has every member');
    t.match(group.displayName, /^team-(patched|replaced)-\d$/);
    const wrong: string[] = [];
    for (const id of users) {
      const row = await pp.store.users.findById(id);
      if (JSON.stringify(row!.groups) !== JSON.stringify([group.displayName]))
        wrong.push(`${row!.email}: ${JSON.stringify(row!.groups)}`);
    }
    t.same(wrong, [], `every member's users.groups is exactly [${group.displayName}]`);

    // two PUTs at once, each from the same read: each lists the members it means; the group ends as one of them, never a mix
    const a = users.slice(0, 10).map((value) => ({ value }));
    const b = users.slice(10, 30).map((value) => ({ value }));
    const [putA, putB] = await Promise.all([
      send(tokenA, 'PUT', `/Groups/${gid}`, { schemas: [GROUP], displayName: 'put-a', members: a }),
      send(tokenB, 'PUT', `/Groups/${gid}`, { schemas: [GROUP], displayName: 'put-b', members: b }),
    ]);
    t.same([putA.statusCode, putB.statusCode], [200, 200], 'both PUTs answered 200');
    const after = (await send(tokenA, 'GET', `/Groups/${gid}`)).json();
    const expected = after.displayName === 'put-a' ? a : b;
    t.same(
      new Set(after.members.map((m: { value: string }) => m.value)),
      new Set(expected.map((m) => m.value)),
      `the group is exactly what ${after.displayName} listed`,
    );
    for (const id of users) {
      const row = await pp.store.users.findById(id);
      const isMember = expected.some((m) => m.value === id);
      if (JSON.stringify(row!.groups) !== JSON.stringify(isMember ? [after.displayName] : []))
        wrong.push(`${row!.email}: ${JSON.stringify(row!.groups)}`);
    }
    t.same(wrong, [], 'users.groups follows the PUT that won');
  });
}
