// resolveUser against real databases, for the interleavings an HTTP test cannot produce on demand: two first logins
// at once (the loser of the just-in-time insert), and an identity linked to someone else between the decision and
// the link. Each interleaving is replayed deterministically by a store whose first lookup answers as it did before
// the other writer's commit.
import t from 'tap';
import type { Profile } from '../../src/broker/upstream/profile.ts';
import type { IdentityProviderInput } from '../../src/store/identity-providers.ts';
import type { TenantStore } from '../../src/store/store.ts';
import type { UserRepository } from '../../src/store/users.ts';
import { LinkRefusal } from '../../src/users/link-refusal.ts';
import { resolveUser } from '../../src/users/resolve-user.ts';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';

const profile = (email: string): Profile => ({ email, firstName: null, lastName: null, groups: [] });

/** The tenant store with some user lookups overridden (the rest as stored). */
function withUsers(store: TenantStore, override: Partial<UserRepository>): TenantStore {
  const users = Object.assign(Object.create(store.users) as UserRepository, override);
  return { ...store, users };
}
/** A lookup that misses once (the other writer had not committed yet), then reads the database. */
function missingOnce<A extends unknown[], R>(read: (...args: A) => Promise<R>) {
  let missed = false;
  return async (...args: A): Promise<R | null> => {
    if (!missed) {
      missed = true;
      return null;
    }
    return read(...args);
  };
}

for (const provider of testProviders()) {
  t.test(`${provider}: resolveUser interleavings`, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const { store } = await createOrg(tc.ctx, 'piedpipers');
    const idp = (name: string, input: IdentityProviderInput = {}) =>
      store.identityProviders.create({
        name,
        entityId: `https://${name.toLowerCase()}.example`,
        ssoUrl: `https://${name.toLowerCase()}.example/sso`,
        ...input,
      });
    const owner = await idp('Customer', { emailDomains: ['customer.example'] });
    const open = await idp('Open');
    const rival = await idp('Rival');

    t.test(
      'the loser of a just-in-time race is a login to an existing user: the linking rules apply, not a blind link',
      async (t) => {
        const victim = await store.users.create({ email: 'race@elsewhere.example', source: 'jit' });
        await store.users.link(victim.id, open.id, 'open-race', 'login');
        const racing = withUsers(store, { findByEmail: missingOnce((e: string) => store.users.findByEmail(e)) });
        const err = (await t.rejects(
          resolveUser(racing, {
            idp: rival,
            nameId: 'rival-race',
            profile: profile('race@elsewhere.example'),
            jitProvisioning: true,
          }),
        )) as LinkRefusal;
        t.ok(err instanceof LinkRefusal);
        t.match(err, { status: 403, code: 'link_refused', reason: 'domain_not_owned', existingUserId: victim.id });
        t.match(await store.users.identities(victim.id), [{ idpId: open.id, nameId: 'open-race' }], 'no link added');
        t.equal(
          (await store.users.list()).filter((u) => u.emailLower === 'race@elsewhere.example').length,
          1,
          'no second user',
        );
      },
    );

    t.test("the loser of a race with the same identity follows the winner's link, even in mode never", async (t) => {
      const strict = await idp('Strict', { linkingMode: 'never' });
      const winner = await store.users.create({ email: 'twin@elsewhere.example', source: 'jit' });
      await store.users.link(winner.id, strict.id, 'strict-twin', 'login');
      const racing = withUsers(store, {
        findByIdentity: missingOnce((i: string, n: string) => store.users.findByIdentity(i, n)),
        findByEmail: missingOnce((e: string) => store.users.findByEmail(e)),
      });
      const resolved = await resolveUser(racing, {
        idp: strict,
        nameId: 'strict-twin',
        profile: profile('twin@elsewhere.example'),
        jitProvisioning: true,
      });
      t.match(resolved, { how: 'linked', user: { id: winner.id } });
    });

    t.test('an identity linked to someone else meanwhile stays theirs: the login reaches its holder', async (t) => {
      const ann = await store.users.create({ email: 'ann@customer.example', source: 'imported' });
      const holder = await store.users.create({ email: 'holder@customer.example', source: 'admin' });
      const racing = withUsers(store, {
        link: async (userId, idpId, nameId, source) => {
          await store.users.link(holder.id, idpId, nameId, 'admin'); // an admin was faster
          return store.users.link(userId, idpId, nameId, source);
        },
      });
      const resolved = await resolveUser(racing, {
        idp: owner,
        nameId: '00u-contested',
        profile: profile('ann@customer.example'),
        jitProvisioning: false,
      });
      t.match(resolved, { how: 'linked', user: { id: holder.id } });
      t.same(await store.users.identities(ann.id), [], 'ann was not linked');
    });

    t.test('refusals carry a reason and change nothing', async (t) => {
      const dora = await store.users.create({ email: 'dora@customer.example', source: 'imported' });
      const cases: [string, Parameters<typeof resolveUser>[1], string][] = [
        [
          'another IdP, not its domain',
          { idp: rival, nameId: 'r-dora', profile: profile('dora@customer.example'), jitProvisioning: true },
          'domain_not_owned',
        ],
        [
          "just in time into another IdP's domain",
          { idp: open, nameId: 'o-new', profile: profile('new@customer.example'), jitProvisioning: true },
          'domain_owned_by_other_idp',
        ],
        [
          'an address without a checkable domain',
          { idp: open, nameId: 'o-odd', profile: profile('odd@xn--invalid-.example'), jitProvisioning: true },
          'email_domain_invalid',
        ],
      ];
      for (const [name, input, reason] of cases) {
        const err = (await t.rejects(resolveUser(store, input), name)) as LinkRefusal;
        t.equal(err.reason, reason, name);
      }
      t.same(await store.users.identities(dora.id), []);
      t.equal(await store.users.findByEmail('new@customer.example'), null);
      t.equal(await store.users.findByEmail('odd@xn--invalid-.example'), null);
      const linked = await resolveUser(store, {
        idp: owner,
        nameId: '00u-dora',
        profile: profile('DORA@customer.example'),
        jitProvisioning: false,
      });
      t.match(linked, { how: 'matched_email', user: { id: dora.id } });
      t.match(await store.users.identities(dora.id), [{ idpId: owner.id, nameId: '00u-dora', source: 'login' }]);
    });
  });
}
