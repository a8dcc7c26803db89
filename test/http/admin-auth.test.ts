// Admin sign-in through HTTP: one-time password change, CSRF, lockout, sign-out, and no access across organisations.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';

function cookiesOf(res: { cookies: { name: string; value: string }[] }, jar: Record<string, string> = {}) {
  for (const c of res.cookies) jar[c.name] = c.value;
  return jar;
}
const cookieHeader = (jar: Record<string, string>) =>
  Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

t.test('admin console sign-in', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await ta.ctx.organizations.create(
    { slug: 'piedpipers', name: 'Pied Pipers', adminEmail: 'admin@pp.example' },
    'test',
  );
  await createOrg(ta.ctx, 'hooli', 'Hooli');

  async function signIn(slug: string, email: string, password: string) {
    const form = await ta.request(slug, { method: 'GET', url: '/admin/login' });
    const jar = cookiesOf(form);
    const res = await ta.request(slug, {
      method: 'POST',
      url: '/admin/login',
      headers: { cookie: cookieHeader(jar) },
      payload: { _csrf: csrfIn(form.body), email, password },
    });
    return { res, jar: cookiesOf(res, jar) };
  }

  t.test('unauthenticated pages redirect to sign-in', async (t) => {
    const res = await ta.request('piedpipers', { method: 'GET', url: '/admin' });
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/login');
  });

  t.test('the sign-in form needs its CSRF token', async (t) => {
    const res = await ta.request('piedpipers', {
      method: 'POST',
      url: '/admin/login',
      payload: { email: 'admin@pp.example', password: pp.generatedPassword },
    });
    t.equal(res.statusCode, 403);
    t.match(res.body, /csrf_failed/);
  });

  t.test('one-time password leads to a forced password change, then the console', async (t) => {
    const { res, jar } = await signIn('piedpipers', 'ADMIN@pp.example', pp.generatedPassword!);
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/password');
    const session = res.cookies.find((c) => c.name === 'broker_admin')!;
    t.equal(session.httpOnly, true);
    t.equal(session.sameSite, 'Strict');
    t.equal(session.path, '/admin');
    const home = await ta.request('piedpipers', {
      method: 'GET',
      url: '/admin',
      headers: { cookie: cookieHeader(jar) },
    });
    t.equal(home.headers.location, '/admin/password', 'the console waits for the new password');
    const form = await ta.request('piedpipers', {
      method: 'GET',
      url: '/admin/password',
      headers: { cookie: cookieHeader(jar) },
    });
    const csrf = csrfIn(form.body);
    const mismatch = await ta.request('piedpipers', {
      method: 'POST',
      url: '/admin/password',
      headers: { cookie: cookieHeader(jar) },
      payload: { _csrf: csrf, current: pp.generatedPassword, password: 'a brand new password', confirm: 'different' },
    });
    t.equal(mismatch.statusCode, 400);
    t.match(mismatch.body, /does not match/);
    const noCsrf = await ta.request('piedpipers', {
      method: 'POST',
      url: '/admin/password',
      headers: { cookie: cookieHeader(jar) },
      payload: { current: pp.generatedPassword, password: 'a brand new password', confirm: 'a brand new password' },
    });
    t.equal(noCsrf.statusCode, 403);
    const ok = await ta.request('piedpipers', {
      method: 'POST',
      url: '/admin/password',
      headers: { cookie: cookieHeader(jar) },
      payload: {
        _csrf: csrf,
        current: pp.generatedPassword,
        password: 'a brand new password',
        confirm: 'a brand new password',
      },
    });
    t.equal(ok.statusCode, 303);
    const console_ = await ta.request('piedpipers', {
      method: 'GET',
      url: '/admin',
      headers: { cookie: cookieHeader(jar) },
    });
    t.equal(console_.statusCode, 200);
    t.match(console_.body, /http:\/\/piedpipers\.broker\.test\/saml\/idp\/metadata/);
    t.match(console_.body, /cannot be changed/);

    t.test("the session does not open another organisation's console", async (t) => {
      const other = await ta.request('hooli', { method: 'GET', url: '/admin', headers: { cookie: cookieHeader(jar) } });
      t.equal(other.statusCode, 303);
      t.equal(
        other.headers.location,
        '/admin/login?expired',
        'a session cookie that opens nothing here reads as ended',
      );
      const wrongOrg = await signIn('hooli', 'admin@pp.example', 'a brand new password');
      t.equal(wrongOrg.res.statusCode, 401, 'an admin of one organisation cannot sign in to another');
    });

    t.test('sign-out ends the session', async (t) => {
      const out = await ta.request('piedpipers', {
        method: 'POST',
        url: '/admin/logout',
        headers: { cookie: cookieHeader(jar) },
        payload: { _csrf: csrf },
      });
      t.equal(out.statusCode, 303);
      const after = await ta.request('piedpipers', {
        method: 'GET',
        url: '/admin',
        headers: { cookie: cookieHeader(jar) },
      });
      t.equal(after.statusCode, 303);
    });
  });

  t.test('wrong passwords: same answer for unknown emails, lockout after five, audit', async (t) => {
    const unknown = await signIn('piedpipers', 'nobody@pp.example', 'whatever password');
    t.equal(unknown.res.statusCode, 401);
    for (let i = 0; i < 5; i++) {
      const r = await signIn('piedpipers', 'admin@pp.example', `wrong password ${i}`);
      t.equal(r.res.statusCode, 401);
      t.match(r.res.body, /The email or password is not right/);
    }
    const locked = await signIn('piedpipers', 'admin@pp.example', 'a brand new password');
    t.equal(locked.res.statusCode, 423, 'even the right password is refused while locked');
    ta.clock.advance(16 * 60 * 1000);
    const again = await signIn('piedpipers', 'admin@pp.example', 'a brand new password');
    t.equal(again.res.statusCode, 303, 'the lock expires');
    const audit = await ta.ctx.store.forOrg(pp.org.id).audit.list({ type: 'admin.locked' });
    t.equal(audit.length, 1);
  });
});
