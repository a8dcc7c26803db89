// One organisation's repositories can never read or change another organisation's rows, on both databases.
import t from 'tap';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const a = await createOrg(tc.ctx, 'orga', 'Org A');
    const b = await createOrg(tc.ctx, 'orgb', 'Org B');
    const now = tc.clock.now();

    // Org A's data, with the same natural keys that org B will also use.
    const idpA = await a.store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/shared',
      ssoUrl: 'https://a.okta.example/sso',
      certificates: [],
    });
    const appA = await a.store.applications.create({
      name: 'Jira',
      entityId: 'https://jira.example/shared',
      acsUrls: ['https://jira.example/acs'],
    });
    const userA = await a.store.users.create({ email: 'same@customer.example', firstName: 'Ann' });
    await a.store.users.link(userA.id, idpA.id, 'same@customer.example');
    const keyA = (await a.store.signingKeys.active())!;

    t.test('the same natural keys may exist in both organisations', async (t) => {
      const idpB = await b.store.identityProviders.create({
        name: 'Okta',
        entityId: 'http://www.okta.com/shared',
        ssoUrl: 'https://b.okta.example/sso',
        certificates: [],
      });
      await b.store.applications.create({
        name: 'Jira',
        entityId: 'https://jira.example/shared',
        acsUrls: ['https://jira-b.example/acs'],
      });
      const userB = await b.store.users.create({ email: 'SAME@customer.example', firstName: 'Bob' });
      t.not(userB.id, userA.id);
      t.equal((await b.store.identityProviders.findByEntityId('http://www.okta.com/shared'))!.id, idpB.id);
      t.equal((await a.store.identityProviders.findByEntityId('http://www.okta.com/shared'))!.id, idpA.id);
    });

    t.test('reads by id across organisations find nothing', async (t) => {
      t.equal(await b.store.identityProviders.findById(idpA.id), null);
      t.equal(await b.store.applications.findById(appA.id), null);
      t.equal(await b.store.users.findById(userA.id), null);
      t.equal(
        (await b.store.users.findByEmail('same@customer.example'))!.firstName,
        'Bob',
        'by email: only its own user',
      );
      t.equal(await b.store.users.findByIdentity(idpA.id, 'same@customer.example'), null, 'identity links are scoped');
      t.equal(
        await b.store.users.hasIdentity(userA.id),
        false,
        'whether a user has links: only in its own organisation',
      );
      t.equal(await a.store.users.hasIdentity(userA.id), true);
      t.equal(await b.store.admins.findById((await a.store.admins.list())[0].id), null);
      t.notOk((await b.store.signingKeys.list()).some((k) => k.id === keyA.id));
      t.notOk((await b.store.audit.list()).some((e) => e.orgId === a.org.id));
    });

    t.test("lists contain only the organisation's own rows", async (t) => {
      for (const list of [
        await b.store.identityProviders.list(),
        await b.store.applications.list(),
        await b.store.users.list(),
      ]) {
        t.ok(list.length > 0);
        t.ok(list.every((row: { orgId: string }) => row.orgId === b.org.id));
      }
      t.equal(await b.store.users.count(), 1);
    });

    t.test('writes by id across organisations fail and change nothing', async (t) => {
      await t.rejects(b.store.identityProviders.update(idpA.id, { name: 'pwned' }));
      await t.rejects(b.store.applications.update(appA.id, { acsUrls: ['https://evil.example/acs'] }));
      await t.rejects(b.store.users.update(userA.id, { status: 'disabled' }));
      await t.rejects(b.store.users.delete(userA.id));
      await t.rejects(b.store.identityProviders.delete(idpA.id));
      await t.rejects(b.store.applications.delete(appA.id));
      await t.rejects(b.store.signingKeys.setStatus(keyA.id, 'retired', now));
      t.equal((await a.store.identityProviders.findById(idpA.id))!.name, 'Okta');
      t.same((await a.store.applications.findById(appA.id))!.acsUrls, ['https://jira.example/acs']);
      t.equal((await a.store.users.findById(userA.id))!.status, 'active');
      t.equal((await a.store.signingKeys.active())!.id, keyA.id);
    });

    t.test('one-time-use records are per organisation', async (t) => {
      const later = new Date(now.getTime() + 60_000);
      t.equal(await a.store.oneTimeUse.consume('assertion', '_id1', later, now), true);
      t.equal(await a.store.oneTimeUse.consume('assertion', '_id1', later, now), false, 'second use refused');
      t.equal(
        await b.store.oneTimeUse.consume('assertion', '_id1', later, now),
        true,
        'another organisation has its own namespace',
      );
      const afterExpiry = new Date(later.getTime() + 1);
      t.equal(
        await a.store.oneTimeUse.consume('assertion', '_id1', new Date(afterExpiry.getTime() + 60_000), afterExpiry),
        true,
        'an expired record may be reused',
      );
    });

    t.test('deleting an organisation removes only its rows', async (t) => {
      await tc.ctx.store.db.organization.delete({ where: { id: b.org.id } });
      t.equal((await a.store.users.list()).length, 1);
      t.equal((await a.store.identityProviders.list()).length, 1);
    });
  });
}
