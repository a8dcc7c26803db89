// The operator view in Chromium (playwright-core, Debian's chromium) at the bare BASE_DOMAIN: sign in with the
// password and a TOTP code by keyboard, see the organisations, suspend one and see its "suspended" page; no
// horizontal overflow at 1280 and 390 px. Screenshots for docs/admin-guide.md go to docs/admin/.
import t from 'tap';
import { axeViolations } from '../helpers/page-checks.ts';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { buildApp } from '../../src/app.ts';
import { ManualClock } from '../../src/clock.ts';
import { createOperator } from '../../src/orgs/operators.ts';
import { createTestContext } from '../helpers/context.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { freePort } from '../helpers/own-services.ts';

const docs = join(new URL('../..', import.meta.url).pathname, 'docs', 'admin');

class RealClock extends ManualClock {
  override now() {
    return new Date();
  }
}

const overflow = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

t.test('operator view in a browser', async (t) => {
  const port = await freePort();
  const tc = await createTestContext({ clock: new RealClock(), env: { BASE_DOMAIN: `localhost:${port}` } });
  const broker = await buildApp(tc.ctx, { logger: false });
  await broker.listen({ host: '127.0.0.1', port });
  t.teardown(async () => {
    await broker.close();
    await tc.cleanup();
  });
  const acme = await tc.ctx.organizations.create(
    {
      slug: 'acme',
      name: 'Acme Support',
      adminEmail: 'owner@acme.example',
      adminPassword: 'a long admin password for acme',
    },
    'test',
  );
  await tc.ctx.organizations.create(
    {
      slug: 'globex',
      name: 'Globex Corporation',
      adminEmail: 'owner@globex.example',
      adminPassword: 'a long admin password for globex',
    },
    'test',
  );
  await tc.ctx.store.forOrg(acme.org.id).users.create({ email: 'erin@customer.example' });
  const op = await createOperator(tc.ctx, 'ops@broker.example', 'test');

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true })).newPage();
  const errors: string[] = [];
  // The browser's own favicon request is not the page's doing.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico'))
      errors.push(`${m.text()} ${m.location().url}`);
  });
  const root = `http://localhost:${port}`;

  await page.goto(`${root}/operator`);
  await page.waitForURL(`${root}/operator/login`);
  // keyboard only: the e-mail field has focus; type, tab, type, Enter
  await page.keyboard.type(op.operator.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(op.password);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${root}/operator/login/totp`);
  await page.keyboard.type(oathtool(op.totpSecret, new Date()));
  await page.keyboard.press('Enter');
  await page.waitForURL(`${root}/operator`);
  t.match(await page.textContent('h1'), /Organisations/);
  t.match(await page.textContent('table.data'), /Acme Support[\s\S]*Globex Corporation/);
  t.equal(await overflow(page), 0, 'no horizontal overflow at 1280 px');
  await page.screenshot({ path: join(docs, '13-operator-view.png'), fullPage: true });
  t.same(await axeViolations(page), [], 'operator list: no serious or critical axe-core violation');
  await page.getByRole('link', { name: 'Delete Acme Support' }).click();
  await page.waitForURL(/\/operator\/organizations\/[^/]+\/delete$/);
  t.same(await axeViolations(page), [], 'delete confirmation: no serious or critical axe-core violation');
  await page.goBack();
  await page.waitForURL(`${root}/operator`);

  await page.getByRole('button', { name: 'Suspend Globex Corporation' }).click();
  await page.waitForURL(`${root}/operator?done=suspended`);
  t.match(await page.textContent('[role=status]'), /suspended/);
  await page.setViewportSize({ width: 390, height: 844 });
  t.equal(await overflow(page), 0, 'no horizontal overflow at 390 px');

  const org = await (await browser.newContext({ viewport: { width: 1280, height: 700 }, bypassCSP: true })).newPage();
  const res = await org.goto(`http://globex.localhost:${port}/admin`);
  t.equal(res?.status(), 403);
  t.match(await org.textContent('body'), /Globex Corporation is suspended/);
  await org.screenshot({ path: join(docs, '14-organization-suspended.png'), fullPage: true });
  t.same(await axeViolations(org), [], 'suspended page: no serious or critical axe-core violation');
  t.same(errors, [], 'no console error');
});
