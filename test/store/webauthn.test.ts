// Passkeys and security keys (mfa/webauthn-service.ts) on both databases, with a software authenticator built to the
// WebAuthn spec: registration and sign-in, and every refusal of issue 23 below the browser: another organisation's
// or user's credential, a replayed or stale challenge (also answered on another node), a wrong origin or RP ID, a
// counter that goes backwards under both counter policies (judged only after the signature verified; synced passkeys
// at 0 always accepted), names, recovery codes shared by every factor, and the admin's reset of the whole factor.
import t from 'tap';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { generateKeyPairSync } from 'node:crypto';
import { relyingPartyOf, WebAuthnService, CHALLENGE_SECONDS, counterWentBack } from '../../src/mfa/webauthn-service.ts';
import { resetSecondFactor } from '../../src/mfa/reset-second-factor.ts';
import { RecoveryCodes } from '../../src/mfa/recovery-codes.ts';
import type { AppError } from '../../src/errors.ts';

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: AppError) => e.code ?? String(e),
  );

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const pp = await createOrg(tc.ctx, 'piedpipers');
    const hooli = await createOrg(tc.ctx, 'hooli');
    const rp = relyingPartyOf('https://piedpipers.broker.example', 'Pied Pipers');
    const hooliRp = relyingPartyOf('https://hooli.broker.example', 'Hooli');
    const ann = await pp.store.users.create({ email: 'ann@customer.example' });
    const bob = await pp.store.users.create({ email: 'bob@customer.example' });
    const service = new WebAuthnService(pp.store, tc.clock, rp);
    // Another node: its own repositories over the same database.
    const otherNode = new WebAuthnService(tc.ctx.store.forOrg(pp.org.id), tc.clock, rp);
    const key = new SoftAuthenticator();

    t.test("the relying party is the organisation's host", async (t) => {
      t.same(rp, { id: 'piedpipers.broker.example', origin: 'https://piedpipers.broker.example', name: 'Pied Pipers' });
      t.same(relyingPartyOf('http://acme.localhost:3000', 'Acme'), {
        id: 'acme.localhost',
        origin: 'http://acme.localhost:3000',
        name: 'Acme',
      });
    });

    await t.test(
      'register: options (attestation none, user verification preferred), then the new credential',
      async (t) => {
        const { options, challenge } = await service.registrationOptions(ann);
        t.equal(options.rp.id, 'piedpipers.broker.example');
        t.equal(options.attestation, 'none');
        t.equal(options.authenticatorSelection?.userVerification, 'preferred');
        t.equal(
          Buffer.from(options.user.id, 'base64url').toString(),
          ann.id,
          'the user handle is the user id, not the address',
        );
        const row = await service.register(ann, challenge, key.create(options, rp.origin), 'Work laptop');
        t.equal(row.name, 'Work laptop');
        t.equal(row.userId, ann.id);
        t.equal(row.counter, 0);
        t.equal(row.deviceType, 'singleDevice');
        t.equal(row.backedUp, false);
        t.same(JSON.parse(row.transports), ['internal']);
        t.equal((await pp.store.audit.list({ userId: ann.id, type: 'mfa.webauthn_registered' })).length, 1, 'audited');
        const again = await service.registrationOptions(ann);
        t.same(
          again.options.excludeCredentials?.map((c) => c.id),
          [row.credentialId],
          "the user's credentials are excluded from the next registration",
        );
      },
    );

    await t.test(
      'registration refusals: replayed challenge, wrong origin, wrong RP ID, the same credential twice',
      async (t) => {
        const { options, challenge } = await service.registrationOptions(ann);
        const answer = key.create(options, rp.origin);
        await service.register(ann, challenge, answer, 'Blue key');
        t.equal(
          await codeOf(otherNode.register(ann, challenge, answer, 'Blue key')),
          'webauthn_challenge_used',
          'a replay on another node is refused',
        );
        const o2 = await service.registrationOptions(ann);
        t.equal(
          await codeOf(
            service.register(ann, o2.challenge, key.create(o2.options, 'https://piedpipers.evil.example'), 'x'),
          ),
          'webauthn_wrong_origin',
        );
        const o3 = await service.registrationOptions(ann);
        t.equal(
          await codeOf(
            service.register(ann, o3.challenge, key.create(o3.options, rp.origin, 'hooli.broker.example'), 'x'),
          ),
          'webauthn_wrong_rp',
        );
        const o4 = await service.registrationOptions(ann);
        t.equal(
          await codeOf(
            service.register(
              ann,
              o4.challenge,
              key.create({ ...o4.options, challenge: o2.options.challenge }, rp.origin),
              'x',
            ),
          ),
          'webauthn_wrong_challenge',
          'an answer to another challenge',
        );
        const o5 = await service.registrationOptions(ann);
        tc.clock.advance((CHALLENGE_SECONDS + 1) * 1000);
        t.equal(
          await codeOf(service.register(ann, o5.challenge, key.create(o5.options, rp.origin), 'x')),
          'webauthn_challenge_expired',
        );
        t.equal(
          await codeOf(service.register(ann, undefined, key.create(o5.options, rp.origin), 'x')),
          'webauthn_no_challenge',
        );
        const o6 = await service.registrationOptions(ann);
        t.equal(
          await codeOf(service.register(ann, o6.challenge, key.create(o6.options, rp.origin), '')),
          'webauthn_bad_name',
          'a credential needs a name',
        );
        t.equal((await service.list(ann.id)).length, 2, 'only the two good registrations were stored');
      },
    );

    await t.test('sign in: the counter moves forward; a challenge is used once, on any node', async (t) => {
      const { options, challenge } = await service.authenticationOptions(ann.id);
      t.equal(options.rpId, 'piedpipers.broker.example');
      t.equal(options.userVerification, 'preferred');
      t.equal(options.allowCredentials?.length, 2, "the user's credentials are offered");
      const answer = key.get(options, rp.origin);
      const row = await service.authenticate(ann.id, challenge, answer);
      t.equal(row.name, 'Work laptop');
      const stored = (await service.list(ann.id)).find((c) => c.id === row.id)!;
      t.equal(stored.counter, 1, 'the counter is stored');
      t.ok(stored.lastUsedAt);
      t.equal(
        await codeOf(otherNode.authenticate(ann.id, challenge, answer)),
        'webauthn_challenge_used',
        'the same answer again, on another node: refused',
      );
      const o2 = await otherNode.authenticationOptions(ann.id);
      t.equal(
        (await service.authenticate(ann.id, o2.challenge, key.get(o2.options, rp.origin))).name,
        'Work laptop',
        'a challenge made on one node is answered on another',
      );
    });

    await t.test("sign-in refusals: another user's or organisation's credential, wrong origin and RP ID", async (t) => {
      const o1 = await service.authenticationOptions(bob.id);
      t.equal(
        await codeOf(
          service.authenticate(
            bob.id,
            o1.challenge,
            key.get(o1.options, rp.origin, key.credentials[0], { rpId: rp.id }),
          ),
        ),
        'webauthn_wrong_user',
      );
      // Hooli's user with a credential of Pied Pipers: unknown there.
      const hooliUser = await hooli.store.users.create({ email: 'ann@customer.example' });
      const hooliService = new WebAuthnService(hooli.store, tc.clock, hooliRp);
      const o2 = await hooliService.authenticationOptions(hooliUser.id);
      t.equal(
        await codeOf(
          hooliService.authenticate(
            hooliUser.id,
            o2.challenge,
            key.get({ ...o2.options, rpId: hooliRp.id }, hooliRp.origin),
          ),
        ),
        'webauthn_unknown_credential',
      );
      const o3 = await service.authenticationOptions(ann.id);
      t.equal(
        await codeOf(
          service.authenticate(ann.id, o3.challenge, key.get(o3.options, 'https://piedpipers.evil.example')),
        ),
        'webauthn_wrong_origin',
      );
      const o4 = await service.authenticationOptions(ann.id);
      t.equal(
        await codeOf(
          service.authenticate(
            ann.id,
            o4.challenge,
            key.get(o4.options, rp.origin, key.credentials[0], { rpId: 'hooli.broker.example' }),
          ),
        ),
        'webauthn_wrong_rp',
      );
    });

    await t.test('a counter that goes backwards is refused, flagged and audited', async (t) => {
      const before = (await service.list(ann.id)).find(
        (c) => c.credentialId === key.credentials[0].id.toString('base64url'),
      )!;
      const o = await service.authenticationOptions(ann.id);
      t.equal(
        await codeOf(
          service.authenticate(
            ann.id,
            o.challenge,
            key.get(o.options, rp.origin, key.credentials[0], { counter: before.counter - 1 }),
          ),
        ),
        'webauthn_counter_regressed',
      );
      const after = (await service.list(ann.id)).find((c) => c.id === before.id)!;
      t.ok(after.counterWentBackAt, 'flagged');
      t.equal(after.counter, before.counter, 'the stored counter stays');
      const audit = await pp.store.audit.list({ userId: ann.id, type: 'webauthn.counter_regressed' });
      t.equal(audit.length, 1);
      t.match(audit[0], {
        outcome: 'failure',
        code: 'webauthn_counter_regressed',
        details: {
          credential: before.id,
          stored: before.counter,
          reported: before.counter - 1,
          policy: 'refuse',
          refused: true,
        },
      });
    });

    t.test('what counts as going backwards: lower or equal, unless both are 0', async (t) => {
      t.equal(counterWentBack(0, 0), false, 'no counter kept (synced passkeys)');
      t.equal(counterWentBack(0, 1), false);
      t.equal(counterWentBack(4, 5), false);
      t.equal(counterWentBack(5, 5), true, 'the same value again');
      t.equal(counterWentBack(5, 4), true);
      t.equal(counterWentBack(5, 0), true, 'a key that counted reports 0');
    });

    await t.test(
      'counter policies: refuse and allow-flagged; a forged answer never flags or changes anything',
      async (t) => {
        const carl = await pp.store.users.create({ email: 'carl@customer.example' });
        const lenient = new WebAuthnService(pp.store, tc.clock, rp, 'allow-flagged');
        const strict = new WebAuthnService(pp.store, tc.clock, rp, 'refuse');
        const counting = new SoftAuthenticator();
        const r = await strict.registrationOptions(carl);
        const row = await strict.register(carl, r.challenge, counting.create(r.options, rp.origin), 'Counting key');
        const cred = counting.credentials[0];
        const stored = async () => (await strict.list(carl.id)).find((c) => c.id === row.id)!;
        for (let i = 0; i < 3; i++) {
          const o = await strict.authenticationOptions(carl.id);
          await strict.authenticate(carl.id, o.challenge, counting.get(o.options, rp.origin));
        }
        t.equal((await stored()).counter, 3);
        const regressedEvents = () => pp.store.audit.list({ userId: carl.id, type: 'webauthn.counter_regressed' });

        // A forged answer (signed with another key) with a counter that went back: refused as unverified, under
        // both policies, and nothing is flagged, moved or audited as a counter event.
        const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
        for (const service of [strict, lenient]) {
          const o = await service.authenticationOptions(carl.id);
          const forged = counting.get(o.options, rp.origin, { ...cred, privateKey: attacker }, { counter: 1 });
          t.equal(
            await codeOf(service.authenticate(carl.id, o.challenge, forged)),
            'webauthn_refused',
            'a forged answer is refused',
          );
        }
        t.equal((await stored()).counterWentBackAt, null, 'not flagged by a forged answer');
        t.equal((await stored()).counter, 3, 'nor its counter changed');
        t.equal((await regressedEvents()).length, 0, 'nor audited as a counter event');

        // allow-flagged: a verified answer with an older count is accepted, the key flagged, the event audited; the
        // stored counter does not move back, so the key that kept counting still works.
        const o1 = await lenient.authenticationOptions(carl.id);
        t.equal(
          (
            await lenient.authenticate(
              carl.id,
              o1.challenge,
              counting.get(o1.options, rp.origin, { ...cred }, { counter: 2 }),
            )
          ).id,
          row.id,
          'accepted under allow-flagged',
        );
        const flagged = await stored();
        t.ok(flagged.counterWentBackAt, 'flagged');
        t.equal(flagged.counter, 3, 'the stored counter stays');
        const [event] = await regressedEvents();
        t.match(event, {
          outcome: 'success',
          code: 'webauthn_counter_regressed',
          details: { credential: row.id, stored: 3, reported: 2, policy: 'allow-flagged', refused: false },
        });
        const o2 = await lenient.authenticationOptions(carl.id);
        await lenient.authenticate(carl.id, o2.challenge, counting.get(o2.options, rp.origin));
        t.equal((await stored()).counter, 4, 'the original key goes on counting');

        // refuse: the same answer is refused (and audited as refused).
        const o3 = await strict.authenticationOptions(carl.id);
        t.equal(
          await codeOf(
            strict.authenticate(
              carl.id,
              o3.challenge,
              counting.get(o3.options, rp.origin, { ...cred }, { counter: 4 }),
            ),
          ),
          'webauthn_counter_regressed',
          'the same count again: refused',
        );
        t.equal((await regressedEvents()).length, 2);
        t.equal((await stored()).counter, 4);
      },
    );

    await t.test('counter 0 always (synced passkeys): accepted under both policies, never flagged', async (t) => {
      const dana = await pp.store.users.create({ email: 'dana@customer.example' });
      const synced = new SoftAuthenticator(0);
      for (const policy of ['refuse', 'allow-flagged'] as const) {
        const service = new WebAuthnService(pp.store, tc.clock, rp, policy);
        const r = await service.registrationOptions(dana);
        const row = await service.register(dana, r.challenge, synced.create(r.options, rp.origin), `Phone (${policy})`);
        for (let i = 0; i < 3; i++) {
          const o = await service.authenticationOptions(dana.id);
          t.equal(
            (
              await service.authenticate(
                dana.id,
                o.challenge,
                synced.get(o.options, rp.origin, synced.credentials.at(-1)),
              )
            ).id,
            row.id,
            `${policy}: sign-in ${i + 1} at counter 0`,
          );
        }
        const after = (await service.list(dana.id)).find((c) => c.id === row.id)!;
        t.equal(after.counter, 0);
        t.equal(after.counterWentBackAt, null, `${policy}: not flagged`);
      }
      t.equal((await pp.store.audit.list({ userId: dana.id, type: 'webauthn.counter_regressed' })).length, 0);
    });

    await t.test('recovery codes: shared by every factor, single use, also when two nodes race', async (t) => {
      const erin = await pp.store.users.create({ email: 'erin@customer.example' });
      const here = new RecoveryCodes(pp.store, tc.clock);
      const there = new RecoveryCodes(tc.ctx.store.forOrg(pp.org.id), tc.clock);
      const codes = await here.issue(erin.id);
      t.equal(codes.length, 10);
      t.equal(await here.left(erin.id), 10);
      const raced = await Promise.all([here.use(erin.id, codes[0]), there.use(erin.id, ` ${codes[0].toUpperCase()} `)]);
      t.same(
        raced.filter((r) => r !== null),
        [9],
        'one of two nodes accepts the same code, once',
      );
      t.equal(await here.use(erin.id, codes[0]), null, 'used: refused');
      t.equal(await here.use(erin.id, 'aaaa-bbbb-cc'), null, 'not one of hers');
      t.equal(
        await new RecoveryCodes(hooli.store, tc.clock).use(erin.id, codes[1]),
        null,
        'another organisation cannot use them',
      );
      t.equal(await here.left(erin.id), 9);
      t.equal(
        (await pp.store.audit.list({ userId: erin.id, type: 'mfa.recovery_code_used' })).length,
        1,
        'the use is audited',
      );
    });

    await t.test(
      'reset of the second factor: passkeys, recovery codes, app and devices go, audited with what was removed',
      async (t) => {
        const fay = await pp.store.users.create({ email: 'fay@customer.example' });
        const fayKey = new SoftAuthenticator();
        for (const name of ['Blue key', 'Phone']) {
          const r = await service.registrationOptions(fay);
          await service.register(fay, r.challenge, fayKey.create(r.options, rp.origin), name);
        }
        await new RecoveryCodes(pp.store, tc.clock).issue(fay.id);
        t.same(
          await resetSecondFactor(hooli.store, tc.clock, fay.id, 'evil@hooli'),
          { authenticatorApp: null, passkeys: [], recoveryCodes: 0, rememberedDevices: 0 },
          'another organisation removes nothing',
        );
        t.equal((await service.list(fay.id)).length, 2);
        const removed = await resetSecondFactor(pp.store, tc.clock, fay.id, 'helpdesk@piedpipers.example');
        t.same(
          removed.passkeys.map((p) => p.name),
          ['Blue key', 'Phone'],
        );
        t.equal(removed.recoveryCodes, 10);
        t.equal((await service.list(fay.id)).length, 0, 'no passkey left');
        t.equal(await new RecoveryCodes(pp.store, tc.clock).left(fay.id), 0, 'no recovery code left');
        const [audit] = await pp.store.audit.list({ userId: fay.id, type: 'mfa.reset' });
        t.match(audit, {
          actor: 'helpdesk@piedpipers.example',
          details: {
            removed: { authenticatorApp: null, recoveryCodes: 10, passkeys: [{ name: 'Blue key' }, { name: 'Phone' }] },
          },
        });
        const o = await service.authenticationOptions(fay.id);
        t.equal(
          await codeOf(
            service.authenticate(fay.id, o.challenge, fayKey.get(o.options, rp.origin, fayKey.credentials[0])),
          ),
          'webauthn_unknown_credential',
          'a removed key no longer signs in',
        );
      },
    );

    await t.test('a passkey without a counter (0 always) is accepted each time', async (t) => {
      const synced = new SoftAuthenticator(0);
      const r = await service.registrationOptions(bob);
      await service.register(bob, r.challenge, synced.create(r.options, rp.origin), 'Phone');
      for (let i = 0; i < 2; i++) {
        const o = await service.authenticationOptions(bob.id);
        t.equal((await service.authenticate(bob.id, o.challenge, synced.get(o.options, rp.origin))).name, 'Phone');
      }
    });

    await t.test("rename and remove: only the user's own, names checked, audited", async (t) => {
      const [first] = await service.list(ann.id);
      t.equal(
        await codeOf(service.rename(bob.id, first.id, 'Mine now', 'bob@customer.example')),
        'webauthn_not_found',
        "not another user's",
      );
      t.equal(await codeOf(service.rename(ann.id, first.id, '   ', 'ann@customer.example')), 'webauthn_bad_name');
      t.equal(
        await codeOf(service.rename(ann.id, first.id, 'x'.repeat(65), 'ann@customer.example')),
        'webauthn_bad_name',
      );
      await service.rename(ann.id, first.id, '  Old laptop\n', 'ann@customer.example');
      t.equal((await service.list(ann.id))[0].name, 'Old laptop');
      t.equal(await codeOf(service.remove(bob.id, first.id, 'bob@customer.example')), 'webauthn_not_found');
      await service.remove(ann.id, first.id, 'helpdesk@piedpipers.example');
      t.equal((await service.list(ann.id)).length, 1);
      const removed = await pp.store.audit.list({ userId: ann.id, type: 'mfa.webauthn_removed' });
      t.equal(removed[0].actor, 'helpdesk@piedpipers.example');
      const o = await service.authenticationOptions(ann.id);
      t.equal(
        await codeOf(service.authenticate(ann.id, o.challenge, key.get(o.options, rp.origin, key.credentials[0]))),
        'webauthn_unknown_credential',
        'a removed credential no longer signs in',
      );
    });
  });
}
