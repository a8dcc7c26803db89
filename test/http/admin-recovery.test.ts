// The operator's break-glass reset of an admin who lost their password or authenticator.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { csrfIn, signedInAdmin } from '../helpers/admin.ts';
import { resetAdminAccess } from '../../src/admin/admin-recovery.ts';

t.test('admin access reset', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const store = ta.ctx.store.forOrg(pp.orgId);
  const before = (await store.admins.findByEmail(pp.email))!;
  await store.admins.update(before.id, {
    totpSecretEnc: 'sealed-secret',
    lockedUntil: new Date(ta.clock.now().getTime() + 600_000),
    failedLogins: 3,
  });

  const reset = await resetAdminAccess(store, ta.clock, pp.email.toUpperCase(), 'cli');
  const after = (await store.admins.findByEmail(pp.email))!;
  t.equal(after.totpSecretEnc, null, 'the lost authenticator no longer applies');
  t.equal(after.lockedUntil, null);
  t.equal(after.mustChangePassword, true);
  t.equal(
    (await pp.get('/admin')).headers.location,
    '/admin/login?expired',
    'open console sessions of that admin ended',
  );
  t.equal((await hooli.get('/admin')).statusCode, 200, "another organisation's admin is untouched");

  const form = await ta.request('piedpipers', { method: 'GET', url: '/admin/login' });
  const cookie = form.cookies.map((c: { name: string; value: string }) => `${c.name}=${c.value}`).join('; ');
  const login = await ta.request('piedpipers', {
    method: 'POST',
    url: '/admin/login',
    headers: { cookie },
    payload: { _csrf: csrfIn(form.body), email: pp.email, password: reset.password },
  });
  t.equal(login.statusCode, 303);
  t.equal(
    login.headers.location,
    '/admin/password',
    'signed in with the one-time password, which must be replaced first',
  );

  const audit = await store.audit.list({ type: 'admin.access_reset' });
  t.equal(audit[0].actor, 'cli');
  t.same(audit[0].details, { admin: pp.email, totpRemoved: true });
  await t.rejects(
    resetAdminAccess(store, ta.clock, 'admin@hooli.example', 'cli'),
    { code: 'validation_failed' },
    'only admins of this organisation',
  );
});
