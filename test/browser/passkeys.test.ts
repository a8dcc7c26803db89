// Passkeys as the second factor, end to end in Chromium with its virtual authenticator (DevTools protocol
// WebAuthn.addVirtualAuthenticator through playwright-core): an app whose policy asks for a passkey only (`webauthn`)
// enrols one during login (its recovery codes shown once, none broken across lines at 390 px, downloadable), then
// signs in with it, then, the key lost, with a recovery code that leads to setting up a new passkey; each time ending
// with a Response that node-saml accepts. Every page (setup, codes, sign-in, new passkey after recovery, account page)
// is checked at 1280 and 390 px with axe-core (no serious or critical violation, no sideways scrolling) and used by
// keyboard only. The upstream IdP's part runs over HTTP
// (the fake IdP is no web server); Chromium takes over the login's browser-binding cookie at the continue step.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { axeViolations } from '../helpers/page-checks.ts';
import type { Page } from 'playwright-core';
import { consoleErrors, handCookie, launchChromium } from '../helpers/chromium.ts';
import { Browser } from '../helpers/browser.ts';
import { freePort } from '../helpers/own-services.ts';
import { createWorld, idpAnswers } from '../helpers/sso-world.ts';

async function checkPage(t: Pick<typeof import('tap').default, 'ok' | 'same'>, page: Page, what: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    const o = await page.evaluate(() => ({ width: window.innerWidth, doc: document.documentElement.scrollWidth }));
    t.ok(o.doc <= o.width + 1, `${what} at ${width} px: no sideways scrolling (page ${o.doc} px)`);
    const found = await axeViolations(page);
    t.same(found, [], `${what} at ${width} px: no serious or critical axe-core violation`);
  }
}

/** Tabs until the focused element's text (or id) matches, at most 30 times. */
async function tabTo(page: Page, text: RegExp) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(
      () =>
        (document.activeElement as HTMLElement | null)?.innerText ||
        (document.activeElement as HTMLElement | null)?.id ||
        '',
    );
    if (text.test(focused)) return true;
  }
  return false;
}

t.test('a passkey enrolled during login, then used to sign in; the app accepts both Responses', async (t) => {
  const port = await freePort();
  const w = await createWorld('piedpipers', undefined, { env: { BASE_DOMAIN: `localhost:${port}` } });
  await w.ta.app.listen({ host: '127.0.0.1', port });
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, {
    policy: [{ id: 'passkeys-only', conditions: {}, action: 'require_totp', secondFactor: 'webauthn' }],
  });
  const ann = await w.org.store.users.create({ email: 'ann@customer.example' });
  const host = new URL(w.base).host;

  const browser = await launchChromium(t);
  const context = await browser.newContext({ bypassCSP: false });
  const page = await context.newPage();
  const errors = consoleErrors(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // The app's ACS is not a real server: Chromium's POST to it is answered here, and what it carried kept.
  const received: string[] = [];
  await page.route(app.acsUrls[0], async (route) => {
    received.push(new URLSearchParams(route.request().postData() ?? '').get('SAMLResponse') ?? '');
    await route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><title>Jira</title><p>Signed in',
    });
  });

  const http = new Browser(w.ta);
  /** The login up to the continue step over HTTP, then Chromium (holding the same binding cookie) goes on. */
  async function loginInChromium() {
    w.ta.clock.set(new Date());
    const start = await http.get(await sp.getAuthorizeUrlAsync('relay-passkey', undefined, {}));
    const acs = await idpAnswers(w, http, fake, String(start.headers.location));
    await handCookie(context, w.base, 'broker_browser', http.cookies(host).get('broker_browser')!);
    await page.goto(`${w.base}${acs.res.headers.location}`);
    return String(acs.res.headers.location).replace('/continue', '');
  }

  let posted = '';
  let codes: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/mfa')) posted = r.postData() ?? '';
  });

  await t.test(
    'first login: the policy asks for a passkey; one is set up by keyboard and the app gets its Response',
    async (t) => {
      const flowPath = await loginInChromium();
      t.equal(new URL(page.url()).pathname, `${flowPath}/mfa`);
      t.match(await page.textContent('main'), /must be a passkey or a security key/);
      t.equal(await page.$('#manual-key'), null, 'no authenticator app is offered at this level');
      await checkPage(t, page, 'passkey setup page');
      await page.setViewportSize({ width: 390, height: 900 });
      t.ok(await tabTo(page, /^passkeyName$/), 'the name field is reachable by Tab');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('Work laptop');
      t.ok(await tabTo(page, /Set up a passkey/), 'the button is reachable by Tab');
      await page.keyboard.press('Enter');
      // A first factor: the recovery codes, shown once, before the app.
      await page.waitForSelector('#recovery-codes');
      t.match(await page.textContent('main'), /Your passkey is set up/);
      await checkPage(t, page, 'recovery codes after a passkey');
      await page.setViewportSize({ width: 390, height: 900 });
      const lines = await page.$$eval('#recovery-codes li', (items) =>
        items.map((li) => ({
          text: li.textContent!,
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
      codes = lines.map((l) => l.text);
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
      t.equal(download.suggestedFilename(), 'recovery-codes.txt');
      const saved = readFileSync((await download.path())!, 'utf8');
      t.same(
        codes.filter((c) => !saved.includes(c)),
        [],
        'the .txt holds every code',
      );
      t.ok(await tabTo(page, /Copy codes/), 'copy is reachable by Tab');
      t.ok(await tabTo(page, /Print/), 'print is reachable by Tab');
      t.ok(await tabTo(page, /I saved them/), 'continue is reachable by Tab');
      await page.keyboard.press('Enter');
      await page.waitForURL(app.acsUrls[0]);
      t.equal(received.length, 1, 'the app received a Response');
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: received[0] });
      t.equal(profile!.nameID, 'ann@customer.example', 'node-saml accepts it');
      const [credential] = await w.org.store.webauthn.list(ann.id);
      t.equal(credential.name, 'Work laptop');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      t.equal(credentials.length, 1, 'the virtual authenticator holds one credential');
      t.equal(
        Buffer.from(credentials[0].credentialId, 'base64').toString('base64url'),
        credential.credentialId,
        'the one stored',
      );
      t.equal(credentials[0].rpId, 'piedpipers.localhost', "for the organisation's host");
    },
  );

  await t.test('second login: the passkey signs in', async (t) => {
    const flowPath = await loginInChromium();
    t.equal(new URL(page.url()).pathname, `${flowPath}/mfa`);
    t.match(await page.textContent('main'), /Use your passkey or security key to open/);
    t.match(
      await page.textContent('main'),
      /Lost your passkey or key\? Enter a recovery code/,
      'no app code field at this level: only the recovery code',
    );
    await checkPage(t, page, 'passkey sign-in page');
    t.ok(await tabTo(page, /Use your passkey/), 'the button is reachable by Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(app.acsUrls[0]);
    t.equal(received.length, 2);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: received[1] });
    t.equal(profile!.nameID, 'ann@customer.example');
    const verified = await w.org.store.audit.list({ userId: ann.id, type: 'mfa.verified' });
    t.equal(verified[0].details.method, 'webauthn', 'audited as a passkey sign-in');
    const replay = await http.post(`${w.base}${flowPath}/mfa`, Object.fromEntries(new URLSearchParams(posted)));
    t.equal(replay.statusCode, 410, 'the same answer on the completed flow: refused');
    t.match(replay.body, /flow_not_found/);
  });

  await t.test('the key lost: a recovery code by keyboard, then a new passkey before the app', async (t) => {
    await cdp.send('WebAuthn.clearCredentials', { authenticatorId }); // the key is gone
    const flowPath = await loginInChromium();
    t.equal(new URL(page.url()).pathname, `${flowPath}/mfa`);
    await page.setViewportSize({ width: 390, height: 900 });
    t.ok(await tabTo(page, /^code$/), 'the recovery code field is reachable by Tab');
    await page.keyboard.type(codes[0]);
    t.ok(await tabTo(page, /Use the recovery code/), 'its button too');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#recovered-notice');
    t.match(await page.textContent('h1'), /Set up a new passkey/);
    t.match(await page.textContent('#recovered-notice'), /9 left/);
    t.equal(received.length, 2, 'no Response yet');
    await checkPage(t, page, 'new passkey after a recovery code');
    await page.setViewportSize({ width: 390, height: 900 });
    t.ok(await tabTo(page, /^passkeyName$/), 'the name field is reachable by Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Spare key');
    t.ok(await tabTo(page, /Set up a passkey/), 'the button is reachable by Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(app.acsUrls[0]);
    t.equal(received.length, 3, 'the app gets its Response after the new passkey (codes left: none shown)');
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: received[2] });
    t.equal(profile!.nameID, 'ann@customer.example');
    t.same(
      (await w.org.store.webauthn.list(ann.id)).map((c) => c.name),
      ['Work laptop', 'Spare key'],
    );
  });

  await t.test('account page: the check with the passkey, then rename and remove it', async (t) => {
    w.ta.clock.advance(6 * 60_000); // the login's check has lapsed
    await page.goto(`${w.base}/account`);
    t.match(await page.textContent('main'), /Work laptop/);
    await checkPage(t, page, 'account page with a passkey');
    t.ok(await tabTo(page, /Confirm with your passkey/), 'the passkey check is reachable by Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${w.base}/account?done=checked`);
    const [credential] = await w.org.store.webauthn.list(ann.id);
    await page.fill(`#rename-${credential.id}`, 'Old laptop');
    await page.click(`button[aria-label="Rename Work laptop"]`);
    await page.waitForURL(`${w.base}/account?done=passkey-renamed`);
    t.equal((await w.org.store.webauthn.list(ann.id))[0].name, 'Old laptop');
    await checkPage(t, page, 'account page, checked, with a passkey');
    await page.click(`button[aria-label="Remove Old laptop"]`);
    await page.waitForURL(`${w.base}/account?done=passkey-removed`);
    t.same(
      (await w.org.store.webauthn.list(ann.id)).map((c) => c.name),
      ['Spare key'],
      'removed',
    );
    t.equal(
      (await w.org.store.audit.list({ userId: ann.id, type: 'mfa.webauthn_removed' }))[0].actor,
      'ann@customer.example',
      'audited, by the user',
    );
  });

  // Issue 23: on the account page too, a passkey-only user who lost the key confirms with a recovery code (used up,
  // audited) and adds a new passkey without the helpdesk.
  await t.test('account page: the key lost, a recovery code by keyboard, then a new passkey', async (t) => {
    await cdp.send('WebAuthn.clearCredentials', { authenticatorId }); // "Spare key" is gone too
    w.ta.clock.advance(6 * 60_000); // the last check has lapsed
    await page.goto(`${w.base}/account`);
    t.match(await page.textContent('main'), /Lost your passkey\? Confirm it is you with one of your recovery codes/);
    await checkPage(t, page, 'account page with a passkey and recovery codes');
    await page.setViewportSize({ width: 390, height: 900 });
    t.ok(await tabTo(page, /^code$/), 'the recovery code field is reachable by Tab');
    await page.keyboard.type(codes[1]);
    t.ok(await tabTo(page, /Confirm with a recovery code/), 'its button too');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${w.base}/account?done=checked`);
    t.match(await page.textContent('main'), /\b8 of 10 recovery codes are unused/);
    t.match(await w.org.store.audit.list({ userId: ann.id, type: 'mfa.verified', take: 1 }), [
      { details: { method: 'recovery', for: 'account' } },
    ]);
    await page.goto(`${w.base}/account/passkeys/new`);
    await page.fill('#passkeyName', 'Replacement key');
    await page.click('#passkey-button');
    await page.waitForURL(`${w.base}/account?done=passkey-added`);
    t.same(
      (await w.org.store.webauthn.list(ann.id)).map((c) => c.name),
      ['Spare key', 'Replacement key'],
      'the new passkey is added by the user',
    );
  });

  t.same(errors, [], 'no console error');
});
