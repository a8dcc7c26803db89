// Admins and helpdesk see and remove a user's passkeys (issue 23): the console's user page and the API, audited
// with the admin; another user's or organisation's passkey is not removed; a viewer may look but not remove. The reset
// of the whole second factor takes passkeys and recovery codes too; the organisation's counter policy (console, API).
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { webauthnFor } from '../../src/mfa/for-tenant.ts';
import { RecoveryCodes } from '../../src/mfa/recovery-codes.ts';

t.test("console and API: a user's passkeys", async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const other = await signedInAdmin(ta, 'hooli');
  const pp = ta.ctx.store.forOrg(admin.orgId);
  const org = (await ta.ctx.store.organizations.findById(admin.orgId))!;
  const base = `https://piedpipers.${ta.config.baseDomain}`;
  const passkeys = webauthnFor(ta.ctx, org, pp, base);
  const ann = await pp.users.create({ email: 'ann@customer.example' });
  const bob = await pp.users.create({ email: 'bob@customer.example' });
  const key = new SoftAuthenticator();
  const enrol = async (user: { id: string; email: string }, name: string) => {
    const { options, challenge } = await passkeys.registrationOptions(user);
    return passkeys.register(user, challenge, key.create(options, new URL(base).origin), name);
  };
  const token = await admin.apiToken('passkeys', { role: 'helpdesk' });
  const api$ = (method: 'GET' | 'DELETE', url: string) =>
    ta.request('piedpipers', { method, url, headers: { authorization: `Bearer ${token}` } });
  const laptop = await enrol(ann, 'Work <laptop>');
  const blue = await enrol(ann, 'Blue key');
  const bobs = await enrol(bob, "Bob's key");

  const page = await admin.get(`/admin/users/${ann.id}`);
  t.equal(page.statusCode, 200);
  t.match(page.body, /Work &lt;laptop&gt;/, 'listed, escaped');
  t.match(page.body, /Blue key/);
  t.notMatch(page.body, /Bob&#39;s key/, "only this user's");

  const api = await api$('GET', `/api/users/${ann.id}`);
  t.same(
    JSON.parse(api.body).passkeys.map((p: { name: string }) => p.name),
    ['Work <laptop>', 'Blue key'],
    'the API lists them',
  );

  const removed = await admin.post(`/admin/users/${ann.id}/passkeys/${laptop.id}/remove`, {});
  t.equal(removed.statusCode, 303);
  t.equal(removed.headers.location, `/admin/users/${ann.id}?done=passkey-removed`);
  t.same(
    (await pp.webauthn.list(ann.id)).map((c) => c.name),
    ['Blue key'],
  );
  const audit = await pp.audit.list({ userId: ann.id, type: 'mfa.webauthn_removed' });
  t.equal(audit.length, 1, 'audited');
  t.equal(audit[0].actor, admin.email, 'with the admin');

  t.equal(
    (await admin.post(`/admin/users/${ann.id}/passkeys/${bobs.id}/remove`, {})).statusCode,
    404,
    "another user's passkey through this user: 404",
  );
  t.equal(
    (await other.post(`/admin/users/${bob.id}/passkeys/${bobs.id}/remove`, {})).statusCode,
    404,
    'another organisation: 404',
  );
  t.equal((await pp.webauthn.list(bob.id)).length, 1, "bob's key stays");

  const del = await api$('DELETE', `/api/users/${ann.id}/passkeys/${blue.id}`);
  t.equal(del.statusCode, 204);
  t.equal((await pp.webauthn.list(ann.id)).length, 0);
  t.equal((await api$('DELETE', `/api/users/${ann.id}/passkeys/${blue.id}`)).statusCode, 404, 'gone');
});

t.test(
  'reset second factor: passkeys and recovery codes go too, audited with what was removed; the user enrols again',
  async (t) => {
    const ta = await createTestApp();
    t.teardown(ta.cleanup);
    const admin = await signedInAdmin(ta, 'piedpipers');
    const pp = ta.ctx.store.forOrg(admin.orgId);
    const org = (await ta.ctx.store.organizations.findById(admin.orgId))!;
    const base = `https://piedpipers.${ta.config.baseDomain}`;
    const passkeys = webauthnFor(ta.ctx, org, pp, base);
    const key = new SoftAuthenticator();
    const enrol = async (user: { id: string; email: string }, name: string) => {
      const { options, challenge } = await passkeys.registrationOptions(user);
      return passkeys.register(user, challenge, key.create(options, new URL(base).origin), name);
    };
    const ann = await pp.users.create({ email: 'ann@customer.example' });
    const bob = await pp.users.create({ email: 'bob@customer.example' });
    await enrol(ann, 'Blue key');
    await new RecoveryCodes(pp, ta.clock).issue(ann.id);
    await enrol(bob, "Bob's key");
    await new RecoveryCodes(pp, ta.clock).issue(bob.id);

    const page = await admin.get(`/admin/users/${ann.id}`);
    t.match(
      page.body,
      /action="\/admin\/users\/[^"]+\/reset-totp"/,
      'a passkey-only user can be reset from the console',
    );
    t.match(page.body, /every passkey and security key, the recovery codes/);
    const reset = await admin.post(`/admin/users/${ann.id}/reset-totp`, {});
    t.equal(reset.statusCode, 303);
    t.equal((await pp.webauthn.list(ann.id)).length, 0, 'her passkeys are removed');
    t.equal(await new RecoveryCodes(pp, ta.clock).left(ann.id), 0, 'and her recovery codes');
    const [audit] = await pp.audit.list({ userId: ann.id, type: 'mfa.reset' });
    t.equal(audit.actor, admin.email);
    t.match(
      audit.details,
      { removed: { authenticatorApp: null, passkeys: [{ name: 'Blue key' }], recoveryCodes: 10 } },
      'audited with what was removed',
    );

    const token = await admin.apiToken('reset', { role: 'helpdesk' });
    const viaApi = await ta.request('piedpipers', {
      method: 'POST',
      url: `/api/users/${bob.id}/reset-totp`,
      headers: { authorization: `Bearer ${token}` },
    });
    t.equal(viaApi.statusCode, 200);
    t.same(JSON.parse(viaApi.body).passkeys, [], 'the API answers with no passkey left');
    t.equal(await new RecoveryCodes(pp, ta.clock).left(bob.id), 0);
    t.match((await pp.audit.list({ userId: bob.id, type: 'mfa.reset' }))[0].details, {
      removed: { passkeys: [{ name: "Bob's key" }], recoveryCodes: 10 },
    });
  },
);

t.test("the organisation's counter policy: console and API, validated and audited", async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const token = await admin.apiToken('settings', { role: 'admin' });
  const api = (method: 'GET' | 'PATCH', body?: object) =>
    ta.request('piedpipers', {
      method,
      url: '/api/organization',
      headers: { authorization: `Bearer ${token}`, ...(body && { 'content-type': 'application/json' }) },
      ...(body && { payload: JSON.stringify(body) }),
    });
  t.equal(JSON.parse((await api('GET')).body).webauthnCounterPolicy, 'refuse', 'refuse by default');
  const bad = await api('PATCH', { webauthnCounterPolicy: 'ignore' });
  t.equal(bad.statusCode, 400, 'an unknown policy is refused');
  const ok = await api('PATCH', { webauthnCounterPolicy: 'allow-flagged' });
  t.equal(ok.statusCode, 200);
  t.equal(JSON.parse(ok.body).webauthnCounterPolicy, 'allow-flagged');
  const [changed] = await ta.ctx.store.forOrg(admin.orgId).audit.list({ type: 'organization.settings_changed' });
  t.match(changed.details, { changes: { webauthnCounterPolicy: { from: 'refuse', to: 'allow-flagged' } } });

  const page = await admin.get('/admin/organization');
  t.match(page.body, /<option value="allow-flagged" selected>/, 'the console shows the setting');
  const form = Object.fromEntries(
    [...page.body.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1], m[2]]),
  );
  const saved = await admin.post('/admin/organization', {
    ...form,
    totpDigits: '6',
    totpAlgorithm: 'SHA1',
    webauthnCounterPolicy: 'refuse',
  });
  t.equal(saved.statusCode, 303, 'saved from the console');
  t.equal((await ta.ctx.store.organizations.findById(admin.orgId))!.webauthnCounterPolicy, 'refuse');
  const wrong = await admin.post('/admin/organization', {
    ...form,
    totpDigits: '6',
    totpAlgorithm: 'SHA1',
    webauthnCounterPolicy: 'maybe',
  });
  t.equal(wrong.statusCode, 400);
  t.match(wrong.body, /Counter policy must be refuse or allow-flagged/);
});
