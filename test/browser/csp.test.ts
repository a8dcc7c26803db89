// The Content-Security-Policy in a real browser (Debian's Chromium through playwright-core): every page the broker
// serves still works under its policy, and Chromium reports no violation anywhere, frames included. A customer
// signs in to an app (auto-POST to the upstream IdP and back, TOTP enrolment with its QR code, auto-POST to the
// app), opens a second app on the same broker session, then signs out from the first: the chain page visits the
// second app's SLO URL in its hidden frame and answers the first. An admin signs in, uses a copy button, saves a
// form and creates an API token (selected on focus).
import t from 'tap';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { SAML, type Profile } from '@node-saml/node-saml';
import { generateSync } from 'otplib';
import type { BrowserContext } from 'playwright-core';
import { launchChromium, QUIET, signInToConsole } from '../helpers/chromium.ts';
import { buildApp } from '../../src/app.ts';
import { ManualClock } from '../../src/clock.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { setAppTwoFactor } from '../../src/policy/app-policy.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { createTestContext } from '../helpers/context.ts';
import { demoIdpEntityId, startDemoIdp } from '../../demo/peers/demo-idp.ts';
import { freePort } from '../helpers/own-services.ts';

/** The browser needs real time: node-saml and the demo IdP check it, and TOTP codes are computed from it. */
class RealClock extends ManualClock {
  override now() {
    return new Date();
  }
}

const ADMIN = { email: 'admin@acme.example', password: 'a long admin password for acme' };

/** An app (node-saml) with login, ACS and single logout over HTTP-Redirect; its pages have no CSP of their own. */
async function sloApp(port: number, name: string, urls: { idpSso: string; idpSlo: string }, idpCert: string) {
  const base = `http://localhost:${port}`;
  const sp = new SAML({
    entryPoint: urls.idpSso,
    logoutUrl: urls.idpSlo,
    issuer: `${base}/metadata`,
    audience: `${base}/metadata`,
    callbackUrl: `${base}/acs`,
    idpCert,
    wantAuthnResponseSigned: true,
    wantAssertionsSigned: false,
    validateInResponseTo: 'never' as never,
    acceptedClockSkewMs: 5000,
  });
  let profile: Profile | null = null;
  const app = Fastify({ logger: false });
  await app.register(formbody);
  const html = (body: string) => `<!doctype html><html><head><title>${name}</title></head><body>${body}</body></html>`;
  app.get('/login', async (_req, reply) => reply.redirect(await sp.getAuthorizeUrlAsync('', undefined, {})));
  app.post<{ Body: { SAMLResponse?: string } }>('/acs', async (req, reply) => {
    profile = (await sp.validatePostResponseAsync({ SAMLResponse: req.body.SAMLResponse ?? '' })).profile;
    return reply.type('text/html').send(html(`<h1>${name}: signed in as ${profile?.nameID}</h1>`));
  });
  app.get('/logout', async (_req, reply) => reply.redirect(await sp.getLogoutUrlAsync(profile!, 'bye', {})));
  // Our LogoutRequest (inside the broker's frame) or the broker's LogoutResponse (at the end of the chain).
  app.get<{ Querystring: Record<string, string> }>('/slo', async (req, reply) => {
    const query = req.url.slice(req.url.indexOf('?') + 1);
    const { profile: asked, loggedOut } = await sp.validateRedirectAsync(req.query, query);
    if (loggedOut && !asked) return reply.type('text/html').send(html(`<h1>${name}: signed out</h1>`));
    profile = null;
    return reply.redirect(await sp.getLogoutResponseUrlAsync(asked!, req.query.RelayState, {}, true));
  });
  await app.listen({ port, host: '127.0.0.1' });
  return { app, base, entityId: `${base}/metadata`, acs: `${base}/acs`, slo: `${base}/slo` };
}

t.test('every page works under its CSP in Chromium, with no violation reported', async (t) => {
  const [port, idpPort, portalPort, wikiPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const tc = await createTestContext({ clock: new RealClock(), env: { BASE_DOMAIN: `localhost:${port}` } });
  const broker = await buildApp(tc.ctx, { logger: false });
  await broker.listen({ host: '127.0.0.1', port });
  t.teardown(async () => {
    await broker.close();
    await tc.cleanup();
  });

  const created = await tc.ctx.organizations.create(
    { slug: 'acme', name: 'Acme Support', adminEmail: ADMIN.email, adminPassword: ADMIN.password },
    'test',
  );
  const store = tc.ctx.store.forOrg(created.org.id);
  const base = `http://acme.localhost:${port}`;
  const brokerCert = (await store.signingKeys.active())!.certificatePem;
  const idpCredential = generateSigningCredential('csp-idp');
  const idp = await startDemoIdp({
    port: idpPort,
    credential: idpCredential,
    brokerAcs: created.urls.spAcs,
    brokerSpEntityId: created.urls.spEntityId,
  });
  const portal = await sloApp(portalPort, 'Portal', created.urls, brokerCert);
  const wiki = await sloApp(wikiPort, 'Wiki', created.urls, brokerCert);
  t.teardown(async () => {
    await idp.close();
    await portal.app.close();
    await wiki.app.close();
  });

  const okta = await saveIdentityProvider(store, {
    name: 'Okta',
    entityId: demoIdpEntityId(idpPort),
    ssoUrl: `http://localhost:${idpPort}/sso`,
    certificates: [idpCredential.certificatePem],
    mappingPreset: 'okta',
    emailDomains: ['customer.example'],
  });
  const portalApp = await saveApplication(store, {
    name: 'Portal',
    entityId: portal.entityId,
    acsUrls: [portal.acs],
    sloUrl: portal.slo,
    primaryIdpId: okta.id,
  });
  await saveApplication(store, {
    name: 'Wiki',
    entityId: wiki.entityId,
    acsUrls: [wiki.acs],
    sloUrl: wiki.slo,
    primaryIdpId: okta.id,
  });
  await store.users.create({ email: 'erin@customer.example', source: 'imported' });
  await setAppTwoFactor(store, portalApp, { enabled: true }, { actor: 'test', at: new Date() });

  const browser = await launchChromium(t, { extraArgs: QUIET });

  // Chromium logs each violation to the console of the frame where it happened; the init script (which runs in
  // every frame) also reports each securitypolicyviolation event, with its directive and blocked URL.
  const violations: string[] = [];
  async function watched(opts: Parameters<typeof browser.newContext>[0] = {}): Promise<BrowserContext> {
    const context = await browser.newContext(opts);
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) =>
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`),
      );
    });
    context.on('console', (m) => {
      if (/Content Security Policy|CSP violation/i.test(m.text())) violations.push(`${m.location().url}: ${m.text()}`);
    });
    return context;
  }

  await t.test(
    'the customer signs in with TOTP, opens a second app, and signs out of both through the frames',
    async (t) => {
      const user = await (await watched()).newPage();
      await user.goto(`${portal.base}/login`);
      await user.waitForURL(new RegExp(`localhost:${idpPort}/sso`));
      await user.fill('#email', 'erin@customer.example');
      await user.getByRole('button', { name: 'Sign in' }).click();
      await user.waitForURL(/\/flow\/[^/]+\/mfa$/);
      t.match(await user.textContent('h1'), /Set up two-factor authentication/, 'the styled enrolment page');
      t.ok(
        await user.$eval('img[alt^="QR code"]', (img) => (img as HTMLImageElement).naturalWidth > 0),
        'the QR code (a data: URL) is shown',
      );
      t.equal(
        await user.$eval('header.brand', (h) => getComputedStyle(h).display),
        'flex',
        "the layout's nonce'd stylesheet applies",
      );
      const key = (await user.textContent('#manual-key'))!.replace(/\s+/g, '');
      await user.fill('#code', generateSync({ secret: key }));
      await user.keyboard.press('Enter');
      await user.waitForSelector('#recovery-codes');
      await user.getByRole('button', { name: /continue/ }).click();
      await user.waitForURL(`${portal.base}/acs`);
      t.match(
        await user.textContent('h1'),
        /Portal: signed in as erin@customer\.example/,
        'the auto-POST form reached the app',
      );

      await user.goto(`${wiki.base}/login`);
      await user.waitForURL(`${wiki.base}/acs`);
      t.match(
        await user.textContent('h1'),
        /Wiki: signed in as erin@customer\.example/,
        'the second app, on the broker session',
      );

      await user.goto(`${portal.base}/logout`);
      await user.waitForURL(`${portal.base}/slo?**`, { timeout: 20_000 });
      t.match(
        await user.textContent('h1'),
        /Portal: signed out/,
        'the chain ended with the answer to the app that asked',
      );
      const done = await store.audit.list({ type: 'logout.completed' });
      t.equal(done.length, 1);
      t.match(
        JSON.stringify(done[0].details),
        /"status":"(urn:oasis:names:tc:SAML:2.0:status:)?Success"/,
        'the wiki confirmed inside the frame: a full logout',
      );
    },
  );

  await t.test('the admin signs in, copies a URL, saves a form and creates a token', async (t) => {
    const context = await watched({ permissions: ['clipboard-read', 'clipboard-write'] });
    const admin = await context.newPage();
    await signInToConsole(admin, base, ADMIN);
    const copy = admin.locator('button[data-copy]').first();
    const value = await copy.getAttribute('data-copy');
    await copy.click();
    await admin.waitForFunction((b) => b?.textContent === 'Copied', await copy.elementHandle());
    t.equal(await admin.evaluate(() => navigator.clipboard.readText()), value, "the copy button's script ran");

    await admin.goto(`${base}/admin/organization`);
    await admin.fill('#name', 'Acme Support Desk');
    await admin.getByRole('button', { name: 'Save settings' }).click();
    await admin.waitForLoadState();
    t.equal((await tc.ctx.store.organizations.findById(created.org.id))!.name, 'Acme Support Desk', 'the form posted');

    await admin.goto(`${base}/admin/tokens`);
    await admin.fill('#name', 'ci');
    await admin.getByRole('button', { name: 'Create token' }).click();
    await admin.waitForSelector('#token');
    await admin.focus('#token');
    t.ok(
      await admin.$eval('#token', (i) => {
        const input = i as HTMLInputElement;
        return input.selectionStart === 0 && input.selectionEnd === input.value.length && input.value.length > 0;
      }),
      'the token is selected on focus',
    );
  });

  t.same(violations, [], 'Chromium reported no CSP violation on any page or frame');
});
