// Defect 5 of issue 19, in Chromium: an admin fills in the Add user form, their console session ends meanwhile, and
// they press the button. The sign-in page says the session expired; after signing in they are back on the Add user
// page (not the Overview) with what they had typed filled in again and a banner that says so, focused; nothing was
// created and nothing is sent until they press the button again, which then creates the user.
import t from 'tap';
import { launchChromium } from '../helpers/chromium.ts';
import { createTestApp } from '../helpers/app.ts';
import { freePort } from '../helpers/own-services.ts';
import { ADMIN_PASSWORD } from '../helpers/admin.ts';
import { hashPassword } from '../../src/orgs/passwords.ts';
import { ADMIN_SESSION_SECONDS } from '../../src/admin/admin-auth.ts';

t.test('a form sent after the session ended: sign in, back on the page, input restored, not sent', async (t) => {
  const port = await freePort();
  const ta = await createTestApp({ env: { BASE_DOMAIN: `localhost:${port}` } });
  await ta.app.listen({ host: '127.0.0.1', port });
  t.teardown(ta.cleanup);
  const { org } = await ta.ctx.organizations.create(
    { slug: 'expiry', name: 'Expiry Ltd', adminEmail: 'first@expiry.example', adminPassword: ADMIN_PASSWORD },
    'test',
  );
  const store = ta.ctx.store.forOrg(org.id);
  await store.admins.create({
    email: 'ada@expiry.example',
    passwordHash: await hashPassword(ADMIN_PASSWORD),
    role: 'admin',
  });
  const base = `http://expiry.localhost:${port}`;

  const browser = await launchChromium(t);
  const page = await (await browser.newContext()).newPage();

  async function signIn() {
    await page.fill('#email', 'ada@expiry.example');
    await page.fill('#password', ADMIN_PASSWORD);
    await page.click('button[type="submit"]');
  }
  await page.goto(`${base}/admin/login`);
  await signIn();
  await page.waitForURL(`${base}/admin`);

  await page.goto(`${base}/admin/users/new`);
  await page.fill('#email', 'ann@customer.example');
  await page.fill('#firstName', 'Ann');
  await page.fill('#groups', 'portal-customers\njira-admins');

  // The session ends while the form is open; then the admin presses the button.
  ta.clock.advance((ADMIN_SESSION_SECONDS + 60) * 1000);
  await page.click('button:has-text("Add user")');
  await page.waitForURL(`${base}/admin/login?expired`);
  t.match(await page.textContent('main'), /Your session expired; sign in to continue/, 'the sign-in page says why');
  t.equal(await store.users.count(), 0, 'nothing was created');

  await signIn();
  await page.waitForURL(`${base}/admin/users/new`);
  t.pass('back on the page of the form, not the Overview');
  t.equal(await page.inputValue('#email'), 'ann@customer.example', 'the email is filled in again');
  t.equal(await page.inputValue('#firstName'), 'Ann');
  t.equal(await page.inputValue('#groups'), 'portal-customers\njira-admins', 'line breaks kept');
  const banner = page.locator('#kept-form');
  t.ok(await banner.isVisible(), 'a banner says so');
  t.match(
    await banner.textContent(),
    /filled in again below\. Check it and submit the form again: nothing was saved yet/,
  );
  t.equal(await page.evaluate(() => document.activeElement?.id), 'kept-form', 'focus is on the banner');
  await page.waitForTimeout(300);
  t.equal(new URL(page.url()).pathname, '/admin/users/new', 'nothing was submitted by itself');
  t.equal(await store.users.count(), 0, 'and nothing was created');

  await page.reload();
  t.equal(await page.locator('#kept-form').count(), 0, 'restored once: a reload shows the empty form');
  t.equal(await page.inputValue('#email'), '');

  // The admin sends it again themselves: now it is created.
  await page.goBack().catch(() => {});
  await page.goto(`${base}/admin/users/new`);
  await page.fill('#email', 'ann@customer.example');
  await page.click('button:has-text("Add user")');
  await page.waitForURL(/\/admin\/users\/[^/]+(\?.*)?$/);
  t.equal(await store.users.count(), 1, 'sent by the admin, the form creates the user');
});
