// The users list's filters, sorts and keyset pages (store/user-list-sql.ts through UserRepository.browse) on both
// databases: each filter alone and combined, always within the organisation (another organisation's user matching
// every filter never shows), each sort in both directions with ties broken by id, and pages walked forwards and
// backwards that add up to the whole list, neither skipping nor repeating a user. On SQLite the sorts read their index.
import t from 'tap';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';
import { listStatement, type UserListQuery, type UserSort } from '../../src/store/user-list-sql.ts';
import type { TenantStore } from '../../src/store/store.ts';

const day = (d: string) => new Date(`${d}T12:00:00Z`);

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    tc.clock.set(day('2026-02-01'));
    const now = tc.clock.now();
    const db = tc.ctx.store.db;
    const pp = await createOrg(tc.ctx, 'piedpipers');
    const hooli = await createOrg(tc.ctx, 'hooli');

    // An IdP of the organisation by its name here ('idp-a'...): each organisation has its own (an identity cannot
    // point at another organisation's IdP: the foreign key refuses it), created on first use.
    const idpIds = new Map<string, string>();
    const idp = (store: TenantStore, name: string) => idpIds.get(`${store.orgId}/${name}`) ?? name;
    async function idpOf(store: TenantStore, name: string) {
      if (!idpIds.has(`${store.orgId}/${name}`)) {
        const created = await store.identityProviders.create({
          name,
          entityId: `https://${name}.example/`,
          ssoUrl: `https://${name}.example/sso`,
          certificates: [],
        });
        idpIds.set(`${store.orgId}/${name}`, created.id);
      }
      return idp(store, name);
    }
    async function user(
      store: TenantStore,
      email: string,
      o: {
        first?: string;
        last?: string;
        groups?: string[];
        status?: string;
        lastLogin?: string;
        created: string;
        totp?: 'active' | 'pending';
        locked?: boolean;
        passkey?: boolean;
        idp?: string;
      },
    ) {
      const u = await store.users.create({
        email,
        firstName: o.first ?? null,
        lastName: o.last ?? null,
        groups: o.groups ?? [],
        status: o.status ?? 'active',
        lastLoginAt: o.lastLogin ? day(o.lastLogin) : null,
      });
      await db.user.update({ where: { id: u.id }, data: { createdAt: day(o.created) } });
      if (o.totp)
        await db.totpFactor.create({
          data: {
            orgId: store.orgId,
            userId: u.id,
            secretEnc: 'sealed',
            status: o.totp,
            lockedUntil: o.locked ? day('2026-02-02') : null,
          },
        });
      if (o.passkey)
        await db.webAuthnCredential.create({
          data: {
            orgId: store.orgId,
            userId: u.id,
            credentialId: `cred-${u.id}`,
            publicKey: 'pk',
            deviceType: 'singleDevice',
            name: 'Key',
          },
        });
      if (o.idp) await store.users.link(u.id, await idpOf(store, o.idp), `${email}-nameid`);
      return u.id;
    }
    const ids = {
      ann: await user(pp.store, 'ann@pp.example', {
        first: 'Ann',
        last: 'Lee',
        groups: ['eng'],
        lastLogin: '2026-01-03',
        created: '2025-01-05',
        totp: 'active',
        idp: 'idp-a',
      }),
      bob: await user(pp.store, 'bob@pp.example', {
        first: 'Bob',
        last: 'Adams',
        groups: ['eng', 'ops'],
        status: 'disabled',
        created: '2025-01-02',
        passkey: true,
      }),
      cat: await user(pp.store, 'cat@pp.example', {
        first: 'Cat',
        last: 'Young',
        lastLogin: '2026-01-01',
        created: '2025-01-03',
        totp: 'active',
        locked: true,
        passkey: true,
      }),
      dan: await user(pp.store, 'dan@pp.example', {
        groups: ['ops'],
        lastLogin: '2026-01-02',
        created: '2025-01-03',
        totp: 'pending',
        idp: 'idp-b',
      }),
      eve: await user(pp.store, 'eve@pp.example', {
        first: 'Eve',
        last: 'Adams',
        groups: ['eng-lead'],
        created: '2025-01-04',
      }),
    };
    // Another organisation's user who matches every filter below: never listed.
    await user(hooli.store, 'aaa@hooli.example', {
      first: 'Aaa',
      last: 'Adams',
      groups: ['eng', 'ops'],
      lastLogin: '2026-01-05',
      created: '2025-01-01',
      totp: 'active',
      locked: true,
      passkey: true,
      idp: 'idp-a',
    });
    const nameOf = new Map(Object.entries(ids).map(([n, id]) => [id, n]));
    const names = async (q: Partial<UserListQuery>, store = pp.store) =>
      (await store.users.browse({ sort: 'email', order: 'asc', take: 50, ...q }, now)).users.map(
        (u) => nameOf.get(u.user.id) ?? u.user.email,
      );
    const byId = (a: string, b: string) => (ids[a as keyof typeof ids] < ids[b as keyof typeof ids] ? -1 : 1);

    t.test('filters, alone and combined, within the organisation', async (t) => {
      t.same(await names({}), ['ann', 'bob', 'cat', 'dan', 'eve'], "no filter: the organisation's users only");
      t.same(await names({ status: 'active' }), ['ann', 'cat', 'dan', 'eve']);
      t.same(await names({ status: 'disabled' }), ['bob']);
      t.same(await names({ status: 'locked' }), ['cat'], 'locked: the second factor is locked now');
      t.same(
        (await pp.store.users.browse({ sort: 'email', order: 'asc', take: 50, status: 'locked' }, day('2026-02-03')))
          .users,
        [],
        'and no longer once the lock has run out',
      );
      t.same(await names({ group: 'eng' }), ['ann', 'bob'], 'a group matches exactly (not eng-lead)');
      t.same(await names({ group: 'ops' }), ['bob', 'dan']);
      t.same(await names({ group: 'en' }), [], 'no prefix match on groups');
      t.same(await names({ group: 'eng" OR 1=1 --' }), [], 'a group is a value, never SQL');
      t.same(await names({ idpId: idp(pp.store, 'idp-a') }), ['ann'], 'linked identity at an IdP');
      t.same(await names({ idpId: idp(pp.store, 'idp-c') }), []);
      t.same(
        await names({ idpId: idp(hooli.store, 'idp-a') }),
        [],
        "another organisation's IdP id finds none of this one's users (nor its own user: the list is this one's)",
      );
      t.same(await names({ secondFactor: 'none' }), ['dan', 'eve'], 'none (a pending authenticator is not a factor)');
      t.same(await names({ secondFactor: 'totp' }), ['ann']);
      t.same(await names({ secondFactor: 'passkey' }), ['bob']);
      t.same(await names({ secondFactor: 'both' }), ['cat']);
      t.same(await names({ search: 'adams' }), ['bob', 'eve'], 'search: a last name, as typed in lower case');
      t.same(await names({ search: 'CAT@' }), ['cat'], 'search: an email prefix without regard to case');
      t.same(await names({ group: 'eng', status: 'active' }), ['ann'], 'filters combine with AND');
      t.same(await names({ group: 'ops', secondFactor: 'none', idpId: idp(pp.store, 'idp-b'), status: 'active' }), [
        'dan',
      ]);
      t.equal(await pp.store.users.countMatching({ group: 'eng' }, now), 2, 'count over the same filter');
      t.equal(await pp.store.users.countMatching({}, now), 5);
      t.equal(
        await hooli.store.users.countMatching(
          { group: 'eng', status: 'locked', idpId: idp(hooli.store, 'idp-a'), secondFactor: 'both' },
          now,
        ),
        1,
        'the other organisation sees its own',
      );
    });

    const expected: Record<UserSort, string[]> = {
      email: ['ann', 'bob', 'cat', 'dan', 'eve'],
      // last name, then first name; a user without names first
      name: ['dan', 'bob', 'eve', 'ann', 'cat'],
      created: ['bob', ...['cat', 'dan'].sort(byId), 'eve', 'ann'],
      // never signed in counts as the oldest
      lastLogin: [...['bob', 'eve'].sort(byId), 'cat', 'dan', 'ann'],
    };

    t.test('each sort, both ways, ties broken by id', async (t) => {
      for (const [sort, order] of Object.entries(expected) as [UserSort, string[]][]) {
        t.same(await names({ sort, order: 'asc' }), order, `${sort} ascending`);
        t.same(await names({ sort, order: 'desc' }), [...order].reverse(), `${sort} descending`);
      }
      t.same(await names({ sort: 'name', order: 'asc', group: 'eng' }), ['bob', 'ann'], 'sort and filter together');
    });

    t.test('keyset pages add up to the list, forwards and backwards, for every sort', async (t) => {
      for (const [sort, full] of Object.entries(expected) as [UserSort, string[]][]) {
        for (const order of ['asc', 'desc'] as const) {
          const list = order === 'asc' ? full : [...full].reverse();
          const seen: string[] = [];
          const pages: { first: unknown; last: unknown }[] = [];
          let after: UserListQuery['after'];
          for (let i = 0; i < 10; i++) {
            const page = await pp.store.users.browse({ sort, order, take: 2, after }, now);
            seen.push(...page.users.map((u) => nameOf.get(u.user.id)!));
            pages.push({ first: page.users[0]?.cursor, last: page.users.at(-1)?.cursor });
            t.equal(page.hasPrevious, i > 0, `${sort} ${order} page ${i + 1}: previous`);
            if (!page.hasNext) break;
            after = page.users.at(-1)!.cursor;
          }
          t.same(seen, list, `${sort} ${order}: forwards, no user skipped or repeated`);
          // Backwards from the last page's first user: the pages before it, in order.
          const back: string[] = [];
          let before = pages.at(-1)!.first as UserListQuery['before'];
          for (let i = 0; i < 10 && before; i++) {
            const page = await pp.store.users.browse({ sort, order, take: 2, before }, now);
            back.unshift(...page.users.map((u) => nameOf.get(u.user.id)!));
            before = page.hasPrevious ? page.users[0].cursor : undefined;
          }
          t.same([...back, ...seen.slice(-(list.length - back.length))], list, `${sort} ${order}: backwards`);
        }
      }
    });

    t.test('a page boundary holds while users are added before it', async (t) => {
      const first = await pp.store.users.browse({ sort: 'name', order: 'asc', take: 2 }, now);
      t.same(
        first.users.map((u) => nameOf.get(u.user.id)),
        ['dan', 'bob'],
      );
      const added = await pp.store.users.create({
        email: 'aaron@pp.example',
        firstName: 'Aaron',
        lastName: 'Aardvark',
      });
      t.teardown(() => pp.store.users.delete(added.id));
      const second = await pp.store.users.browse(
        { sort: 'name', order: 'asc', take: 2, after: first.users[1].cursor },
        now,
      );
      t.same(
        second.users.map((u) => nameOf.get(u.user.id)),
        ['eve', 'ann'],
        'the next page goes on after bob (no user shown twice)',
      );
    });

    t.test("offset pages (the API's skip) follow the same order", async (t) => {
      const page = await pp.store.users.browse({ sort: 'created', order: 'desc', take: 2, skip: 2 }, now);
      t.same(
        page.users.map((u) => nameOf.get(u.user.id)),
        [...expected.created].reverse().slice(2, 4),
      );
      t.ok(page.hasNext);
      t.ok(page.hasPrevious);
    });

    t.test("findByIds: only this organisation's users", async (t) => {
      const hooliIds = (await hooli.store.users.list()).map((u) => u.id);
      t.same(
        (await pp.store.users.findByIds([ids.ann, ...hooliIds, 'no-such-id'])).map((u) => u.id),
        [ids.ann],
      );
      t.same(await pp.store.users.groupNames(), ['eng', 'eng-lead', 'ops'], 'the groups in use');
    });

    if (provider === 'sqlite') {
      t.test('SQLite reads each sort from its index (no sorting step)', async (t) => {
        for (const sort of ['email', 'name', 'created', 'lastLogin'] as UserSort[]) {
          const { statement, params } = listStatement({ sort, order: 'asc', take: 50 }, pp.org.id, now, 'sqlite');
          const plan = (
            await db.$queryRawUnsafe<{ detail: string }[]>(`EXPLAIN QUERY PLAN ${statement.sqlite}`, ...params)
          )
            .map((r) => r.detail)
            .join('; ');
          t.notMatch(plan, /TEMP B-TREE/, `${sort}: ${plan}`);
          t.match(plan, /USING (COVERING )?INDEX User_/, `${sort}: an index of User`);
        }
      });
    }
  });
}
