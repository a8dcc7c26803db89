// Every console page in Chromium at 1280 and 390 px: nothing overflows sideways (the page's width is the window's),
// and axe-core finds no serious or critical accessibility violation. The pages are filled the way a real
// organisation's are: an IdP with a certificate fingerprint, an app, users, and audit lines with long details.
import t from 'tap';
import { axeViolations } from '../helpers/page-checks.ts';
import type { Page } from 'playwright-core';
import { launchChromium, signInToConsole } from '../helpers/chromium.ts';
import { buildApp } from '../../src/app.ts';
import { ManualClock } from '../../src/clock.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { createTestContext } from '../helpers/context.ts';
import { freePort } from '../helpers/own-services.ts';

class RealClock extends ManualClock {
  override now() {
    return new Date();
  }
}
const ADMIN = { email: 'admin@layout.example', password: 'a long admin password for layout' };
const WIDTHS = [1280, 390];

/** What sticks out: the page's scroll width against the window's, and the widest elements past the right edge. */
async function overflow(page: Page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const doc = document.documentElement.scrollWidth;
    const culprits: string[] = [];
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.right > width + 1 && r.width > 0)
        culprits.push(
          `${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''} (right edge ${Math.round(r.right)})`,
        );
    }
    return { width, doc, culprits: culprits.slice(0, 5) };
  });
}

t.test('every console page fits at 1280 and 390 px and passes axe-core', async (t) => {
  const port = await freePort();
  const tc = await createTestContext({ clock: new RealClock(), env: { BASE_DOMAIN: `localhost:${port}` } });
  const broker = await buildApp(tc.ctx, { logger: false });
  await broker.listen({ host: '127.0.0.1', port });
  t.teardown(async () => {
    await broker.close();
    await tc.cleanup();
  });
  const created = await tc.ctx.organizations.create(
    { slug: 'layout', name: 'Layout Check Ltd', adminEmail: ADMIN.email, adminPassword: ADMIN.password },
    'test',
  );
  const store = tc.ctx.store.forOrg(created.org.id);
  const cred = generateSigningCredential('layout-idp');
  const idp = await saveIdentityProvider(store, {
    name: 'Okta (customer-one.example)',
    entityId: 'http://www.okta.com/exk1a2b3c4d5e6f7g8h9i0j1k2l3m4n5o6p7q8r9',
    ssoUrl: 'https://customer-one.okta.com/app/customer-one_broker_1/exk1a2b3c4d5e6f7g8h9/sso/saml',
    certificates: [cred.certificatePem],
    mappingPreset: 'okta',
    emailDomains: ['customer-one.example'],
  });
  const app = await saveApplication(store, {
    name: 'Jira Service Management portal',
    entityId: 'https://customer-portal.atlassian.net/plugins/servlet/samlconsumer/metadata/a-rather-long-entity-id',
    acsUrls: ['https://customer-portal.atlassian.net/plugins/servlet/samlconsumer'],
    primaryIdpId: idp.id,
  });
  const user = await store.users.create({
    email: 'a.very.long.email.address.for.layout.checks@customer-one.example',
    firstName: 'Ann',
    lastName: 'Example-With-A-Long-Name',
    source: 'imported',
  });
  // The IdP page's recent provisioning events (its SCIM section), with a long address and a long group name.
  for (const [type, details] of [
    ['scim.user_created', { userName: user.email, email: user.email }],
    [
      'scim.group_members_changed',
      { displayName: 'customer-one-service-desk-agents-europe', added: [user.id], removed: [] },
    ],
    ['scim.user_deactivated', { email: user.email, sessionsEnded: 1, devicesRevoked: 0 }],
  ] as const)
    await store.audit.record({
      type,
      actor: 'scim:connector',
      idpId: idp.id,
      ...(type.startsWith('scim.user') && { userId: user.id }),
      at: new Date(),
      details,
    });
  await store.audit.record({
    type: 'login.failed',
    actor: 'system',
    at: new Date(),
    details: {
      code: 'saml_bad_signature',
      message:
        'The assertion signature does not verify with the certificate configured for this identity provider: '.repeat(
          3,
        ),
      idp: idp.id,
      app: app.id,
    },
  });

  const browser = await launchChromium(t);
  // axe-core is injected by the test (bypassCSP), not by the page: the pages' own CSP stays as it is elsewhere.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const base = `http://layout.localhost:${port}`;
  await signInToConsole(page, base, ADMIN);
  const sections = await page.$$eval('.console-nav a', (links) =>
    links.map((a) => (a as HTMLAnchorElement).getAttribute('href')!),
  );
  t.ok(sections.length >= 8, 'the console lists its sections');
  const pages = [
    ...sections,
    `/admin/idps/${idp.id}`,
    `/admin/apps/${app.id}`,
    `/admin/users/${user.id}`,
    '/admin/users/import',
    '/admin/idps/new',
    '/admin/apps/new',
  ];

  // A failed form on a long page: a banner at the top says so, and focus moves to the banner (keyboard and screen
  // reader users land on it); the next Tab reaches its link to the messages next to the fields.
  await page.setViewportSize({ width: 390, height: 700 });
  await page.goto(`${base}/admin/apps/new`);
  await page.fill('#import-name', 'Portal');
  await page.fill('#import-metadataUrl', 'http://127.0.0.1:1/metadata.xml');
  await page.click('text=Import metadata and add app');
  await page.waitForLoadState();
  t.match(await page.textContent('[role=alert]'), /The app was not added/, 'a failed metadata import shows a banner');
  t.same(
    await page.evaluate(() => {
      const active = document.activeElement;
      return {
        banner: active === document.querySelector('[role=alert][data-form-errors]'),
        tabindex: active?.getAttribute('tabindex'),
        text: (active as HTMLElement | null)?.innerText,
      };
    }),
    { banner: true, tabindex: '-1', text: 'The app was not added: see the messages next to the fields.' },
    'focus is on the error banner',
  );
  t.ok(
    await page.evaluate(() => {
      const r = document.activeElement!.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    }),
    'and it is in view',
  );
  await page.keyboard.press('Tab');
  t.equal(
    await page.evaluate(() => document.activeElement?.getAttribute('href')),
    '#from-metadata',
    "Tab goes on to the banner's link to the messages",
  );
  t.same(await axeViolations(page), [], 'the page with its error banner: no serious or critical axe-core violation');

  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    for (const path of pages) {
      const res = await page.goto(`${base}${path}`);
      t.equal(res?.status(), 200, `${path} at ${width} px: 200`);
      const o = await overflow(page);
      t.ok(
        o.doc <= o.width + 1,
        `${path} at ${width} px: no sideways scrolling (page ${o.doc} px, window ${o.width} px)`,
        { culprits: o.culprits },
      );
      if (width === 1280) {
        // Defect 7 of the console issue: every field wears the console's style (an input without a type attribute,
        // or of a type the style sheet forgot, falls back to the browser's square grey box), and links take the
        // organisation's colour rather than the browser's default blue or visited purple.
        const unstyled = await page.evaluate(() => {
          const visible = (el: Element) => el.getBoundingClientRect().width > 0;
          const name = (el: Element) => `${el.tagName.toLowerCase()}#${el.id || el.getAttribute('name') || '?'}`;
          const fields = Array.from(
            document.querySelectorAll(
              'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit]):not([type=color]), select, textarea',
            ),
          ).filter((el) => visible(el) && getComputedStyle(el).borderTopLeftRadius !== '8px');
          const links = Array.from(document.querySelectorAll('main a')).filter(
            (a) => visible(a) && ['rgb(0, 0, 238)', 'rgb(85, 26, 139)'].includes(getComputedStyle(a).color),
          );
          return [...fields.map((el) => `field ${name(el)}`), ...links.map((a) => `link "${a.textContent?.trim()}"`)];
        });
        t.same(unstyled, [], `${path}: fields styled, links in the brand colour`);
        const found = await axeViolations(page);
        t.same(found, [], `${path}: no serious or critical axe-core violation`);
      }
    }
  }
});
