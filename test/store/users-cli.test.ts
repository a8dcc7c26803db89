// `users import|export|list` through the CLI command module, against a real database.
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
  t.match(dry.out, /Dry run \(nothing written\)[\s\S]*created 2 {2}updated 0 {2}unchanged 0 {2}disabled 0 {2}rejected 1[\s\S]*line 4, email: not a valid email address \(nope\)/);
  t.equal(await tc.ctx.store.forOrg(org.id).users.count(), 0);

  writeFileSync(file, 'email;firstName;lastName\nann@example.com;Ann;Lee\nbob@example.com;Bob;Ray\n');
  const real = await cli('import', file, '--org', 'cliorg', '--mode', 'upsert', '--json');
  t.equal(real.code, 0);
  t.match(JSON.parse(real.out), { written: true, mode: 'upsert', counts: { created: 2 } });

  const out = join(dir, 'export.csv');
  t.equal((await cli('export', '--org', 'cliorg', '--out', out)).code, 0);
  t.match(readFileSync(out, 'utf8'), /^\uFEFFemail,username,firstName,lastName,phone,groups,status,idp,nameId\r\nann@example\.com,,Ann,Lee,,,active,,\r\nbob@example\.com/);
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
