// A console session that ends while the admin works: the next page says so on the sign-in page, and signing in goes
// back to where they were (the page, or the page a posted form was on), never to another host or a sign-in page.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
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
  t.match(login.body, /Your session has ended\. Sign in again to go back to the page you were on\./);
  const signedIn = await admin.post('/admin/login', { _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1], email: admin.email, password: 'correct horse battery staple' });
  t.equal(signedIn.statusCode, 303);
  t.equal(signedIn.headers.location, '/admin/users?q=ann', 'back to the page, with its query');
});

t.test('a form posted after the end returns to the page of the form', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
  const post = await admin.request({ method: 'POST', url: '/admin/organization', headers: { referer: 'http://piedpipers.broker.test/admin/organization', 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' });
  t.equal(post.headers.location, '/admin/login?expired');
  const login = await admin.get('/admin/login');
  const signedIn = await admin.post('/admin/login', { _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1], email: admin.email, password: 'correct horse battery staple' });
  t.equal(signedIn.headers.location, '/admin/organization');
  const again = await admin.post('/admin/login', { _csrf: /name="_csrf" value="([^"]+)"/.exec((await admin.get('/admin/login')).body)![1], email: admin.email, password: 'correct horse battery staple' });
  t.equal(again.headers.location, '/admin', 'used once: the next sign-in opens the overview');
});

t.test('only console paths of this host are remembered', async (t) => {
  for (const bad of ['//evil.example/admin', '/admin//evil', 'https://evil.example/admin', '/admin\\evil', '/other', '/admin/login', '/admin/logout', '/administrator', '']) t.equal(consolePath(bad), null, JSON.stringify(bad));
  for (const good of ['/admin', '/admin/users?q=ann', '/admin/idps/abc#provisioning']) t.equal(consolePath(good), good);
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
  await admin.request({ method: 'POST', url: '/admin/organization', headers: { referer: 'http://evil.example/admin/users', 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' });
  const login = await admin.get('/admin/login');
  const signedIn = await admin.post('/admin/login', { _csrf: /name="_csrf" value="([^"]+)"/.exec(login.body)![1], email: admin.email, password: 'correct horse battery staple' });
  t.equal(signedIn.headers.location, '/admin', 'a referer of another host is ignored');
});
