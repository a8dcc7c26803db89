// Foreign keys that carry the organisation (issue 18): a row that points at another tenant row does so by
// (orgId, id), so the DATABASE refuses a row of organisation A that points at a row of organisation B, whatever the
// application code does. Raw SQL here, on both databases; and the migration that added the keys keeps existing rows.
import t from 'tap';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createTestContext, createOrg, freshPostgres, testProviders } from '../helpers/context.ts';
import { sql, type SqlRunner } from '../../src/store/engine/sql.ts';
import { migrate, readMigrations, withSchemaEngine } from '../../src/store/engine/migrations.ts';
import type { DatabaseTarget, DbProvider } from '../../src/store/engine/database.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MIGRATION = '20261206033459_org_scoped_foreign_keys';

async function refused(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (err) {
    return String((err as Error).message ?? err);
  }
  return 'accepted';
}
const FK = /foreign key|violates/i;

type Raw = { exec(q: string, params?: unknown[]): Promise<Record<string, unknown>[]>; close(): Promise<void> };
/** A plain connection to the database, outside the store (which would migrate it on opening). */
async function openRaw(target: DatabaseTarget): Promise<Raw> {
  if (target.provider === 'sqlite') {
    const db = new Database(target.location);
    return {
      exec: async (q, params = []) => {
        const s = db.prepare(q);
        if (s.reader) return s.all(...params) as Record<string, unknown>[];
        s.run(...params);
        return [];
      },
      close: async () => void db.close(),
    };
  }
  const client = new pg.Client({ connectionString: target.location });
  await client.connect();
  return {
    exec: async (q, params = []) => {
      let i = 0;
      return (
        await client.query(
          q.replace(/\?/g, () => `$${++i}`),
          params,
        )
      ).rows;
    },
    close: () => client.end(),
  };
}

for (const provider of testProviders()) {
  t.test(`${provider}: the database refuses a row that points into another organisation`, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const runner: SqlRunner = tc.ctx.store.sql;
    const a = await createOrg(tc.ctx, 'orga', 'Org A');
    const b = await createOrg(tc.ctx, 'orgb', 'Org B');
    const A = a.org.id;
    const B = b.org.id;
    const now = tc.clock.now();
    const idp = async (s: typeof a.store) =>
      (
        await s.identityProviders.create({
          name: 'Okta',
          entityId: 'http://okta/x',
          ssoUrl: 'https://okta/sso',
          certificates: [],
        })
      ).id;
    const app = async (s: typeof a.store) =>
      (await s.applications.create({ name: 'Jira', entityId: 'https://jira/x', acsUrls: ['https://jira/acs'] })).id;
    const [idpA, idpB, appA, appB] = [await idp(a.store), await idp(b.store), await app(a.store), await app(b.store)];
    const userA = (await a.store.users.create({ email: 'ann@a.example' })).id;
    const userB = (await b.store.users.create({ email: 'bob@b.example' })).id;
    const groupA = (await a.store.scim.createGroup(idpA, { displayName: 'Eng', externalId: null })).id;
    const groupB = (await b.store.scim.createGroup(idpB, { displayName: 'Eng', externalId: null })).id;
    const adminId = async (org: string) =>
      String((await runner.all(sql(`SELECT "id" FROM "Admin" WHERE "orgId" = ?`), [org]))[0].id);
    const [adminA, adminB] = [await adminId(A), await adminId(B)];

    const member = sql(`INSERT INTO "ScimGroupMember" ("orgId", "groupId", "userId", "createdAt") VALUES (?, ?, ?, ?)`);
    const identity = sql(
      `INSERT INTO "UserIdentity" ("id", "orgId", "userId", "idpId", "nameId", "source", "createdAt") VALUES (?, ?, ?, ?, ?, 'login', ?)`,
    );
    const credential = sql(
      `INSERT INTO "WebAuthnCredential" ("id", "orgId", "userId", "credentialId", "publicKey", "counter", "transports", "deviceType", "backedUp", "name", "createdAt") VALUES (?, ?, ?, ?, 'pk', 0, '[]', 'singleDevice', ?, 'key', ?)`,
    );
    const totp = sql(
      `INSERT INTO "TotpFactor" ("id", "orgId", "userId", "secretEnc", "status", "algorithm", "digits", "period", "failedAttempts", "createdAt") VALUES (?, ?, ?, 'x', 'pending', 'SHA1', 6, 30, 0, ?)`,
    );
    const session = sql(
      `INSERT INTO "BrokerSession" ("id", "orgId", "userId", "idpId", "nameId", "createdAt", "expiresAt") VALUES (?, ?, ?, ?, 'n', ?, ?)`,
    );
    const sessionApp = sql(
      `INSERT INTO "SessionApp" ("id", "orgId", "sessionId", "appId", "nameId", "sessionIndex", "createdAt") VALUES (?, ?, ?, ?, 'n', 'i', ?)`,
    );
    const adminSession = sql(
      `INSERT INTO "AdminSession" ("id", "orgId", "adminId", "csrfToken", "createdAt", "expiresAt") VALUES (?, ?, ?, 'c', ?, ?)`,
    );
    const scimToken = sql(
      `INSERT INTO "ScimToken" ("id", "orgId", "idpId", "name", "tokenHash", "prefix", "createdAt") VALUES (?, ?, ?, 't', ?, 'p', ?)`,
    );
    const later = new Date(now.getTime() + 3600_000);

    t.match(await refused(() => runner.run(member, [A, groupA, userB, now])), FK, "SCIM member: A's group, B's user");
    t.match(await refused(() => runner.run(member, [A, groupB, userA, now])), FK, "SCIM member: B's group, A's user");
    t.match(
      await refused(() => runner.run(identity, ['i1', A, userA, idpB, 'ann', now])),
      FK,
      "identity of A's user for B's IdP",
    );
    t.match(
      await refused(() => runner.run(identity, ['i2', A, userB, idpA, 'bob', now])),
      FK,
      "identity in A for B's user",
    );
    t.match(
      await refused(() => runner.run(credential, ['c1', A, userB, 'cred', false, now])),
      FK,
      "A's passkey for B's user",
    );
    t.match(await refused(() => runner.run(totp, ['t1', A, userB, now])), FK, "A's authenticator for B's user");
    t.match(
      await refused(() => runner.run(session, ['s1', A, userB, idpA, now, later])),
      FK,
      "A's broker session for B's user",
    );
    t.match(
      await refused(() => runner.run(adminSession, ['as1', A, adminB, now, later])),
      FK,
      "A's admin session for B's admin",
    );
    t.match(
      await refused(() => runner.run(scimToken, ['st1', A, idpB, 'hash1', now])),
      FK,
      "A's SCIM token for B's IdP",
    );

    // The same rows within one organisation are accepted: the refusals above are about the organisation only.
    t.equal(await runner.run(member, [A, groupA, userA, now]), 1, 'SCIM member within A');
    t.equal(await runner.run(identity, ['i3', A, userA, idpA, 'ann', now]), 1, 'identity within A');
    t.equal(await runner.run(credential, ['c2', A, userA, 'cred', false, now]), 1, 'passkey within A');
    t.equal(await runner.run(session, ['s2', A, userA, idpA, now, later]), 1, 'broker session within A');
    t.equal(await runner.run(adminSession, ['as2', A, adminA, now, later]), 1, 'admin session within A');
    t.match(await refused(() => runner.run(sessionApp, ['sa1', A, 's2', appB, now])), FK, "A's session, B's app");
    t.match(
      await refused(() => runner.run(sessionApp, ['sa2', B, 's2', appB, now])),
      FK,
      "B's app, A's session (labelled as B's)",
    );
    t.equal(await runner.run(sessionApp, ['sa3', A, 's2', appA, now]), 1, 'session app within A');

    // Moving a child row into the other organisation is refused as well.
    t.match(
      await refused(() => runner.run(sql(`UPDATE "UserIdentity" SET "orgId" = ? WHERE "id" = 'i3'`), [B])),
      FK,
      'an identity cannot be moved to B',
    );
    t.match(
      await refused(() =>
        runner.run(sql(`UPDATE "ScimGroupMember" SET "userId" = ? WHERE "groupId" = ?`), [userB, groupA]),
      ),
      FK,
      "a member row cannot be pointed at B's user",
    );

    // Deleting the parent still takes its children (the cascades kept their behaviour).
    await a.store.users.delete(userA);
    const left = async (table: string) =>
      Number((await runner.all(sql(`SELECT count(*) AS n FROM "${table}" WHERE "orgId" = ?`), [A]))[0].n);
    for (const table of ['ScimGroupMember', 'UserIdentity', 'WebAuthnCredential', 'BrokerSession', 'SessionApp'])
      t.equal(await left(table), 0, `${table}: gone with the user`);
  });

  t.test(
    `${provider}: the migration keeps existing rows and drops only rows that point outside their organisation`,
    async (t) => {
      let target: DatabaseTarget;
      if (provider === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'broker-fk-'));
        t.teardown(() => rmSync(dir, { recursive: true, force: true }));
        target = { provider, location: join(dir, 'old.db') };
      } else {
        const db = await freshPostgres();
        t.teardown(db.drop);
        target = { provider, location: db.url };
      }
      const all = readMigrations(provider as DbProvider);
      const before = {
        ...all,
        migrationDirectories: all.migrationDirectories.filter((d) => d.path < MIGRATION),
      };
      t.ok(
        before.migrationDirectories.length < all.migrationDirectories.length,
        'the migration is among those committed',
      );
      await withSchemaEngine(target, (engine) =>
        engine.applyMigrations({ migrationsList: before, filters: { externalTables: [], externalEnums: [] } }),
      );

      const raw = await openRaw(target);
      const ts = provider === 'sqlite' ? Date.now() : new Date().toISOString();
      const ins = (table: string, row: Record<string, unknown>) =>
        raw.exec(
          `INSERT INTO "${table}" (${Object.keys(row)
            .map((k) => `"${k}"`)
            .join(', ')}) VALUES (${Object.keys(row)
            .map(() => '?')
            .join(', ')})`,
          Object.values(row),
        );
      for (const org of ['A', 'B'])
        await ins('Organization', { id: org, slug: `org${org.toLowerCase()}`, name: org, updatedAt: ts });
      await ins('User', { id: 'uA', orgId: 'A', email: 'a@x', emailLower: 'a@x', updatedAt: ts });
      await ins('User', { id: 'uB', orgId: 'B', email: 'b@x', emailLower: 'b@x', updatedAt: ts });
      await ins('IdentityProvider', { id: 'pA', orgId: 'A', name: 'I', entityId: 'e', ssoUrl: 'u', updatedAt: ts });
      await ins('Application', { id: 'aA', orgId: 'A', name: 'J', entityId: 'e', updatedAt: ts });
      await ins('Admin', { id: 'adA', orgId: 'A', email: 'ad@x', emailLower: 'ad@x', passwordHash: 'h' });
      await ins('UserIdentity', { id: 'iA', orgId: 'A', userId: 'uA', idpId: 'pA', nameId: 'Ann' });
      await ins('UserIdentity', { id: 'iX', orgId: 'A', userId: 'uB', idpId: 'pA', nameId: 'bob' }); // B's user, in A
      await ins('RecoveryCode', { id: 'rA', orgId: 'A', userId: 'uA', codeHash: 'h' });
      await ins('RecoveryCode', { id: 'rGone', orgId: 'A', userId: 'deleted-user', codeHash: 'h' });
      await ins('BrokerSession', { id: 'sA', orgId: 'A', userId: 'uA', idpId: 'pA', nameId: 'n', expiresAt: ts });
      await ins('BrokerSession', {
        id: 'sGone',
        orgId: 'A',
        userId: 'deleted-user',
        idpId: 'pA',
        nameId: 'n',
        expiresAt: ts,
      });
      await ins('SessionApp', { id: 'saA', sessionId: 'sA', appId: 'aA', nameId: 'n', sessionIndex: 'i' });
      await ins('SessionApp', { id: 'saGone', sessionId: 'sGone', appId: 'aA', nameId: 'n', sessionIndex: 'i' });
      await ins('AdminSession', { id: 'asA', orgId: 'A', adminId: 'adA', csrfToken: 'c', expiresAt: ts });
      await ins('ScimGroup', { id: 'gA', orgId: 'A', idpId: 'pA', displayName: 'Eng', updatedAt: ts });
      await ins('ScimGroupMember', { orgId: 'A', groupId: 'gA', userId: 'uA' });
      await ins('ScimToken', { id: 'tA', orgId: 'A', idpId: 'pA', name: 't', tokenHash: 'h', prefix: 'p' });
      await raw.close();

      t.same(
        await migrate(target),
        all.migrationDirectories.map((d) => d.path).filter((p) => p >= MIGRATION),
      );

      const reopened = await openRaw(target);
      t.teardown(() => reopened.close());
      const ids = async (table: string) =>
        (await reopened.exec(`SELECT "id" FROM "${table}" ORDER BY "id"`)).map((r) => r.id);
      t.same(await ids('UserIdentity'), ['iA'], "identities kept; the one pointing at B's user dropped");
      t.same(await ids('RecoveryCode'), ['rA'], "recovery codes kept; a deleted user's dropped");
      t.same(await ids('BrokerSession'), ['sA'], "sessions kept; a deleted user's dropped");
      t.same(await ids('AdminSession'), ['asA']);
      t.same(await ids('ScimGroup'), ['gA']);
      t.same(await ids('ScimToken'), ['tA']);
      t.same(
        await reopened.exec(`SELECT "id", "orgId" FROM "SessionApp"`),
        [{ id: 'saA', orgId: 'A' }],
        "SessionApp.orgId taken from its session; the dropped session's app row went with it",
      );
      t.equal((await reopened.exec(`SELECT "userId" FROM "ScimGroupMember"`)).length, 1, 'group member kept');
      if (provider === 'sqlite') {
        t.same(await reopened.exec('PRAGMA foreign_key_check'), [], 'SQLite: no row breaks a foreign key');
        t.ok(
          (
            await reopened.exec(
              `SELECT name FROM sqlite_master WHERE name = 'UserIdentity_orgId_idpId_lower_nameId_idx'`,
            )
          ).length,
          'the expression index of the scim_indexes migration survives the table rebuild',
        );
      }
      t.match(
        await refused(() =>
          reopened.exec(
            `INSERT INTO "RecoveryCode" ("id", "orgId", "userId", "codeHash") VALUES ('r2', 'A', 'uB', 'h')`,
          ),
        ),
        FK,
        'after the migration: a row of A pointing at B is refused',
      );
    },
  );
}
