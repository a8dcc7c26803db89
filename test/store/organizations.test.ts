// Organisation creation, slug rules and signing keys, on both databases.
import t from 'tap';
import { X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';
import { AppError, ValidationError } from '../../src/errors.ts';
import { SealedBox } from '../../src/crypto/sealed-box.ts';

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const { ctx } = tc;

    t.test('creates the organisation, its active signing key and its first admin', async (t) => {
      const created = await ctx.organizations.create(
        { slug: 'piedpipers', name: ' Pied Pipers ', adminEmail: 'Admin@PiedPipers.example' },
        'test',
      );
      t.equal(created.org.name, 'Pied Pipers');
      t.match(created.generatedPassword, /^[A-Za-z0-9]{20}$/, 'a one-time password is generated when none was given');
      t.equal(created.urls.idpMetadata, 'http://piedpipers.broker.test/saml/idp/metadata');
      const store = ctx.store.forOrg(created.org.id);
      const keys = await store.signingKeys.list();
      t.equal(keys.length, 1);
      t.equal(keys[0].status, 'active');
      const admin = await store.admins.findByEmail('admin@piedpipers.example');
      t.ok(admin, 'admin found case-insensitively');
      t.equal(admin!.mustChangePassword, true);
      t.match(admin!.passwordHash, /^\$argon2id\$/);
      t.notMatch(admin!.passwordHash, created.generatedPassword!);
      const audit = await store.audit.list();
      t.equal(audit[0].type, 'organization.created');
    });

    t.test('the private key is sealed at rest and opens to a key matching the certificate', async (t) => {
      const org = (await ctx.store.organizations.findBySlug('piedpipers'))!;
      const row = (await ctx.store.forOrg(org.id).signingKeys.active())!;
      t.notMatch(row.privateKeyEnc, /PRIVATE KEY/, 'no PEM in the row');
      t.match(row.privateKeyEnc, /^v1:/);
      const raw = await ctx.store.db.$queryRawUnsafe<{ privateKeyEnc: string }[]>(
        'SELECT "privateKeyEnc" FROM "SigningKey"',
      );
      for (const r of raw) t.notMatch(r.privateKeyEnc, /BEGIN/, 'no plaintext key anywhere in the table');
      t.throws(
        () => new SealedBox(Buffer.alloc(32, 3)).open(row.privateKeyEnc, `signing-key:${org.id}:${row.id}`),
        'another master key cannot open it',
      );
      t.throws(
        () => ctx.box.open(row.privateKeyEnc, `signing-key:other-org:${row.id}`),
        'the sealed key is bound to its organisation',
      );
      const cred = ctx.credentials.open(row);
      const cert = new X509Certificate(cred.certificatePem);
      const signature = sign('sha256', Buffer.from('hello'), createPrivateKey(cred.privateKeyPem));
      t.ok(verify('sha256', Buffer.from('hello'), cert.publicKey, signature), 'key and certificate belong together');
      t.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      t.equal(cert.fingerprint256, row.fingerprint);
    });

    t.test('slug rules: reserved, invalid and duplicate slugs are refused', async (t) => {
      const base = { name: 'X', adminEmail: 'a@x.example' };
      const reserved = await t.rejects(ctx.organizations.create({ ...base, slug: 'admin' }, 'test'));
      t.ok(reserved instanceof ValidationError);
      t.match((reserved as ValidationError).fields.slug, /reserved/);
      await t.rejects(ctx.organizations.create({ ...base, slug: 'Upper' }, 'test'), ValidationError);
      const dup = (await t.rejects(ctx.organizations.create({ ...base, slug: 'piedpipers' }, 'test'))) as AppError;
      t.equal(dup.code, 'slug_taken');
      t.equal(dup.status, 409);
      await t.rejects(
        ctx.organizations.create({ ...base, slug: 'goodslug', adminEmail: 'not-an-email' }, 'test'),
        ValidationError,
      );
      await t.rejects(
        ctx.organizations.create({ ...base, slug: 'goodslug', adminPassword: 'short' }, 'test'),
        ValidationError,
      );
      t.equal(await ctx.store.organizations.count(), 1, 'nothing half-created');
    });

    t.test('two concurrent creations of one slug: exactly one wins', async (t) => {
      const attempts = await Promise.allSettled(
        [1, 2, 3].map((i) =>
          ctx.organizations.create(
            { slug: 'racers', name: `R${i}`, adminEmail: `a${i}@r.example`, adminPassword: 'long enough password' },
            'test',
          ),
        ),
      );
      t.equal(attempts.filter((a) => a.status === 'fulfilled').length, 1);
      for (const a of attempts.filter((a) => a.status === 'rejected'))
        t.equal(((a as PromiseRejectedResult).reason as AppError).code, 'slug_taken');
      const org = (await ctx.store.organizations.findBySlug('racers'))!;
      t.equal((await ctx.store.forOrg(org.id).admins.list()).length, 1, 'the losers left no admin behind');
      t.equal((await ctx.store.forOrg(org.id).signingKeys.list()).length, 1, 'the losers left no key behind');
    });

    t.test('the slug is immutable once created', async (t) => {
      const org = (await ctx.store.organizations.findBySlug('piedpipers'))!;
      await ctx.store.organizations.update(org.id, { name: 'Pied Pipers Inc', slug: 'hijacked' } as never);
      const after = (await ctx.store.organizations.findById(org.id))!;
      t.equal(after.slug, 'piedpipers');
      t.equal(after.name, 'Pied Pipers Inc');
    });

    t.test('the welcome-page path creates only the first organisation', async (t) => {
      const err = (await t.rejects(
        ctx.organizations.create({ slug: 'second', name: 'S', adminEmail: 's@s.example' }, 'welcome', {
          onlyIfNoneExist: true,
        }),
      )) as AppError;
      t.equal(err.code, 'setup_done');
      t.equal(await ctx.store.organizations.findBySlug('second'), null);
    });

    t.test('createOrg helper gives a scoped store', async (t) => {
      const o = await createOrg(ctx, 'helperorg');
      t.equal(o.store.orgId, o.org.id);
    });
  });
}
