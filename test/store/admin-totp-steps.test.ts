// The step rule (RFC 6238 §5.2) for console admins' TOTP (src/mfa/step-records.ts through src/admin/admin-totp.ts):
// once a step was accepted, no code of that step or an older one is, on any node, on both databases (also with
// TEST_WITH_REDIS=1: the records stay in the database). Codes from oathtool.
import t from 'tap';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { confirmAdminEnrolment, startAdminEnrolment, verifyAdminCode } from '../../src/admin/admin-totp.ts';
import type { AppError } from '../../src/errors.ts';

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: AppError) => e.code,
  );

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const pp = await createOrg(tc.ctx, 'piedpipers');
    const org = (await tc.ctx.store.organizations.findById(pp.org.id))!;
    const email = 'admin@piedpipers.example';
    const admin = async () => (await pp.store.admins.findByEmail(email))!;
    const setup = await startAdminEnrolment(tc.ctx, org, await admin());
    const codeAt = (steps: number) => oathtool(setup.secretBase32, new Date(tc.clock.now().getTime() + steps * 30_000));
    const verify = async (code: string) =>
      codeOf(verifyAdminCode(tc.ctx, pp.store, await admin(), code, 'admin.login'));
    const clearFailures = async () => pp.store.admins.update((await admin()).id, { failedLogins: 0 });

    t.test(
      "the confirming code's step and the one before it are spent; the next step works, then older ones do not",
      async (t) => {
        const [older, n] = [codeAt(-1), codeAt(0)];
        await confirmAdminEnrolment(tc.ctx, pp.store, org, await admin(), setup.setup, n);
        t.equal(await verify(n), 'admin_code_reused', 'the confirming code');
        if (older !== n) t.equal(await verify(older), 'admin_code_reused', 'an unused code of the step before');
        t.equal(await verify(codeAt(1)), 'ok', 'the next step');
        t.equal(await verify(n), 'admin_code_reused');
        tc.clock.advance(30_000);
        const skipped = codeAt(-1); // step N+1 again (now the step before): spent
        t.equal(await verify(skipped), 'admin_code_reused');
        await clearFailures();
      },
    );

    t.test('a step skipped over cannot be used later', async (t) => {
      tc.clock.advance(120_000);
      const [older, newer] = [codeAt(-1), codeAt(1)];
      t.equal(await verify(newer), 'ok', 'step N+1 first');
      if (older !== newer)
        t.equal(await verify(older), 'admin_code_reused', 'then step N-1, never used, inside the window: refused');
      await clearFailures();
    });

    t.test(
      'the same code at once on several requests: accepted once; steps N and N-1 at once: N always accepted',
      async (t) => {
        tc.clock.advance(120_000);
        const code = codeAt(0);
        const results = await Promise.all(Array.from({ length: 4 }, () => verify(code)));
        t.equal(results.filter((r) => r === 'ok').length, 1);
        await clearFailures();
        for (let round = 0; round < 3; round++) {
          tc.clock.advance(120_000);
          const [older, newer] = [codeAt(-1), codeAt(0)];
          if (older === newer) continue;
          const [b, a] = await Promise.all([verify(older), verify(newer)]);
          t.equal(a, 'ok', 'step N');
          t.ok(b === 'ok' || b === 'admin_code_reused', `step N-1 only if it came first (${b})`);
          if (b === 'ok') t.equal(await verify(older), 'admin_code_reused');
          await clearFailures();
        }
      },
    );
  });
}
