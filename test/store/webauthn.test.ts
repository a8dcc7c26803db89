// Passkeys and security keys (mfa/webauthn-service.ts) on both databases, with a software authenticator built to the
// WebAuthn spec: registration and sign-in, and every refusal of issue 23 below the browser: another organisation's
// or user's credential, a replayed or stale challenge (also answered on another node), a wrong origin or RP ID, a
// counter that goes backwards (flagged and audited), and names.
import t from 'tap';
import { createTestContext, createOrg, testProviders } from '../helpers/context.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { relyingPartyOf, WebAuthnService, CHALLENGE_SECONDS } from '../../src/mfa/webauthn-service.ts';
import type { AppError } from '../../src/errors.ts';

const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: AppError) => e.code ?? String(e));

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

    t.test('the relying party is the organisation\'s host', async (t) => {
      t.same(rp, { id: 'piedpipers.broker.example', origin: 'https://piedpipers.broker.example', name: 'Pied Pipers' });
      t.same(relyingPartyOf('http://acme.localhost:3000', 'Acme'), { id: 'acme.localhost', origin: 'http://acme.localhost:3000', name: 'Acme' });
    });

    await t.test('register: options (attestation none, user verification preferred), then the new credential', async (t) => {
      const { options, challenge } = await service.registrationOptions(ann);
      t.equal(options.rp.id, 'piedpipers.broker.example');
      t.equal(options.attestation, 'none');
      t.equal(options.authenticatorSelection?.userVerification, 'preferred');
      t.equal(Buffer.from(options.user.id, 'base64url').toString(), ann.id, 'the user handle is the user id, not the address');
      const row = await service.register(ann, challenge, key.create(options, rp.origin), 'Work laptop');
      t.equal(row.name, 'Work laptop');
      t.equal(row.userId, ann.id);
      t.equal(row.counter, 0);
      t.equal(row.deviceType, 'singleDevice');
      t.equal(row.backedUp, false);
      t.same(JSON.parse(row.transports), ['internal']);
      t.equal((await pp.store.audit.list({ userId: ann.id, type: 'mfa.webauthn_registered' })).length, 1, 'audited');
      const again = await service.registrationOptions(ann);
      t.same(again.options.excludeCredentials?.map((c) => c.id), [row.credentialId], 'the user\'s credentials are excluded from the next registration');
    });

    await t.test('registration refusals: replayed challenge, wrong origin, wrong RP ID, the same credential twice', async (t) => {
      const { options, challenge } = await service.registrationOptions(ann);
      const answer = key.create(options, rp.origin);
      await service.register(ann, challenge, answer, 'Blue key');
      t.equal(await codeOf(otherNode.register(ann, challenge, answer, 'Blue key')), 'webauthn_challenge_used', 'a replay on another node is refused');
      const o2 = await service.registrationOptions(ann);
      t.equal(await codeOf(service.register(ann, o2.challenge, key.create(o2.options, 'https://piedpipers.evil.example'), 'x')), 'webauthn_wrong_origin');
      const o3 = await service.registrationOptions(ann);
      t.equal(await codeOf(service.register(ann, o3.challenge, key.create(o3.options, rp.origin, 'hooli.broker.example'), 'x')), 'webauthn_wrong_rp');
      const o4 = await service.registrationOptions(ann);
      t.equal(await codeOf(service.register(ann, o4.challenge, key.create({ ...o4.options, challenge: o2.options.challenge }, rp.origin), 'x')), 'webauthn_wrong_challenge', 'an answer to another challenge');
      const o5 = await service.registrationOptions(ann);
      tc.clock.advance((CHALLENGE_SECONDS + 1) * 1000);
      t.equal(await codeOf(service.register(ann, o5.challenge, key.create(o5.options, rp.origin), 'x')), 'webauthn_challenge_expired');
      t.equal(await codeOf(service.register(ann, undefined, key.create(o5.options, rp.origin), 'x')), 'webauthn_no_challenge');
      const o6 = await service.registrationOptions(ann);
      t.equal(await codeOf(service.register(ann, o6.challenge, key.create(o6.options, rp.origin), '')), 'webauthn_bad_name', 'a credential needs a name');
      t.equal((await service.list(ann.id)).length, 2, 'only the two good registrations were stored');
    });

    await t.test('sign in: the counter moves forward; a challenge is used once, on any node', async (t) => {
      const { options, challenge } = await service.authenticationOptions(ann.id);
      t.equal(options.rpId, 'piedpipers.broker.example');
      t.equal(options.userVerification, 'preferred');
      t.equal(options.allowCredentials?.length, 2, 'the user\'s credentials are offered');
      const answer = key.get(options, rp.origin);
      const row = await service.authenticate(ann.id, challenge, answer);
      t.equal(row.name, 'Work laptop');
      const stored = (await service.list(ann.id)).find((c) => c.id === row.id)!;
      t.equal(stored.counter, 1, 'the counter is stored');
      t.ok(stored.lastUsedAt);
      t.equal(await codeOf(otherNode.authenticate(ann.id, challenge, answer)), 'webauthn_challenge_used', 'the same answer again, on another node: refused');
      const o2 = await otherNode.authenticationOptions(ann.id);
      t.equal((await service.authenticate(ann.id, o2.challenge, key.get(o2.options, rp.origin))).name, 'Work laptop', 'a challenge made on one node is answered on another');
    });

    await t.test('sign-in refusals: another user\'s or organisation\'s credential, wrong origin and RP ID', async (t) => {
      const o1 = await service.authenticationOptions(bob.id);
      t.equal(await codeOf(service.authenticate(bob.id, o1.challenge, key.get(o1.options, rp.origin, key.credentials[0], { rpId: rp.id }))), 'webauthn_wrong_user');
      // Hooli's user with a credential of Pied Pipers: unknown there.
      const hooliUser = await hooli.store.users.create({ email: 'ann@customer.example' });
      const hooliService = new WebAuthnService(hooli.store, tc.clock, hooliRp);
      const o2 = await hooliService.authenticationOptions(hooliUser.id);
      t.equal(await codeOf(hooliService.authenticate(hooliUser.id, o2.challenge, key.get({ ...o2.options, rpId: hooliRp.id }, hooliRp.origin))), 'webauthn_unknown_credential');
      const o3 = await service.authenticationOptions(ann.id);
      t.equal(await codeOf(service.authenticate(ann.id, o3.challenge, key.get(o3.options, 'https://piedpipers.evil.example'))), 'webauthn_wrong_origin');
      const o4 = await service.authenticationOptions(ann.id);
      t.equal(await codeOf(service.authenticate(ann.id, o4.challenge, key.get(o4.options, rp.origin, key.credentials[0], { rpId: 'hooli.broker.example' }))), 'webauthn_wrong_rp');
    });

    await t.test('a counter that goes backwards is refused, flagged and audited', async (t) => {
      const before = (await service.list(ann.id)).find((c) => c.credentialId === key.credentials[0].id.toString('base64url'))!;
      const o = await service.authenticationOptions(ann.id);
      t.equal(await codeOf(service.authenticate(ann.id, o.challenge, key.get(o.options, rp.origin, key.credentials[0], { counter: before.counter - 1 }))), 'webauthn_counter_regressed');
      const after = (await service.list(ann.id)).find((c) => c.id === before.id)!;
      t.ok(after.counterWentBackAt, 'flagged');
      t.equal(after.counter, before.counter, 'the stored counter stays');
      const audit = await pp.store.audit.list({ userId: ann.id, type: 'mfa.webauthn_counter_regressed' });
      t.equal(audit.length, 1);
      t.equal(audit[0].details.credential, before.id);
    });

    await t.test('a passkey without a counter (0 always) is accepted each time', async (t) => {
      const synced = new SoftAuthenticator(0);
      const r = await service.registrationOptions(bob);
      await service.register(bob, r.challenge, synced.create(r.options, rp.origin), 'Phone');
      for (let i = 0; i < 2; i++) {
        const o = await service.authenticationOptions(bob.id);
        t.equal((await service.authenticate(bob.id, o.challenge, synced.get(o.options, rp.origin))).name, 'Phone');
      }
    });

    await t.test('rename and remove: only the user\'s own, names checked, audited', async (t) => {
      const [first] = await service.list(ann.id);
      t.equal(await codeOf(service.rename(bob.id, first.id, 'Mine now', 'bob@customer.example')), 'webauthn_not_found', 'not another user\'s');
      t.equal(await codeOf(service.rename(ann.id, first.id, '   ', 'ann@customer.example')), 'webauthn_bad_name');
      t.equal(await codeOf(service.rename(ann.id, first.id, 'x'.repeat(65), 'ann@customer.example')), 'webauthn_bad_name');
      await service.rename(ann.id, first.id, '  Old laptop\n', 'ann@customer.example');
      t.equal((await service.list(ann.id))[0].name, 'Old laptop');
      t.equal(await codeOf(service.remove(bob.id, first.id, 'bob@customer.example')), 'webauthn_not_found');
      await service.remove(ann.id, first.id, 'helpdesk@piedpipers.example');
      t.equal((await service.list(ann.id)).length, 1);
      const removed = await pp.store.audit.list({ userId: ann.id, type: 'mfa.webauthn_removed' });
      t.equal(removed[0].actor, 'helpdesk@piedpipers.example');
      const o = await service.authenticationOptions(ann.id);
      t.equal(await codeOf(service.authenticate(ann.id, o.challenge, key.get(o.options, rp.origin, key.credentials[0]))), 'webauthn_unknown_credential', 'a removed credential no longer signs in');
    });
  });
}
