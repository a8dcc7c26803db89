// The end user's account page in Chromium at 1280 and 390 px: no sideways scrolling, no serious or critical
// axe-core violation, recovery codes that never break across lines, and a keyboard-only walk through setting up the
// authenticator app, the fresh check and new recovery codes. The sign-in through the IdP runs over HTTP (the fake
// IdP is not a web server); Chromium gets its broker-session cookie.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { axeViolations } from '../helpers/page-checks.ts';
import type { Page } from 'playwright-core';
import { consoleErrors, handCookie, launchChromium } from '../helpers/chromium.ts';
import { Browser } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { freePort } from '../helpers/own-services.ts';
import { createWorld, idpAnswers } from '../helpers/sso-world.ts';
import { devicesFor } from '../../src/mfa/for-tenant.ts';

async function overflow(page: Page) {
  return page.evaluate(() => ({ width: window.innerWidth, doc: document.documentElement.scrollWidth }));
}

/** Tabs until the focused element's text (or value) matches, at most 30 times; false when it never does. */
async function tabTo(page: Page, text: RegExp) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(
      () =>
        (document.activeElement as HTMLElement | null)?.innerText ||
        (document.activeElement as HTMLInputElement | null)?.id ||
        '',
    );
    if (text.test(focused)) return true;
  }
  return false;
}

t.test('account pages: layout, axe-core, keyboard walk', async (t) => {
  const port = await freePort();
  const w = await createWorld('piedpipers', undefined, { env: { BASE_DOMAIN: `localhost:${port}` } });
  await w.ta.app.listen({ host: '127.0.0.1', port });
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer-one.example'] });
  await w.addApp('Jira Service Management portal');
  const email = 'a.very.long.email.address.for.layout.checks@customer-one.example';
  const user = await w.org.store.users.create({ email });
  await devicesFor(w.ta.ctx, w.org.store).remember(user.id, 30, 'Firefox on Windows');

  // The sign-in to the account page, over HTTP.
  const http = new Browser(w.ta);
  const start = await http.get(`${w.base}/account`);
  const acs = await idpAnswers(w, http, fake, String(start.headers.location), {
    email,
    attributes: { email: [email], firstName: ['Ann'], lastName: ['Example'], groups: [] },
  });
  const cont = await http.get(`${w.base}${acs.res.headers.location}`);
  t.equal(cont.headers.location, '/account');
  const session = http.cookies(new URL(w.base).host).get('broker_session')!;

  const browser = await launchChromium(t);
  const context = await browser.newContext({ bypassCSP: true });
  await handCookie(context, w.base, 'broker_session', session);
  const page = await context.newPage();
  const errors = consoleErrors(page);
  const clock = w.ta.clock;
  let key = '';

  await t.test('keyboard only: set up the authenticator app, save the codes', async (t) => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${w.base}/account`);
    t.ok(await tabTo(page, /Set up an authenticator app/), 'the setup link is reachable by Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${w.base}/account/authenticator`);
    key = (await page.textContent('#manual-key'))!;
    t.equal(await page.evaluate(() => document.activeElement?.id), 'code', 'the code field has focus');
    await page.keyboard.type(oathtool(key, clock.now()));
    await page.keyboard.press('Enter');
    await page.waitForURL(`${w.base}/account/recovery-codes`);
    const lines = await page.$$eval('#recovery-codes li', (items) =>
      items.map((li) => ({
        text: li.textContent,
        height: li.getBoundingClientRect().height,
        lineHeight: parseFloat(getComputedStyle(li).lineHeight),
      })),
    );
    t.equal(lines.length, 10, 'ten codes');
    t.same(
      lines.filter((l) => l.height > l.lineHeight * 1.5).map((l) => l.text),
      [],
      'no code breaks across lines at 390 px',
    );
    t.ok(await tabTo(page, /Copy codes/), 'copy is reachable');
    t.ok(await tabTo(page, /Download \.txt/), 'download is reachable');
    t.ok(await tabTo(page, /Print/), 'print is reachable');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = readFileSync((await download.path())!, 'utf8');
    t.equal(download.suggestedFilename(), 'recovery-codes.txt');
    t.same(
      lines.map((l) => l.text).filter((c) => !saved.includes(c!)),
      [],
      'the .txt holds every code',
    );
  });

  await t.test('keyboard only: the fresh check, then new recovery codes', async (t) => {
    await page.goto(`${w.base}/account`);
    clock.advance(30_000);
    t.ok(await tabTo(page, /^code$/), 'the check field is reachable');
    await page.keyboard.type(oathtool(key, clock.now()));
    await page.keyboard.press('Enter');
    await page.waitForURL(`${w.base}/account?done=checked`);
    t.match(await page.textContent('#done'), /Confirmed/);
    t.ok(await tabTo(page, /Make new recovery codes/), 'the button is reachable');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${w.base}/account/recovery-codes`);
    t.equal((await page.$$('#recovery-codes li')).length, 10, 'ten new codes');
  });

  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    for (const path of ['/account', '/account/authenticator', '/account/recovery-codes']) {
      const res = await page.goto(`${w.base}${path}`);
      t.ok(res && [200, 400].includes(res.status()), `${path} at ${width} px: a page (${res?.status()})`);
      const o = await overflow(page);
      t.ok(
        o.doc <= o.width + 1,
        `${path} at ${width} px: no sideways scrolling (page ${o.doc} px, window ${o.width} px)`,
      );
      t.same(await axeViolations(page), [], `${path} at ${width} px: no serious or critical axe-core violation`);
    }
  }
  t.same(errors, [], 'no console error');
});
