// The users list in Chromium at 1280 and 390 px: no sideways scrolling, no serious or critical axe-core violation,
// and the keyboard alone filters the list, selects all on the page and reaches the bulk confirmation.
import t from 'tap';
import { axeViolations } from '../helpers/page-checks.ts';
import { launchChromium, signInToConsole } from '../helpers/chromium.ts';
import { buildApp } from '../../src/app.ts';
import { ManualClock } from '../../src/clock.ts';
import { createTestContext } from '../helpers/context.ts';
import { freePort } from '../helpers/own-services.ts';

class RealClock extends ManualClock {
  override now() {
    return new Date();
  }
}
const ADMIN = { email: 'admin@userslist.example', password: 'a long admin password for the users list' };

t.test('users list: layout, accessibility, keyboard', async (t) => {
  const port = await freePort();
  const tc = await createTestContext({ clock: new RealClock(), env: { BASE_DOMAIN: `localhost:${port}` } });
  const broker = await buildApp(tc.ctx, { logger: false });
  await broker.listen({ host: '127.0.0.1', port });
  t.teardown(async () => {
    await broker.close();
    await tc.cleanup();
  });
  const created = await tc.ctx.organizations.create(
    { slug: 'userslist', name: 'Users List Ltd', adminEmail: ADMIN.email, adminPassword: ADMIN.password },
    'test',
  );
  const store = tc.ctx.store.forOrg(created.org.id);
  for (let i = 0; i < 6; i++)
    await store.users.create({
      email: `a.rather.long.address.number.${i}@customer-one.example`,
      firstName: 'Ann',
      lastName: `Example-${i}`,
      groups: [i % 2 ? 'eng' : 'ops'],
    });

  const browser = await launchChromium(t);
  const page = await (await browser.newContext({ bypassCSP: true })).newPage();
  const base = `http://userslist.localhost:${port}`;
  await signInToConsole(page, base, ADMIN);

  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${base}/admin/users?sort=name&order=desc`);
    const o = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, width: window.innerWidth }));
    t.ok(o.doc <= o.width + 1, `${width} px: no sideways scrolling (page ${o.doc}, window ${o.width})`);
    const found = await axeViolations(page);
    t.same(found, [], `${width} px: no serious or critical axe-core violation`);
  }

  // Keyboard: choose a group filter and submit, then select all and continue to the confirmation.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/admin/users`);
  await page.focus('#filter-group');
  await page.keyboard.type('eng');
  await page.keyboard.press('Enter');
  await page.waitForURL(/group=eng/);
  t.equal(await page.locator('#bulk input[name="id"]').count(), 3, "the filter shows the group's users");
  await page.focus('#select-all');
  await page.keyboard.press('Space');
  t.equal(await page.locator('#bulk input[name="id"]:checked').count(), 3, 'select all on this page, by keyboard');
  await page.focus('#bulk-action');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/admin\/users\/bulk\?/);
  t.match(await page.textContent('h1'), /Disable 3 users\?/, 'the confirmation names how many');
});
