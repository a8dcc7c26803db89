// TOTP enrolment and verification on both databases, with codes from an independent generator (oathtool).
import t from 'tap';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { TotpService, DEFAULT_LOCKOUT, type TotpSettings } from '../../src/mfa/totp-service.ts';
import { RememberedDevices } from '../../src/mfa/remembered-devices.ts';
import { AppError } from '../../src/errors.ts';

const settings: TotpSettings = { digits: 6, period: 30, algorithm: 'SHA1', issuer: 'Pied Pipers', ...DEFAULT_LOCKOUT };

const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: AppError) => e.code);

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
      const e = await totp.startEnrolment(user);
      t.match(e.secretBase32, /^[A-Z2-7]{32}$/);
      t.match(e.otpauthUri, /^otpauth:\/\/totp\/Pied%20Pipers:ann%40customer\.example\?/);
      t.match(e.qrDataUrl, /^data:image\/png;base64,/);
      const again = await totp.startEnrolment(user);
      t.not(again.secretBase32, e.secretBase32, 'reloading the page replaces the pending secret');
      secret = again.secretBase32;
      t.equal(await codeOf(totp.verify(user.id, oathtool(secret, tc.clock.now()))), 'mfa_not_enrolled', 'pending is not active');
      t.equal(await codeOf(totp.confirmEnrolment(user.id, '000000')), 'mfa_invalid_code');
      recovery = await totp.confirmEnrolment(user.id, oathtool(secret, tc.clock.now()));
      t.equal(recovery.length, 10);
      t.equal(new Set(recovery).size, 10);
      for (const c of recovery) t.match(c, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{2}$/);
      t.match(await totp.status(user.id), { state: 'active' });
      t.equal(await codeOf(totp.startEnrolment(user)), 'mfa_already_enrolled');
    });

    t.test('the database never holds the secret or the recovery codes in clear', async (t) => {
      const rows = await tc.ctx.store.db.$queryRawUnsafe<{ secretEnc: string }[]>('SELECT "secretEnc" FROM "TotpFactor"');
      t.equal(rows.length, 1);
      t.notMatch(rows[0].secretEnc, secret);
      const codes = await tc.ctx.store.db.$queryRawUnsafe<{ codeHash: string }[]>('SELECT "codeHash" FROM "RecoveryCode"');
      t.equal(codes.length, 10);
      for (const c of codes) { t.match(c.codeHash, /^\$argon2id\$/); t.notOk(recovery.includes(c.codeHash)); }
    });

    t.test('verify: the enrolment code\'s step is used; the next steps work once each, across nodes', async (t) => {
      t.equal(await codeOf(totp.verify(user.id, oathtool(secret, tc.clock.now()))), 'mfa_code_reused', 'the confirming code cannot be used again');
      tc.clock.advance(30_000);
      const code = oathtool(secret, tc.clock.now());
      t.same(await totp.verify(user.id, code), { method: 'totp' });
      t.equal(await codeOf(otherNode.verify(user.id, code)), 'mfa_code_reused', 'another node refuses the same step');
      tc.clock.advance(60_000);
      t.same(await otherNode.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() - 30_000))), { method: 'totp' }, 'one step behind is accepted');
      tc.clock.advance(60_000);
      t.same(await totp.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() + 30_000))), { method: 'totp' }, 'one step ahead is accepted');
      tc.clock.advance(120_000);
      t.equal(await codeOf(totp.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() - 60_000)))), 'mfa_invalid_code', 'two steps behind is refused');
      t.equal(await codeOf(totp.verify(user.id, oathtool(secret, new Date(tc.clock.now().getTime() + 60_000)))), 'mfa_invalid_code', 'two steps ahead is refused');
      t.same(await totp.verify(user.id, ` ${oathtool(secret, tc.clock.now())} `), { method: 'totp' }, 'spaces around a code are fine, and a success resets the failures');
    });

    t.test('five wrong codes lock the factor for the configured time, audited', async (t) => {
      tc.clock.advance(300_000);
      for (let i = 0; i < 4; i++) t.equal(await codeOf(totp.verify(user.id, '123456')), 'mfa_invalid_code');
      t.equal(await codeOf(totp.verify(user.id, '654321')), 'mfa_locked');
      t.equal(await codeOf(totp.verify(user.id, oathtool(secret, tc.clock.now()))), 'mfa_locked', 'even the right code while locked');
      t.equal(await codeOf(totp.verify(user.id, recovery[0])), 'mfa_locked', 'and a recovery code');
      const audit = await pp.store.audit.list({ type: 'mfa.locked', userId: user.id });
      t.equal(audit.length, 1);
      tc.clock.advance(15 * 60_000 + 1000);
      t.same(await totp.verify(user.id, oathtool(secret, tc.clock.now())), { method: 'totp' }, 'the lock expires');
    });

    t.test('failures counted on another node add up', async (t) => {
      tc.clock.advance(60_000);
      await Promise.all([totp.verify(user.id, '111111'), otherNode.verify(user.id, '222222'), totp.verify(user.id, '333333')].map((p) => p.catch(() => {})));
      t.equal((await totp.status(user.id)).failedAttempts, 3);
      await totp.unlock(user.id, 'admin@x');
      t.equal((await totp.status(user.id)).failedAttempts, 0);
    });

    t.test('a recovery code works once', async (t) => {
      t.match(await totp.verify(user.id, recovery[1].toUpperCase()), { method: 'recovery', remainingRecoveryCodes: 9 });
      t.equal(await codeOf(totp.verify(user.id, recovery[1])), 'mfa_invalid_code');
      t.equal(await codeOf(totp.verify(user.id, 'aaaa-bbbb-cc')), 'mfa_invalid_code');
    });

    t.test('another organisation cannot verify, unlock or reset this user\'s factor', async (t) => {
      const foreign = new TotpService(hooli.store, tc.ctx.box, tc.clock, settings);
      tc.clock.advance(60_000);
      t.equal(await codeOf(foreign.verify(user.id, oathtool(secret, tc.clock.now()))), 'mfa_not_enrolled');
      await foreign.reset(user.id, 'evil');
      t.match(await totp.status(user.id), { state: 'active' }, 'untouched');
    });

    t.test('organisation settings: 8 digits, 60 s, SHA-256', async (t) => {
      const u2 = await pp.store.users.create({ email: 'bob@customer.example' });
      const strict = new TotpService(pp.store, tc.ctx.box, tc.clock, { ...settings, digits: 8, period: 60, algorithm: 'SHA256' });
      const e = await strict.startEnrolment(u2);
      t.match(e.otpauthUri, /digits=8/);
      t.match(e.otpauthUri, /period=60/);
      t.match(e.otpauthUri, /algorithm=SHA256/);
      const code = oathtool(e.secretBase32, tc.clock.now(), { digits: 8, period: 60, algorithm: 'SHA256' });
      t.equal(code.length, 8);
      await strict.confirmEnrolment(u2.id, code);
      t.equal(await codeOf(strict.verify(u2.id, oathtool(e.secretBase32, tc.clock.now(), { digits: 6, period: 60, algorithm: 'SHA256' }))), 'mfa_invalid_code', 'a 6-digit code is refused');
    });

    t.test('remembered devices: signed, bound to user and organisation, revocable, expiring', async (t) => {
      const devices = new RememberedDevices(pp.store, tc.ctx.deviceKey, tc.clock);
      const { cookie, maxAgeSeconds } = await devices.remember(user.id, 30, 'Firefox on Linux');
      t.equal(maxAgeSeconds, 30 * 86400);
      t.equal(await devices.check(cookie, user.id), true);
      const other = await pp.store.users.create({ email: 'carl@customer.example' });
      t.equal(await devices.check(cookie, other.id), false, 'another user');
      t.equal(await new RememberedDevices(hooli.store, tc.ctx.deviceKey, tc.clock).check(cookie, user.id), false, 'another organisation');
      t.equal(await devices.check(cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA'), user.id), false, 'tampered');
      t.equal(await devices.check(cookie, user.id), true);
      t.equal((await devices.list(user.id)).length, 1);
      tc.clock.advance(31 * 86400_000);
      t.equal(await devices.check(cookie, user.id), false, 'expired');
      const second = await devices.remember(user.id, 1, null);
      await devices.revoke(user.id, null, 'admin@x');
      t.equal(await devices.check(second.cookie, user.id), false, 'revoked');
    });

    t.test('admin reset removes the factor, recovery codes and devices', async (t) => {
      await totp.reset(user.id, 'admin@x');
      t.match(await totp.status(user.id), { state: 'none' });
      t.equal((await pp.store.totp.unusedRecoveryCodes(user.id)).length, 0);
      t.ok((await pp.store.audit.list({ type: 'mfa.reset' })).length >= 1);
    });
  });
}
