// `users import|export|list|identities|link|unlink` through the CLI command module, against a real database.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { usersCommand } from '../../src/cli/commands/users.ts';
import { createOrg, createTestContext } from '../helpers/context.ts';

t.test('users CLI', async (t) => {
  const tc = await createTestContext();
  const dir = mkdtempSync(join(tmpdir(), 'users-cli-'));
  t.teardown(async () => {
    rmSync(dir, { recursive: true, force: true });
    await tc.cleanup();
  });
  const { org } = await createOrg(tc.ctx, 'cliorg');
  const cli = async (...argv: string[]) => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      const code = await usersCommand(argv, tc.ctx);
      return { code, out: lines.join('\n') };
    } finally {
      console.log = log;
    }
  };

  const file = join(dir, 'users.csv');
  writeFileSync(file, 'email;firstName;lastName\nann@example.com;Ann;Lee\nbob@example.com;Bob;Ray\nnope;X;Y\n');
  const dry = await cli('import', file, '--org', 'cliorg', '--dry-run');
  t.equal(dry.code, 2, 'exit 2: some rows rejected');
  t.match(
    dry.out,
    /Dry run \(nothing written\)[\s\S]*created 2 {2}updated 0 {2}unchanged 0 {2}disabled 0 {2}rejected 1[\s\S]*line 4, email: not a valid email address \(nope\)/,
  );
  t.equal(await tc.ctx.store.forOrg(org.id).users.count(), 0);

  writeFileSync(file, 'email;firstName;lastName\nann@example.com;Ann;Lee\nbob@example.com;Bob;Ray\n');
  const real = await cli('import', file, '--org', 'cliorg', '--mode', 'upsert', '--json');
  t.equal(real.code, 0);
  t.match(JSON.parse(real.out), { written: true, mode: 'upsert', counts: { created: 2 } });

  const out = join(dir, 'export.csv');
  t.equal((await cli('export', '--org', 'cliorg', '--out', out)).code, 0);
  t.match(
    readFileSync(out, 'utf8'),
    /^\uFEFFemail,username,firstName,lastName,phone,groups,status,idp,nameId\r\nann@example\.com,,Ann,Lee,,,active,,\r\nbob@example\.com/,
  );
  const reimport = await cli('import', out, '--org', 'cliorg', '--all-or-nothing');
  t.match(reimport, { code: 0, out: /unchanged 2/ });

  const list = await cli('list', '--org', 'cliorg', '--search', 'bo');
  t.match(list.out, /bob@example\.com\s+Bob Ray\s+active/);
  t.notMatch(list.out, /ann@/);

  await t.rejects(cli('import', '--org', 'cliorg'), /exactly one file/);
  await t.rejects(cli('import', file, '--org', 'cliorg', '--mode', 'merge'), /--mode must be create or upsert/);
  await t.rejects(cli('import', file, '--org', 'nope'), /no organisation "nope"/);
  await t.rejects(cli('frobnicate'), /unknown users command/);
});

t.test('users identities|link|unlink', async (t) => {
  const tc = await createTestContext();
  t.teardown(tc.cleanup);
  const { org } = await createOrg(tc.ctx, 'cliorg');
  const { org: other } = await createOrg(tc.ctx, 'otherorg');
  const store = tc.ctx.store.forOrg(org.id);
  const okta = await store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://okta.example/sso',
  });
  const foreign = await tc.ctx.store.forOrg(other.id).identityProviders.create({
    name: 'Foreign',
    entityId: 'https://foreign.example',
    ssoUrl: 'https://foreign.example/sso',
  });
  const ann = await store.users.create({ email: 'ann@example.com' });
  const bob = await store.users.create({ email: 'bob@example.com' });
  await store.users.link(bob.id, okta.id, '00u-bob', 'imported');
  const cli = async (...argv: string[]) => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      return { code: await usersCommand(argv, tc.ctx), out: lines.join('\n') };
    } finally {
      console.log = log;
    }
  };

  t.match(await cli('identities', '--org', 'cliorg', '--email', 'ann@example.com'), {
    code: 0,
    out: /has no linked identity/,
  });
  await t.rejects(
    cli('link', '--org', 'cliorg', '--email', 'ann@example.com', '--idp', 'Okta'),
    /needs --idp .* and --name-id/,
  );
  await t.rejects(
    cli('link', '--org', 'cliorg', '--email', 'nobody@example.com', '--idp', 'Okta', '--name-id', 'x'),
    /no user "nobody@example.com"/,
  );
  await t.rejects(
    cli('link', '--org', 'cliorg', '--email', 'ann@example.com', '--idp', foreign.entityId, '--name-id', 'x'),
    /unknown identity provider/,
  );
  await t.rejects(
    cli('link', '--org', 'cliorg', '--email', 'ann@example.com', '--idp', 'Okta', '--name-id', '00u-bob'),
    { code: 'identity_taken' },
  );
  t.equal((await store.users.findByIdentity(okta.id, '00u-bob'))!.id, bob.id, 'a taken identity is never moved');

  const linked = await cli(
    'link',
    '--org',
    'cliorg',
    '--email',
    'ANN@example.com',
    '--idp',
    'Okta',
    '--name-id',
    '00u-ann',
  );
  t.match(linked, { code: 0, out: /Linked 00u-ann at Okta to ann@example\.com/ });
  t.match(await store.users.identities(ann.id), [{ idpId: okta.id, nameId: '00u-ann', source: 'admin' }]);
  t.match((await store.audit.list({ type: 'user.identity_added', userId: ann.id }))[0], {
    actor: 'cli',
    details: { nameId: '00u-ann' },
  });
  t.match(
    await cli('link', '--org', 'cliorg', '--email', 'ann@example.com', '--idp', okta.entityId, '--name-id', '00u-ann'),
    { code: 0, out: /nothing changed/ },
  );

  const listed = await cli('identities', '--org', 'cliorg', '--email', 'ann@example.com', '--json');
  t.match(JSON.parse(listed.out), [{ idpName: 'Okta', nameId: '00u-ann', source: 'admin' }]);

  await t.rejects(
    cli('unlink', '--org', 'cliorg', '--email', 'ann@example.com', '--idp', 'Okta', '--name-id', '00u-bob'),
    /has no identity 00u-bob at Okta/,
  );
  t.match(
    await cli('unlink', '--org', 'cliorg', '--email', 'ann@example.com', '--idp', okta.id, '--name-id', '00u-ann'),
    { code: 0, out: /Unlinked 00u-ann/ },
  );
  t.same(await store.users.identities(ann.id), []);
  t.match((await store.audit.list({ type: 'user.identity_removed', userId: ann.id }))[0], {
    actor: 'cli',
    details: { nameId: '00u-ann', source: 'admin' },
  });
  t.equal((await store.users.identities(bob.id)).length, 1, "bob's link untouched");
});
