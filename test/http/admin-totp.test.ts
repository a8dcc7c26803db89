// Two-factor sign-in for console admins: enrolment on "My sign-in" with a code computed here from the shown key,
// the second sign-in step (no session before the code; wrong and reused codes refused and counted toward the
// lockout), removal with a current code, and the organisation setting that forces enrolment.
import t from 'tap';
import { generateSync } from 'otplib';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp } from '../helpers/app.ts';
import { ADMIN_PASSWORD, csrfIn, signedInAdmin } from '../helpers/admin.ts';

const keyIn = (html: string) => /id="manual-key"[^>]*>([A-Z2-7]+)<\/code>/.exec(html)?.[1] ?? '';

t.test('admin TOTP', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const adminRow = () => ta.ctx.store.forOrg(pp.orgId).admins.findByEmail(pp.email);
  const audit = (type: string) => ta.ctx.store.forOrg(pp.orgId).audit.list({ type });
  const codeFor = (secret: string) => generateSync({ secret, epoch: Math.floor(ta.clock.now().getTime() / 1000) });
  let secret = '';

  /** A fresh browser: the sign-in form, then email and password. */
  async function passwordStep(slug = 'piedpipers', email = pp.email) {
    const jar: Record<string, string> = {};
    const keep = (res: LightMyRequestResponse) => {
      for (const c of res.cookies as { name: string; value: string; maxAge?: number }[]) {
        if (c.maxAge === 0 || c.value === '') delete jar[c.name];
        else jar[c.name] = c.value;
      }
      return res;
    };
    const cookie = () =>
      Object.entries(jar)
        .map(([k, v]) => `${k}=${v}`)
        .join('; ');
    const form = keep(await ta.request(slug, { method: 'GET', url: '/admin/login' }));
    const csrf = csrfIn(form.body);
    const res = keep(
      await ta.request(slug, {
        method: 'POST',
        url: '/admin/login',
        headers: { cookie: cookie() },
        payload: { _csrf: csrf, email, password: ADMIN_PASSWORD },
      }),
    );
    return {
      res,
      jar,
      cookie,
      csrf,
      code: async (code: string, extra: Record<string, string> = {}) =>
        keep(
          await ta.request(slug, {
            method: 'POST',
            url: '/admin/login/totp',
            headers: { cookie: cookie() },
            payload: { _csrf: csrf, code, ...extra },
          }),
        ),
      get: (url: string) => ta.request(slug, { method: 'GET', url, headers: { cookie: cookie() } }),
    };
  }

  t.test('enrolment: QR code and key, a wrong code keeps the same setup, the right one turns it on', async (t) => {
    const page = await pp.get('/admin/security');
    t.equal(page.statusCode, 200);
    t.match(
      page.body,
      /<img src="data:image\/png;base64,[^"]+" width="220" height="220" alt="QR code for your authenticator app">/,
    );
    t.match(page.body, /href="\/admin\/password"/);
    secret = keyIn(page.body);
    t.ok(secret, 'the key is shown for manual entry');
    const setup = /name="setup" value="([^"]+)"/.exec(page.body)![1];

    t.equal(
      (await pp.post('/admin/security/totp', { setup, code: codeFor(secret), _csrf: '' })).statusCode,
      403,
      'CSRF checked',
    );
    const wrong = await pp.post('/admin/security/totp', {
      setup,
      code: '000000' === codeFor(secret) ? '111111' : '000000',
    });
    t.equal(wrong.statusCode, 400);
    t.match(wrong.body, /id="code" name="code"[^>]*aria-describedby="code-error" aria-invalid="true"/);
    t.match(wrong.body, /id="code-error" role="alert">The code is not right/);
    t.equal(keyIn(wrong.body), secret, 'the scanned key stays valid');
    t.equal((await adminRow())!.totpSecretEnc, null, 'nothing stored yet');

    const forged = await pp.post('/admin/security/totp', { setup: setup.slice(0, -4) + 'AAAA', code: codeFor(secret) });
    t.equal(forged.statusCode, 400, 'a tampered setup is refused');
    t.match(forged.body, /setup that expired/);

    const ok = await pp.post('/admin/security/totp', { setup, code: codeFor(secret) });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/admin/security?done=totp-enrolled');
    const row = (await adminRow())!;
    t.ok(row.totpSecretEnc);
    t.notOk(row.totpSecretEnc!.includes(secret), 'stored sealed, never in clear');
    t.match(await audit('admin.totp_enrolled'), [{ actor: pp.email }]);
    const after = await pp.get('/admin/security?done=totp-enrolled');
    t.match(after.body, /badge ok">on/);
    t.equal(keyIn(after.body), '', 'the key is not shown again');
  });

  t.test('sign-in: the password alone opens nothing; wrong and reused codes are refused and counted', async (t) => {
    const login = await passwordStep();
    t.equal(login.res.statusCode, 303);
    t.equal(login.res.headers.location, '/admin/login/totp');
    t.notOk('broker_admin' in login.jar, 'no session cookie before the code');
    t.ok(login.jar.broker_admin_2fa);
    const home = await login.get('/admin');
    t.equal(home.statusCode, 303);
    t.equal(home.headers.location, '/admin/login', 'the pending state is no console session');
    const form = await login.get('/admin/login/totp');
    t.equal(form.statusCode, 200);
    t.match(form.body, /id="code" name="code"/);

    t.equal((await login.code(codeFor(secret), { _csrf: '' })).statusCode, 403, 'CSRF checked');
    const wrong = await login.code('123456' === codeFor(secret) ? '654321' : '123456');
    t.equal(wrong.statusCode, 401);
    t.match(wrong.body, /id="code-error" role="alert">That code is not right/);
    t.equal((await adminRow())!.failedLogins, 1);
    const reused = await login.code(codeFor(secret));
    t.equal(reused.statusCode, 401, 'the code that confirmed the enrolment cannot open a session');
    t.match(reused.body, /already used/);
    t.equal((await adminRow())!.failedLogins, 2);
    t.same(
      (await audit('admin.login'))
        .filter((e) => e.outcome === 'failure')
        .map((e) => e.code)
        .sort(),
      ['admin_code_reused', 'admin_invalid_code'],
    );

    ta.clock.advance(30_000);
    const ok = await login.code(codeFor(secret));
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/admin');
    t.ok(login.jar.broker_admin);
    t.notOk(login.jar.broker_admin_2fa, 'the ticket is cleared');
    t.equal((await login.get('/admin')).statusCode, 200);
    t.equal((await adminRow())!.failedLogins, 0, 'a complete sign-in resets the count');

    const again = await passwordStep();
    const replay = await again.code(codeFor(secret));
    t.equal(replay.statusCode, 401, 'a code is accepted once, also in another sign-in');
    t.match(replay.body, /already used/);
  });

  t.test('the ticket is bound to its organisation and expires', async (t) => {
    await signedInAdmin(ta, 'hooli');
    const login = await passwordStep();
    const foreign = await ta.request('hooli', {
      method: 'GET',
      url: '/admin/login/totp',
      headers: { cookie: login.cookie() },
    });
    t.equal(foreign.headers.location, '/admin/login', "piedpipers' ticket means nothing on hooli");
    const forged = await ta.request('piedpipers', {
      method: 'GET',
      url: '/admin/login/totp',
      headers: { cookie: 'broker_admin_2fa=v1:AAAA' },
    });
    t.equal(forged.headers.location, '/admin/login');
    ta.clock.advance(6 * 60_000);
    const late = await login.code(codeFor(secret));
    t.equal(late.statusCode, 401);
    t.match(late.body, /took too long/);
    t.notOk('broker_admin' in login.jar);
  });

  t.test('lockout: five wrong answers lock both steps', async (t) => {
    ta.clock.advance(30_000);
    await ta.ctx.store.forOrg(pp.orgId).admins.update((await adminRow())!.id, { failedLogins: 0 });
    const login = await passwordStep();
    for (let i = 0; i < 5; i++) {
      const res = await login.code(String(100000 + i) === codeFor(secret) ? '999999' : String(100000 + i));
      t.equal(res.statusCode, 401);
    }
    const right = await login.code(codeFor(secret));
    t.equal(right.statusCode, 423, 'even the right code is refused while locked');
    t.equal((await passwordStep()).res.statusCode, 423, 'and so is the password');
    t.equal((await audit('admin.locked')).length, 1);
    ta.clock.advance(16 * 60_000);
    const later = await passwordStep();
    t.equal((await later.code(codeFor(secret))).statusCode, 303, 'the lock expires');
  });

  t.test('removal needs a current code', async (t) => {
    ta.clock.advance(30_000);
    const wrong = await pp.post('/admin/security/totp/remove', {
      code: '000000' === codeFor(secret) ? '111111' : '000000',
    });
    t.equal(wrong.statusCode, 401);
    t.match(wrong.body, /id="code-error" role="alert">That code is not right/);
    t.ok((await adminRow())!.totpSecretEnc, 'still on');
    t.match(await audit('admin.totp_removed'), [{ outcome: 'failure', code: 'admin_invalid_code' }]);
    const ok = await pp.post('/admin/security/totp/remove', { code: codeFor(secret) });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/admin/security?done=totp-removed');
    t.equal((await adminRow())!.totpSecretEnc, null);
    const login = await passwordStep();
    t.equal(login.res.headers.location, '/admin', 'the password alone signs in again');
  });

  t.test('requireAdminTotp sends admins without TOTP to enrol before anything else', async (t) => {
    const hooli = await ta.ctx.store.organizations.findBySlug('hooli');
    const hooliAdmin = await passwordStep('hooli', 'admin@hooli.example');
    t.equal(hooliAdmin.res.headers.location, '/admin');
    const settings = await ta.request('hooli', {
      method: 'GET',
      url: '/admin/organization',
      headers: { cookie: hooliAdmin.cookie() },
    });
    const form = Object.fromEntries(
      [
        ...settings.body.matchAll(
          /name="(name|primaryColor|accentColor|sessionTtlSeconds|totpPeriod)"[^>]*value="([^"]*)"/g,
        ),
      ].map((m) => [m[1], m[2]]),
    );
    const saved = await ta.request('hooli', {
      method: 'POST',
      url: '/admin/organization',
      headers: { cookie: hooliAdmin.cookie(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        ...form,
        _csrf: csrfIn(settings.body),
        totpDigits: '6',
        totpAlgorithm: 'SHA1',
        requireAdminTotp: 'on',
      }).toString(),
    });
    t.equal(saved.statusCode, 303);
    t.equal((await ta.ctx.store.organizations.findById(hooli!.id))!.requireAdminTotp, true);

    for (const url of ['/admin', '/admin/tokens', '/admin/organization']) {
      const res = await hooliAdmin.get(url);
      t.equal(res.statusCode, 303, url);
      t.equal(res.headers.location, '/admin/security');
    }
    const fresh = await passwordStep('hooli', 'admin@hooli.example');
    t.equal(fresh.res.headers.location, '/admin/security', 'sign-in goes straight to enrolment');
    const page = await fresh.get('/admin/security');
    t.equal(page.statusCode, 200);
    t.match(page.body, /requires two-factor sign-in for admins/);
    const hooliSecret = keyIn(page.body);
    const enrol = await ta.request('hooli', {
      method: 'POST',
      url: '/admin/security/totp',
      headers: { cookie: fresh.cookie(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        _csrf: csrfIn(page.body),
        setup: /name="setup" value="([^"]+)"/.exec(page.body)![1],
        code: codeFor(hooliSecret),
      }).toString(),
    });
    t.equal(enrol.statusCode, 303);
    t.equal((await fresh.get('/admin')).statusCode, 200, 'the console opens once enrolled');
    t.equal(
      (await ta.ctx.store.organizations.findById(pp.orgId))!.requireAdminTotp,
      false,
      'piedpipers is not affected',
    );
    t.equal((await pp.get('/admin')).statusCode, 200);
  });
});
