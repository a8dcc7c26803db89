// Deleting an organisation removes every row of it, in every table that carries an orgId (read from the schema, so
// a table added later without a place in store/org-deletion.ts fails here), and its login flows in Redis; another
// organisation keeps every row; the platform audit keeps the record of the deletion. Both databases, and Redis.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createOrg, createTestContext, testProviders, type TestContext } from '../helpers/context.ts';
import { freshRedisPrefix, redisSkipped } from '../helpers/redis.ts';
import { deleteOrganization } from '../../src/orgs/operator-service.ts';
import { ORG_TABLES } from '../../src/store/org-deletion.ts';
import type { Db } from '../../src/store/engine/database.ts';

/** Every model of the schema with an orgId column, as Prisma's delegate name; but the platform audit log, which
 *  names organisations and is kept on purpose. */
const modelsWithOrgId = [...readFileSync('prisma/schema.prisma', 'utf8').matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)]
  .filter((m) => /^\s+orgId\s/m.test(m[2]) && m[1] !== 'PlatformAuditEvent')
  .map((m) => m[1][0].toLowerCase() + m[1].slice(1));

type Counter = { count(args: { where: { orgId: string } }): Promise<number> };
const countsOf = async (db: Db, orgId: string): Promise<Record<string, number>> =>
  Object.fromEntries(
    await Promise.all(
      modelsWithOrgId.map(async (m) => [
        m,
        await (db[m as keyof Db] as unknown as Counter).count({ where: { orgId } }),
      ]),
    ),
  );

/** One or more rows of the organisation in every table, through the store where it has a method, else directly. */
async function populate(tc: TestContext, org: Awaited<ReturnType<typeof createOrg>>) {
  const { store } = org;
  const db = tc.ctx.store.db;
  const now = tc.clock.now();
  const later = new Date(now.getTime() + 3600_000);
  const idp = await store.identityProviders.create({
    name: 'Okta',
    entityId: `http://okta/${org.org.slug}`,
    ssoUrl: 'https://okta.example/sso',
    certificates: [],
  });
  const app = await store.applications.create({
    name: 'Jira',
    entityId: `https://jira/${org.org.slug}`,
    acsUrls: ['https://jira.example/acs'],
  });
  const user = await store.users.create({ email: 'ann@customer.example' });
  await store.users.link(user.id, idp.id, 'ann@customer.example');
  await store.totp.savePending(user.id, { secretEnc: 'x', algorithm: 'SHA1', digits: 6, period: 30 });
  await store.totp.replaceRecoveryCodes(user.id, ['h1', 'h2']);
  await store.webauthn.create({
    userId: user.id,
    credentialId: `cred-${org.org.slug}`,
    publicKey: 'pk',
    counter: 0,
    transports: ['usb'],
    deviceType: 'singleDevice',
    backedUp: false,
    name: 'Blue key',
  });
  await store.devices.create({ userId: user.id, label: 'laptop', expiresAt: later });
  await store.flows.create({ id: randomUUID(), stage: 'started', appId: app.id, data: {}, expiresAt: later });
  const sessionId = randomUUID();
  await store.sessions.create({ id: sessionId, userId: user.id, idpId: idp.id, nameId: 'ann', expiresAt: later });
  await store.sessions.addApp(sessionId, app.id, 'ann', 'idx');
  await store.oneTimeUse.consume('assertion', randomUUID(), later, now);
  const admin = (await store.admins.list())[0];
  await store.adminSessions.create({ id: randomUUID(), adminId: admin.id, csrfToken: 'c', expiresAt: later });
  await store.admins.createInvite({
    email: 'new@x.example',
    role: 'viewer',
    tokenHash: randomUUID(),
    invitedBy: admin.email,
    expiresAt: later,
  });
  await store.apiTokens.create({
    name: 't',
    tokenHash: randomUUID(),
    prefix: 'p',
    role: 'viewer',
    expiresAt: null,
    createdBy: 'test',
  });
  await store.scimTokens.create({ idpId: idp.id, name: 's', tokenHash: randomUUID(), prefix: 'p' });
  const group = await db.scimGroup.create({ data: { orgId: org.org.id, idpId: idp.id, displayName: 'Eng' } });
  await db.scimGroupMember.create({ data: { orgId: org.org.id, groupId: group.id, userId: user.id } });
  await db.importJob.create({ data: { orgId: org.org.id, status: 'done', mode: 'upsert', fileHash: 'h' } });
  await store.audit.record({ type: 'login.success', userId: user.id, at: now });
  return { sessionId };
}

async function run(t: Test, tc: TestContext, redis?: ReturnType<typeof freshRedisPrefix>) {
  const gone = await createOrg(tc.ctx, 'gone', 'Gone Ltd');
  const kept = await createOrg(tc.ctx, 'kept', 'Kept Ltd');
  const { sessionId } = await populate(tc, gone);
  await populate(tc, kept);
  const keptBefore = await countsOf(tc.ctx.store.db, kept.org.id);
  const goneBefore = await countsOf(tc.ctx.store.db, gone.org.id);
  t.same(
    Object.entries(goneBefore)
      .filter(([, n]) => n === 0)
      .map(([m]) => m),
    redis ? ['loginFlow'] : [],
    'the organisation has rows in every table (its flows are in Redis when configured)',
  );
  t.same(
    modelsWithOrgId.filter((m) => !(ORG_TABLES as readonly string[]).includes(m)),
    [],
    'every table with an orgId is in the deletion',
  );
  if (redis)
    t.ok(
      (await redis.keys()).some((k) => k.includes(gone.org.id)),
      'a flow of it in Redis',
    );

  await t.rejects(
    deleteOrganization(tc.ctx, gone.org.id, 'kept', { email: 'op@platform.example', as: 'operator' }),
    { code: 'validation_failed', message: /confirm: .*gone/ },
    'the slug must be repeated',
  );
  const result = await deleteOrganization(tc.ctx, gone.org.id, 'gone', {
    email: 'op@platform.example',
    as: 'operator',
  });

  t.same(
    Object.values(await countsOf(tc.ctx.store.db, gone.org.id)).filter((n) => n > 0),
    [],
    'no row of it is left',
  );
  t.equal(await tc.ctx.store.organizations.findById(gone.org.id), null);
  t.equal(
    await tc.ctx.store.db.sessionApp.count({ where: { sessionId } }),
    0,
    'rows without an orgId went with their parent',
  );
  t.same(await countsOf(tc.ctx.store.db, kept.org.id), keptBefore, 'the other organisation keeps every row');
  if (redis) {
    t.notOk(
      (await redis.keys()).some((k) => k.includes(gone.org.id)),
      'its Redis keys are gone',
    );
    t.ok(
      (await redis.keys()).some((k) => k.includes(kept.org.id)),
      "the other organisation's are not",
    );
    t.equal(result.redisKeys, 1);
  }
  const [line] = await tc.ctx.store.platform.audit.list();
  t.match(line, {
    type: 'organization.deleted',
    actor: 'op@platform.example',
    orgId: gone.org.id,
    orgSlug: 'gone',
    details: { name: 'Gone Ltd', by: 'operator', rows: { user: 1, organization: 1 } },
  });
  await t.rejects(deleteOrganization(tc.ctx, gone.org.id, 'gone', { email: 'op@platform.example', as: 'operator' }), {
    code: 'organization_not_found',
  });
}

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    await run(t, tc);
  });
}

t.test('with Redis (login flows there)', { skip: redisSkipped }, async (t) => {
  const redis = freshRedisPrefix();
  const tc = await createTestContext({ provider: 'sqlite', env: redis.env });
  t.teardown(async () => {
    await tc.cleanup();
    await redis.clear();
  });
  await run(t, tc, redis);
});
