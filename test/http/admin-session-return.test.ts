// A console session that ends while the admin works: the next page says so on the sign-in page, and signing in goes
// back to where they were (the page, or the page a posted form was on), never to another host or a sign-in page.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { adminWithRole, signedInAdmin, signInClient, type AdminClient } from '../helpers/admin.ts';
import { consolePath } from '../../src/admin/return-after-sign-in.ts';
import { ADMIN_SESSION_SECONDS } from '../../src/admin/admin-auth.ts';

t.test('an ended session returns to the page after sign-in', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);

  const page = await admin.get('/admin/users?q=ann');
  t.equal(page.statusCode, 303);
  t.equal(page.headers.location, '/admin/login?expired', 'the browser still held a session: it ended');
  const login = await admin.get('/admin/login?expired');
  t.match(login.body, /Your session expired; sign in to continue\./);
  const signedIn = await admin.post('/admin/login', {
    _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1],
    email: admin.email,
    password: 'correct horse battery staple',
  });
  t.equal(signedIn.statusCode, 303);
  t.equal(signedIn.headers.location, '/admin/users?q=ann', 'back to the page, with its query');
});

t.test('a form posted after the end returns to the page of the form', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
  const post = await admin.request({
    method: 'POST',
    url: '/admin/organization',
    headers: {
      referer: 'http://piedpipers.broker.test/admin/organization',
      'content-type': 'application/x-www-form-urlencoded',
    },
    payload: 'name=x',
  });
  t.equal(post.headers.location, '/admin/login?expired');
  const login = await admin.get('/admin/login');
  const signedIn = await admin.post('/admin/login', {
    _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1],
    email: admin.email,
    password: 'correct horse battery staple',
  });
  t.equal(signedIn.headers.location, '/admin/organization');
  const again = await admin.post('/admin/login', {
    _csrf: /name="_csrf" value="([^"]+)"/.exec((await admin.get('/admin/login')).body)![1],
    email: admin.email,
    password: 'correct horse battery staple',
  });
  t.equal(again.headers.location, '/admin', 'used once: the next sign-in opens the overview');
});

t.test('only console paths of this host are remembered', async (t) => {
  for (const bad of [
    '//evil.example/admin',
    '/admin//evil',
    'https://evil.example/admin',
    '/admin\\evil',
    '/\\evil.example/admin',
    '/other',
    '/admin/login',
    '/admin/logout',
    '/administrator',
    '',
    // dot-segments, plain and encoded, and encoded slashes and backslashes: a browser (or a proxy) would resolve them elsewhere
    '/admin/../x',
    '/admin/..',
    '/admin/./users',
    '/admin/%2e%2e/x',
    '/admin/%2E%2E/x',
    '/admin/.%2e/x',
    '/admin%2f..%2fx',
    '/admin/%2F%2Fevil.example',
    '/admin/%5cevil',
    '/admin/%00',
    '/admin/users\t',
    '/admin/\u0000x',
    '/admin/ users',
  ])
    t.equal(consolePath(bad), null, JSON.stringify(bad));
  for (const good of [
    '/admin',
    '/admin/users?q=ann',
    '/admin/idps/abc#provisioning',
    '/admin/users?q=a%2Fb',
    '/admin/audit?type=scim.*',
  ])
    t.equal(consolePath(good), good);
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
  await admin.request({
    method: 'POST',
    url: '/admin/organization',
    headers: { referer: 'http://evil.example/admin/users', 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'name=x',
  });
  const login = await admin.get('/admin/login');
  const signedIn = await admin.post('/admin/login', {
    _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1],
    email: admin.email,
    password: 'correct horse battery staple',
  });
  t.equal(signedIn.headers.location, '/admin', 'a referer of another host is ignored');
});

t.test(
  'a form posted after the end keeps its input (no secrets), sealed, restored once on the page, never sent',
  async (t) => {
    const ta = await createTestApp();
    t.teardown(ta.cleanup);
    const admin = await signedInAdmin(ta, 'piedpipers');
    const other = await signedInAdmin(ta, 'hooli');
    ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
    const form = new URLSearchParams([
      ['_csrf', 'old-token'],
      ['email', 'ann@customer.example'],
      ['firstName', 'Ann'],
      ['groups', 'a\nb'],
      ['password', 'hunter2 hunter2'],
      ['clientSecret', 's3cret'],
      ['code', '123456'],
      ['token', 'tok'],
    ]);
    const post = await admin.request({
      method: 'POST',
      url: '/admin/users',
      headers: {
        referer: 'http://piedpipers.broker.test/admin/users/new',
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: form.toString(),
    });
    t.equal(post.headers.location, '/admin/login?expired');
    const cookie = (
      post.cookies as { name: string; value: string; maxAge?: number; httpOnly?: boolean; path?: string }[]
    ).find((c) => c.name === 'broker_admin_form');
    t.ok(cookie, 'the input waits in a cookie');
    t.equal(cookie!.maxAge, 600, 'for ten minutes');
    t.ok(cookie!.httpOnly, 'out of reach of scripts');
    t.equal(cookie!.path, '/admin');
    t.notMatch(cookie!.value, /Ann|customer\.example/, 'sealed: nothing readable');
    const adminId = (await ta.ctx.store.forOrg(admin.orgId).admins.findByEmail(admin.email))!.id;
    const opened = JSON.parse(ta.ctx.box.open(cookie!.value, `admin-form:${admin.orgId}:${adminId}`).toString());
    t.same(
      opened.fields,
      [
        ['email', 'ann@customer.example'],
        ['firstName', 'Ann'],
        ['groups', 'a\nb'],
      ],
      'passwords, secrets, codes, tokens and the CSRF token are not kept',
    );
    t.throws(
      () => ta.ctx.box.open(cookie!.value, `admin-form:${other.orgId}:${adminId}`),
      'it does not open for another organisation',
    );
    t.equal(await ta.ctx.store.forOrg(admin.orgId).users.count(), 0, 'nothing was created');
    // The purge runs on every node every few minutes; the ended session's row, through which the input finds its
    // admin, outlives it for as long as the input is kept.
    await ta.ctx.store.system.purgeExpired(ta.clock.now());

    const login = await admin.get('/admin/login?expired');
    const signedIn = await admin.post('/admin/login', {
      _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1],
      email: admin.email,
      password: 'correct horse battery staple',
    });
    t.equal(signedIn.headers.location, '/admin/users/new', 'back to the page of the form');
    const page = await admin.get('/admin/users/new');
    t.match(page.body, /id="kept-form"/, 'the page carries the input to fill in');
    t.equal(
      page.headers['referrer-policy'],
      'same-origin',
      'console pages tell the console (only) which page a form was on',
    );
    t.match(page.body, /Check it and submit the form again: nothing was saved yet/);
    t.match(page.body, /&quot;action&quot;:&quot;\/admin\/users&quot;/, 'for the form that posts to /admin/users');
    t.notMatch(page.body, /hunter2|s3cret/);
    t.equal(await ta.ctx.store.forOrg(admin.orgId).users.count(), 0, 'and it was not submitted');
    t.notMatch((await admin.get('/admin/users/new')).body, /id="kept-form"/, 'once only');

    // Another organisation's cookie, or one past its ten minutes, restores nothing.
    ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
    await admin.request({
      method: 'POST',
      url: '/admin/users',
      headers: {
        referer: 'http://piedpipers.broker.test/admin/users/new',
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: 'email=late%40customer.example',
    });
    const relog = await admin.get('/admin/login');
    await admin.post('/admin/login', {
      _csrf: /name="_csrf" value="([^"]+)"/.exec(relog.body)![1],
      email: admin.email,
      password: 'correct horse battery staple',
    });
    ta.clock.advance(11 * 60_000);
    t.notMatch((await admin.get('/admin/users/new')).body, /id="kept-form"/, 'expired input is dropped');
    const hooli = await signInClient(ta, 'hooli', other.orgId, other.email);
    const forged = await ta.request('hooli', {
      method: 'GET',
      url: '/admin/users/new',
      headers: { cookie: `${hooli.cookie()}; broker_admin_form=${cookie!.value}` },
    });
    t.equal(forged.statusCode, 200);
    t.notMatch(forged.body, /id="kept-form"/, "another organisation's sealed input is not opened");
  },
);

t.test(
  "kept input is the ended session's admin's: another admin signing in on that browser never sees it",
  async (t) => {
    const ta = await createTestApp();
    t.teardown(ta.cleanup);
    const first = await signedInAdmin(ta, 'piedpipers');
    await adminWithRole(ta, first, 'admin', 'bertram@piedpipers.example');
    const typed = 'email=secret.hire%40customer.example&firstName=Zelda';

    /** `browser`'s session ends while a form is posted; then `who` signs in on that same browser (its cookie jar). */
    async function expireKeepAndSignIn(browser: AdminClient, who: string) {
      ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
      const post = await browser.request({
        method: 'POST',
        url: '/admin/users',
        headers: {
          referer: 'http://piedpipers.broker.test/admin/users/new',
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: typed,
      });
      t.equal(post.headers.location, '/admin/login?expired');
      t.ok(
        (post.cookies as { name: string; value: string }[]).some((c) => c.name === 'broker_admin_form' && c.value),
        'the input is kept',
      );
      const login = await browser.get('/admin/login?expired');
      const signedIn = await browser.post('/admin/login', {
        _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1],
        email: who,
        password: 'correct horse battery staple',
      });
      t.equal(signedIn.statusCode, 303, `${who} signed in`);
      return browser.get('/admin/users/new');
    }

    // A's session ends with the form kept; B signs in on A's browser: B gets the page, not A's input, and it is gone.
    const browser = await signInClient(ta, 'piedpipers', first.orgId, first.email);
    const asB = await expireKeepAndSignIn(browser, 'bertram@piedpipers.example');
    t.equal(asB.statusCode, 200);
    t.notMatch(asB.body, /id="kept-form"/, "B is not offered A's input");
    t.notMatch(asB.body, /secret\.hire|Zelda/, "nothing of A's input is on B's page");
    t.notOk(browser.cookie().includes('broker_admin_form'), 'and it is dropped, not left for later');

    // The same again, and A signs in: A gets the input back.
    const again = await signInClient(ta, 'piedpipers', first.orgId, first.email);
    const asA = await expireKeepAndSignIn(again, first.email);
    t.match(asA.body, /id="kept-form"/, 'A is offered the input again');
    t.match(asA.body, /secret\.hire@customer\.example/);
    t.equal(await ta.ctx.store.forOrg(first.orgId).users.count(), 0, 'nothing was created');
  },
);
