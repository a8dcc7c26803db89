// TOTP enrolment and verification on both databases, with codes from an independent generator (oathtool).
import t from 'tap';
import { createTestContext, createOrg, testProviders, TEST_MASTER_KEY } from '../helpers/context.ts';
import { bootstrap } from '../../src/bootstrap.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { TotpService, DEFAULT_LOCKOUT, type TotpSettings } from '../../src/mfa/totp-service.ts';
import { RememberedDevices } from '../../src/mfa/remembered-devices.ts';
import { resetSecondFactor } from '../../src/mfa/reset-second-factor.ts';
import { AppError } from '../../src/errors.ts';

const settings: TotpSettings = { digits: 6, period: 30, algorithm: 'SHA1', issuer: 'Pied Pipers', ...DEFAULT_LOCKOUT };

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: AppError) => e.code,
  );
const stepAt = (at: Date, period = 30) => Math.floor(at.getTime() / 1000 / period);

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const pp = await createOrg(tc.ctx, 'piedpipers');
    const hooli = await createOrg(tc.ctx, 'hooli');
    const user = await pp.store.users.create({ email: 'ann@customer.example' });
    const totp = new TotpService(pp.store, tc.ctx.box, tc.clock, settings);
    const otherNode = new TotpService(tc.ctx.store.forOrg(pp.org.id), tc.ctx.box, tc.clock, settings);
    let secret = '';
    let recovery: string[] = [];

    t.test('enrol: QR code and key, confirmed by a code from oathtool, then recovery codes', async (t) => {
      const e = await totp.startEnrolment(user, 'flow-1');
      t.match(e.secretBase32, /^[A-Z2-7]{32}$/);
      t.match(e.otpauthUri, /^otpauth:\/\/totp\/Pied%20Pipers:ann%40customer\.example\?/);
      t.match(e.qrDataUrl, /^data:image\/png;base64,/);
      const sealed = (await pp.store.totp.find(user.id))!.secretEnc;
      const again = await totp.startEnrolment(user, 'flow-1');
      t.equal(again.secretBase32, e.secretBase32, 'reloading the page shows the same key');
      t.equal(again.otpauthUri, e.otpauthUri, 'in the same otpauth URI');
      t.equal(again.qrDataUrl, e.qrDataUrl, 'and the same QR code');
      t.equal((await pp.store.totp.find(user.id))!.secretEnc, sealed, 'two renders do not change the stored secret');
      secret = e.secretBase32;
      t.equal(
        await codeOf(totp.verify(user.id, oathtool(secret, tc.clock.now()))),
        'mfa_not_enrolled',
        'pending is not active',
      );
      const wrong = oathtool(secret, tc.clock.now()) === '000000' ? '111111' : '000000';
      t.equal(await codeOf(totp.confirmEnrolment(user.id, 'flow-1', wrong)), 'mfa_invalid_code');
      const afterTypo = await totp.startEnrolment(user, 'flow-1');
      t.equal(afterTypo.secretBase32, secret, 'a wrong code keeps the key');
      t.match(afterTypo.status, { state: 'pending', failedAttempts: 1 }, 'and counts toward the lock');
      recovery = await totp.confirmEnrolment(user.id, 'flow-1', oathtool(secret, tc.clock.now()));
      t.equal(recovery.length, 10);
      t.equal(new Set(recovery).size, 10);
      for (const c of recovery) t.match(c, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}$/);
      t.match(await totp.status(user.id), { state: 'active', failedAttempts: 0 });
      t.match(
        await pp.store.totp.find(user.id),
        { lastUsedStep: stepAt(tc.clock.now()), enrolFlowId: null },
        "the confirming code's step is the last used one",
      );
      t.equal(await codeOf(totp.startEnrolment(user, 'flow-1')), 'mfa_already_enrolled');
      t.equal(
        await codeOf(totp.startEnrolment(user, 'flow-2')),
        'mfa_already_enrolled',
        'another login cannot replace an active factor',
      );
      t.equal((await pp.store.totp.find(user.id))!.secretEnc, sealed);
    });

    t.test(
      "a setup belongs to its login flow; another flow takes it over, and the first one's codes then fail cleanly",
      async (t) => {
        const dan = await pp.store.users.create({ email: 'dan@customer.example' });
        const row = async () => (await pp.store.totp.find(dan.id))!;
        const first = await totp.startEnrolment(dan, 'flow-a');
        await codeOf(
          totp.confirmEnrolment(
            dan.id,
            'flow-a',
            oathtool(first.secretBase32, tc.clock.now()) === '000000' ? '111111' : '000000',
          ),
        );
        t.equal(
          (await otherNode.startEnrolment(dan, 'flow-a')).secretBase32,
          first.secretBase32,
          'the same flow on another node: the same key',
        );
        const second = await otherNode.startEnrolment(dan, 'flow-b');
        t.not(second.secretBase32, first.secretBase32, 'another login shows a new key');
        t.match(
          await row(),
          { status: 'pending', enrolFlowId: 'flow-b', failedAttempts: 1 },
          'and owns the setup; the failure count carries over',
        );
        t.equal(
          await codeOf(totp.confirmEnrolment(dan.id, 'flow-a', oathtool(first.secretBase32, tc.clock.now()))),
          'mfa_enrolment_replaced',
          "the first flow's key no longer works",
        );
        t.equal(
          await codeOf(totp.confirmEnrolment(dan.id, 'flow-a', oathtool(second.secretBase32, tc.clock.now()))),
          'mfa_enrolment_replaced',
          'nor does the first flow enrol the new key',
        );
        t.match(
          await row(),
          { status: 'pending', enrolFlowId: 'flow-b', failedAttempts: 1 },
          'refusals of a replaced setup are not counted',
        );
        t.equal(
          (await totp.startEnrolment(dan, 'flow-b')).secretBase32,
          second.secretBase32,
          'the second flow keeps its key',
        );
        await totp.confirmEnrolment(dan.id, 'flow-b', oathtool(second.secretBase32, tc.clock.now()));
        t.match(await row(), { status: 'active', enrolFlowId: null });
        t.equal(
          await codeOf(totp.confirmEnrolment(dan.id, 'flow-a', oathtool(first.secretBase32, tc.clock.now()))),
          'mfa_not_pending',
        );
        t.equal(
          await codeOf(totp.startEnrolment(dan, 'flow-a')),
          'mfa_already_enrolled',
          'the first flow cannot start over once the factor is on',
        );
      },
    );

    t.test('two renders of two flows at once: one of them owns the setup, and shows the stored key', async (t) => {
      const eve = await pp.store.users.create({ email: 'eve@customer.example' });
      const shown = await Promise.all(
        ['flow-x', 'flow-y', 'flow-x', 'flow-y'].map((flow, i) =>
          (i % 2 ? otherNode : totp).startEnrolment(eve, flow).then(
            (e) => ({ flow, key: e.secretBase32 }),
            (e: AppError) => ({ flow, key: e.code }),
          ),
        ),
      );
      const owner = (await pp.store.totp.find(eve.id))!.enrolFlowId!;
      t.ok(['flow-x', 'flow-y'].includes(owner));
      const stored = (await totp.startEnrolment(eve, owner)).secretBase32;
      t.ok(
        shown.some((s) => s.flow === owner && s.key === stored),
        'a render of the owning flow showed the stored key',
      );
      t.notOk(
        shown.some((s) => s.flow !== owner && s.key === stored),
        'no render of the other flow did',
      );
      await totp.confirmEnrolment(eve.id, owner, oathtool(stored, tc.clock.now()));
      t.match(await totp.status(eve.id), { state: 'active' });
    });

    t.test('the database never holds the secret or the recovery codes in clear', async (t) => {
      const rows = await tc.ctx.store.db.totpFactor.findMany({
        where: { userId: user.id },
        select: { secretEnc: true },
      });
      t.equal(rows.length, 1);
      t.notMatch(rows[0].secretEnc, secret);
      const codes = await tc.ctx.store.db.recoveryCode.findMany({
        where: { userId: user.id },
        select: { codeHash: true },
      });
      t.equal(codes.length, 10);
      for (const c of codes) {
        t.match(c.codeHash, /^\$argon2id\$/);
        t.notOk(recovery.includes(c.codeHash));
      }
    });

    t.test("verify: the enrolment code's step is used; the next steps work once each, across nodes", async (t) => {
      t.equal(
        await codeOf(totp.verify(user.id, oathtool(secret, tc.clock.now()))),
        'mfa_code_reused',
        'the confirming code cannot be used again',
      );
      tc.clock.advance(30_000);
      const code = oathtool(secret, tc.clock.now());
      t.same(await totp.verify(user.id, code), { method: 'totp' });
      t.equal(await codeOf(otherNode.verify(user.id, code)), 'mfa_code_reused', 'another node refuses the same step');
      tc.clock.advance(60_000);
      t.same(
        await otherNode.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() - 30_000))),
        { method: 'totp' },
        'one step behind is accepted',
      );
      tc.clock.advance(60_000);
      t.same(
        await totp.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() + 30_000))),
        { method: 'totp' },
        'one step ahead is accepted',
      );
      tc.clock.advance(120_000);
      t.equal(
        await codeOf(totp.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() - 60_000)))),
        'mfa_invalid_code',
        'two steps behind is refused',
      );
      t.equal(
        await codeOf(totp.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() + 60_000)))),
        'mfa_invalid_code',
        'two steps ahead is refused',
      );
      t.same(
        await totp.verify(user.id, ` ${oathtool(secret, tc.clock.now())} `),
        { method: 'totp' },
        'spaces around a code are fine, and a success resets the failures',
      );
    });

    t.test('the step rule (RFC 6238 §5.2): after step N, no code of step N or older is accepted; N+1 is', async (t) => {
      tc.clock.advance(120_000);
      const at = (steps: number) => new Date(tc.clock.now().getTime() + steps * 30_000);
      const [older, n, newer] = [-1, 0, 1].map((s) => oathtool(secret, at(s)));
      t.same(await totp.verify(user.id, n), { method: 'totp' }, 'step N');
      t.equal((await pp.store.totp.find(user.id))!.lastUsedStep, stepAt(at(0)));
      // A code of N-1 equal to N's (1 in a million) would be N's reuse; only a distinct one shows the rule.
      if (older !== n)
        t.equal(
          await codeOf(otherNode.verify(user.id, older)),
          'mfa_code_reused',
          'an unused code of step N-1, inside the window, is refused',
        );
      t.equal(await codeOf(totp.verify(user.id, n)), 'mfa_code_reused', 'step N again is refused');
      t.equal((await totp.status(user.id)).failedAttempts, older !== n ? 2 : 1, 'refusals count toward the lock');
      t.equal(
        (await pp.store.totp.find(user.id))!.lastUsedStep,
        stepAt(at(0)),
        'refusals do not move the last used step',
      );
      t.same(await otherNode.verify(user.id, newer), { method: 'totp' }, 'step N+1 is accepted');
      t.match(
        await pp.store.totp.find(user.id),
        { lastUsedStep: stepAt(at(1)), failedAttempts: 0 },
        'and clears the failures in the same write',
      );
      t.equal(await codeOf(totp.verify(user.id, n)), 'mfa_code_reused', 'after N+1, N is refused too');
      await totp.unlock(user.id, 'test');
    });

    t.test('the hot path: a verified code is one read and one write, also after failures', async (t) => {
      tc.clock.advance(120_000);
      const sql = tc.ctx.store.sql;
      const counts = { reads: 0, writes: 0 };
      const { all, run } = sql;
      sql.all = (...args) => {
        counts.reads++;
        return all.apply(sql, args);
      };
      sql.run = (...args) => {
        counts.writes++;
        return run.apply(sql, args);
      };
      t.teardown(() => {
        sql.all = all;
        sql.run = run;
      });
      t.same(await totp.verify(user.id, oathtool(secret, tc.clock.now())), { method: 'totp' });
      t.same(counts, { reads: 1, writes: 1 }, 'no failures before');
      await codeOf(totp.verify(user.id, '123456'));
      tc.clock.advance(30_000);
      Object.assign(counts, { reads: 0, writes: 0 });
      t.same(await totp.verify(user.id, oathtool(secret, tc.clock.now())), { method: 'totp' });
      t.same(counts, { reads: 1, writes: 1 }, 'a failure before: cleared in the same write');
      t.equal((await totp.status(user.id)).failedAttempts, 0);
    });

    t.test(
      'the same code posted at once is accepted once; codes of steps N and N-1 at once are accepted in order only',
      async (t) => {
        tc.clock.advance(120_000);
        const code = oathtool(secret, tc.clock.now());
        const results = await Promise.all(
          Array.from({ length: 4 }, (_, i) => codeOf((i % 2 ? otherNode : totp).verify(user.id, code))),
        );
        t.same(results.filter((r) => r === 'ok').length, 1, 'one acceptance');
        t.same(
          results.filter((r) => r !== 'ok'),
          ['mfa_code_reused', 'mfa_code_reused', 'mfa_code_reused'],
        );
        await totp.unlock(user.id, 'test');

        for (let round = 0; round < 3; round++) {
          tc.clock.advance(120_000);
          const newer = oathtool(secret, tc.clock.now());
          const older = oathtool(secret, new Date(tc.clock.now().getTime() - 30_000));
          if (newer === older) continue;
          const [a, b] = await Promise.all([totp.verify(user.id, newer), otherNode.verify(user.id, older)].map(codeOf));
          t.equal(a, 'ok', 'step N is accepted, whichever arrives first');
          t.ok(b === 'ok' || b === 'mfa_code_reused', `step N-1 only if it came first (${b})`);
          t.equal((await pp.store.totp.find(user.id))!.lastUsedStep, stepAt(tc.clock.now()), 'the last used step is N');
          await totp.unlock(user.id, 'test');
        }
      },
    );

    // Two processes on one PostgreSQL database, each with its own connection pool. (On SQLite, two processes of a
    // node serialise their writes in the database file: test/cluster covers real processes.)
    if (provider === 'postgresql')
      t.test('two nodes with their own pools: the same code accepted once, steps only forward', async (t) => {
        const { ctx: node2 } = await bootstrap(tc.config, {
          clock: tc.clock,
          masterKey: TEST_MASTER_KEY,
          skipMigrations: true,
        });
        t.teardown(() => node2.store.close());
        const secondNode = new TotpService(node2.store.forOrg(pp.org.id), node2.box, tc.clock, settings);
        for (let round = 0; round < 3; round++) {
          tc.clock.advance(120_000);
          const code = oathtool(secret, tc.clock.now());
          const results = await Promise.all(
            Array.from({ length: 5 }, (_, i) => codeOf((i % 2 ? secondNode : totp).verify(user.id, code))),
          );
          t.equal(results.filter((r) => r === 'ok').length, 1, 'one acceptance');
          await totp.unlock(user.id, 'test');
          tc.clock.advance(120_000);
          const [older, newer] = [
            oathtool(secret, new Date(tc.clock.now().getTime() - 30_000)),
            oathtool(secret, tc.clock.now()),
          ];
          if (older === newer) continue;
          const [b, a] = await Promise.all(
            [secondNode.verify(user.id, older), totp.verify(user.id, newer)].map(codeOf),
          );
          t.equal(a, 'ok', 'step N');
          t.ok(b === 'ok' || b === 'mfa_code_reused', `step N-1 only if it came first (${b})`);
          t.equal((await pp.store.totp.find(user.id))!.lastUsedStep, Math.floor(tc.clock.now().getTime() / 30_000));
          await totp.unlock(user.id, 'test');
        }
      });

    t.test(
      'five wrong codes lock the factor for the configured time; the pages warn before and say how long; audited',
      async (t) => {
        tc.clock.advance(300_000);
        for (let i = 0; i < 3; i++) t.equal(await codeOf(totp.verify(user.id, '123456')), 'mfa_invalid_code');
        t.equal(totp.notice(await totp.status(user.id)), null, 'no warning with two tries left');
        t.equal(await codeOf(totp.verify(user.id, '123456')), 'mfa_invalid_code');
        t.equal(
          totp.notice(await totp.status(user.id)),
          'One more wrong code locks two-factor sign-in for 15 minutes.',
          'one try left',
        );
        const locked = await totp.verify(user.id, '654321').catch((e: AppError) => e);
        t.match(locked, {
          code: 'mfa_locked',
          message: 'Too many wrong codes: two-factor sign-in is locked. Try again in 15 minutes.',
        });
        t.equal(
          await codeOf(totp.verify(user.id, oathtool(secret, tc.clock.now()))),
          'mfa_locked',
          'even the right code while locked',
        );
        t.equal(await codeOf(totp.verify(user.id, recovery[0])), 'mfa_locked', 'and a recovery code');
        const audit = await pp.store.audit.list({ type: 'mfa.locked', userId: user.id });
        t.equal(audit.length, 1);
        const left = [
          [61_000, '14 minutes'],
          [12 * 60_000, '2 minutes'],
          [30_000, '1 minute'],
          [29_000, '1 minute'],
          [1000, 'less than a minute'],
        ] as const;
        for (const [advance, words] of left) {
          tc.clock.advance(advance);
          t.match(
            await totp.verify(user.id, oathtool(secret, tc.clock.now())).catch((e: AppError) => e),
            { code: 'mfa_locked', message: `Try again in ${words}.` },
            words,
          );
          t.equal(
            totp.notice(await totp.status(user.id)),
            `Too many wrong codes: two-factor sign-in is locked. Try again in ${words}.`,
            `the page before a try: ${words}`,
          );
        }
        tc.clock.advance(60_000);
        t.equal(
          totp.notice(await totp.status(user.id)),
          null,
          'a lock that ran out is not mentioned, and wants no warning',
        );
        t.same(await totp.verify(user.id, oathtool(secret, tc.clock.now())), { method: 'totp' }, 'the lock expires');
      },
    );

    t.test('failures counted on another node add up', async (t) => {
      tc.clock.advance(60_000);
      await Promise.all(
        [totp.verify(user.id, '111111'), otherNode.verify(user.id, '222222'), totp.verify(user.id, '333333')].map((p) =>
          p.catch(() => {}),
        ),
      );
      t.equal((await totp.status(user.id)).failedAttempts, 3);
      await totp.unlock(user.id, 'admin@x');
      t.equal((await totp.status(user.id)).failedAttempts, 0);
    });

    t.test('a recovery code works once', async (t) => {
      t.match(await totp.verify(user.id, recovery[1].toUpperCase()), { method: 'recovery', remainingRecoveryCodes: 9 });
      t.equal(await codeOf(totp.verify(user.id, recovery[1])), 'mfa_invalid_code');
      t.equal(await codeOf(totp.verify(user.id, 'aaaa-bbbb-cc')), 'mfa_invalid_code');
    });

    t.test("another organisation cannot verify, unlock or reset this user's factor", async (t) => {
      const foreign = new TotpService(hooli.store, tc.ctx.box, tc.clock, settings);
      tc.clock.advance(60_000);
      t.equal(await codeOf(foreign.verify(user.id, oathtool(secret, tc.clock.now()))), 'mfa_not_enrolled');
      await resetSecondFactor(hooli.store, tc.clock, user.id, 'evil');
      t.match(await totp.status(user.id), { state: 'active' }, 'untouched');
    });

    t.test('organisation settings: 8 digits, 60 s, SHA-256', async (t) => {
      const u2 = await pp.store.users.create({ email: 'bob@customer.example' });
      const strict = new TotpService(pp.store, tc.ctx.box, tc.clock, {
        ...settings,
        digits: 8,
        period: 60,
        algorithm: 'SHA256',
      });
      const e = await strict.startEnrolment(u2, 'flow-strict');
      t.match(e.otpauthUri, /digits=8/);
      t.match(e.otpauthUri, /period=60/);
      t.match(e.otpauthUri, /algorithm=SHA256/);
      const code = oathtool(e.secretBase32, tc.clock.now(), { digits: 8, period: 60, algorithm: 'SHA256' });
      t.equal(code.length, 8);
      await strict.confirmEnrolment(u2.id, 'flow-strict', code);
      t.equal(
        await codeOf(
          strict.verify(
            u2.id,
            oathtool(e.secretBase32, tc.clock.now(), { digits: 6, period: 60, algorithm: 'SHA256' }),
          ),
        ),
        'mfa_invalid_code',
        'a 6-digit code is refused',
      );
    });

    t.test('remembered devices: signed, bound to user and organisation, revocable, expiring', async (t) => {
      const devices = new RememberedDevices(pp.store, tc.ctx.deviceKey, tc.clock);
      const { cookie, maxAgeSeconds } = await devices.remember(user.id, 30, 'Firefox on Linux');
      t.equal(maxAgeSeconds, 30 * 86400);
      t.equal(await devices.check(cookie, user.id), true);
      const other = await pp.store.users.create({ email: 'carl@customer.example' });
      t.equal(await devices.check(cookie, other.id), false, 'another user');
      t.equal(
        await new RememberedDevices(hooli.store, tc.ctx.deviceKey, tc.clock).check(cookie, user.id),
        false,
        'another organisation',
      );
      t.equal(
        await devices.check(cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA'), user.id),
        false,
        'tampered',
      );
      t.equal(await devices.check(cookie, user.id), true);
      t.equal((await devices.list(user.id)).length, 1);
      tc.clock.advance(31 * 86400_000);
      t.equal(await devices.check(cookie, user.id), false, 'expired');
      const second = await devices.remember(user.id, 1, null);
      await devices.revoke(user.id, null, 'admin@x');
      t.equal(await devices.check(second.cookie, user.id), false, 'revoked');
    });

    t.test('admin reset removes the factor, recovery codes and devices', async (t) => {
      await resetSecondFactor(pp.store, tc.clock, user.id, 'admin@x');
      t.match(await totp.status(user.id), { state: 'none' });
      t.equal((await pp.store.totp.unusedRecoveryCodes(user.id)).length, 0);
      t.ok((await pp.store.audit.list({ type: 'mfa.reset' })).length >= 1);
    });
  });
}
