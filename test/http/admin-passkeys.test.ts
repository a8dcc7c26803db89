// Admins and helpdesk see and remove a user's passkeys (issue 23): the console's user page and the API, audited
// with the admin; another user's or organisation's passkey is not removed; a viewer may look but not remove.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { webauthnFor } from '../../src/mfa/for-tenant.ts';

t.test('console and API: a user\'s passkeys', async (t) => {
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
  const api$ = (method: 'GET' | 'DELETE', url: string) => ta.request('piedpipers', { method, url, headers: { authorization: `Bearer ${token}` } });
  const laptop = await enrol(ann, 'Work <laptop>');
  const blue = await enrol(ann, 'Blue key');
  const bobs = await enrol(bob, 'Bob\'s key');

  const page = await admin.get(`/admin/users/${ann.id}`);
  t.equal(page.statusCode, 200);
  t.match(page.body, /Work &lt;laptop&gt;/, 'listed, escaped');
  t.match(page.body, /Blue key/);
  t.notMatch(page.body, /Bob&#39;s key/, 'only this user\'s');

  const api = await api$('GET', `/api/users/${ann.id}`);
  t.same(JSON.parse(api.body).passkeys.map((p: { name: string }) => p.name), ['Work <laptop>', 'Blue key'], 'the API lists them');

  const removed = await admin.post(`/admin/users/${ann.id}/passkeys/${laptop.id}/remove`, {});
  t.equal(removed.statusCode, 303);
  t.equal(removed.headers.location, `/admin/users/${ann.id}?done=passkey-removed`);
  t.same((await pp.webauthn.list(ann.id)).map((c) => c.name), ['Blue key']);
  const audit = await pp.audit.list({ userId: ann.id, type: 'mfa.webauthn_removed' });
  t.equal(audit.length, 1, 'audited');
  t.equal(audit[0].actor, admin.email, 'with the admin');

  t.equal((await admin.post(`/admin/users/${ann.id}/passkeys/${bobs.id}/remove`, {})).statusCode, 404, 'another user\'s passkey through this user: 404');
  t.equal((await other.post(`/admin/users/${bob.id}/passkeys/${bobs.id}/remove`, {})).statusCode, 404, 'another organisation: 404');
  t.equal((await pp.webauthn.list(bob.id)).length, 1, 'bob\'s key stays');

  const del = await api$('DELETE', `/api/users/${ann.id}/passkeys/${blue.id}`);
  t.equal(del.statusCode, 204);
  t.equal((await pp.webauthn.list(ann.id)).length, 0);
  t.equal((await api$('DELETE', `/api/users/${ann.id}/passkeys/${blue.id}`)).statusCode, 404, 'gone');
});
