// Chromium for the browser tests (test/browser): playwright-core driving Debian's /usr/bin/chromium, launched the
// same way everywhere and closed when the test ends, and the steps several tests share: signing in to the admin
// console, handing a broker cookie from the HTTP browser (helpers/browser.ts) to Chromium, and keeping the pages'
// console errors. (helpers/browser.ts is the browser over app.inject; this one is a real browser.)
import { chromium, type Browser as Chromium, type BrowserContext, type Page } from 'playwright-core';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'];
/** Extra flags for tests that watch every request or console message: no background traffic of Chromium's own. */
export const QUIET = ['--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches headless Chromium, closed at the end of `t`; `extraArgs` are added to the usual flags. */
export async function launchChromium(
  t: { teardown(fn: () => unknown): unknown },
  opts: { extraArgs?: string[] } = {},
): Promise<Chromium> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...FLAGS, ...(opts.extraArgs ?? [])],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** Signs in to the admin console at `base` (an organisation's origin) and lands on /admin; when the console first
 *  asks for a new password, it sets `<password> renewed`. */
export async function signInToConsole(page: Page, base: string, admin: { email: string; password: string }) {
  await page.goto(`${base}/admin/login`);
  await page.fill('#email', admin.email);
  await page.fill('#password', admin.password);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/admin(\/password)?$/);
  if (page.url().endsWith('/admin/password')) {
    await page.fill('#newPassword', `${admin.password} renewed`).catch(() => {});
    await page.fill('#confirmPassword', `${admin.password} renewed`).catch(() => {});
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/admin`);
  }
}

/** Gives Chromium a broker cookie (HttpOnly, SameSite=Lax, path /) that the HTTP browser holds for `base`'s host:
 *  the part of a login that ran over HTTP goes on in Chromium. */
export async function handCookie(context: BrowserContext, base: string, name: string, value: string) {
  await context.addCookies([
    { name, value, domain: new URL(base).hostname, path: '/', httpOnly: true, sameSite: 'Lax' },
  ]);
}

/** The console errors of `page` from now on, as `<url>: <text>`; the browser's own request for /favicon.ico (the
 *  broker serves none) is not a page's error. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico'))
      errors.push(`${m.location().url}: ${m.text()}`);
  });
  return errors;
}
