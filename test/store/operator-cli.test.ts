// `npm run cli -- operator create`: the operator exists with a hashed password and a sealed TOTP factor; the printed
// password and key really sign in (the admin sign-in on the platform store, with an oathtool code); refusals.
import t from 'tap';
import { operatorCommand } from '../../src/cli/commands/operator.ts';
import { completeSecondStep, signIn } from '../../src/admin/admin-auth.ts';
import { createTestContext } from '../helpers/context.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { sha256 } from '../../src/crypto/hash.ts';

t.test('operator create', async (t) => {
  const tc = await createTestContext();
  t.teardown(tc.cleanup);
  const cli = async (...argv: string[]) => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(' '));
    try {
      return { code: await operatorCommand(argv, tc.ctx), out: lines.join('\n') };
    } finally {
      console.log = log;
    }
  };
  const { code, out } = await cli('create', '--email', 'Ops@Broker.example', '--json');
  t.equal(code, 0);
  const printed = JSON.parse(out) as {
    email: string;
    password: string;
    totpSecret: string;
    otpauthUri: string;
    signIn: string;
  };
  t.equal(printed.signIn, 'http://broker.test/operator/login');
  t.match(printed.otpauthUri, /^otpauth:\/\/totp\//);
  const row = (await tc.ctx.store.platform.admins.findByEmail('ops@broker.example'))!;
  t.not(row.passwordHash, printed.password, 'only a hash is stored');
  t.notMatch(row.totpSecretEnc!, new RegExp(printed.totpSecret), 'the key is sealed');

  const platform = tc.ctx.store.platform;
  const step = await signIn(tc.ctx, platform, 'ops@broker.example', printed.password);
  t.equal(step.kind, 'second_step', 'a code is always asked');
  if (step.kind !== 'second_step') return;
  const login = await completeSecondStep(tc.ctx, platform, step.ticket, oathtool(printed.totpSecret, tc.clock.now()));
  t.equal(login.admin.id, row.id);
  t.ok(await platform.adminSessions.findActive(sha256(login.token), tc.clock.now()), 'a session exists');
  await t.rejects(signIn(tc.ctx, platform, 'ops@broker.example', 'wrong password'), {
    code: 'admin_invalid_credentials',
  });

  await t.rejects(cli('create', '--email', 'ops@broker.example'), { code: 'operator_exists' });
  await t.rejects(cli('create', '--email', 'not-an-email'), { code: 'validation_failed' });
  await t.rejects(cli('create'), /--email is required/);
  t.same(
    (await platform.audit.list()).map((e) => e.type).filter((x) => x === 'operator.created'),
    ['operator.created'],
  );
});
