// Home-realm discovery and "Return to <app>" in a real browser (Debian's Chromium, driven by playwright-core): the
// broker listens on a real port (piedpipers.localhost); the upstream IdPs and the app's ACS are a small HTTP server
// on 127.0.0.1, another site, so the browser's own cookie rules (SameSite=Lax across the IdP's cross-site POST)
// are what is tested.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { SAML } from '@node-saml/node-saml';
import type { Page } from 'playwright-core';
import { launchChromium, QUIET } from '../helpers/chromium.ts';
import { ManualClock } from '../../src/clock.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { buildErrorResponse } from '../../src/saml/downstream/response.ts';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { FakeIdp } from '../helpers/fake-idp.ts';
import { freePort } from '../helpers/own-services.ts';

const root = new URL('../..', import.meta.url).pathname;
const artifacts = join(root, 'test-artifacts', 'home-realm-discovery');
mkdirSync(artifacts, { recursive: true });

t.test('home-realm discovery and "Return to <app>" in Chromium', async (t) => {
  const port = await freePort();
  // node-saml and the fake IdP use the real clock; so does the broker here (set again before each step).
  const ta = await createTestApp({ clock: new ManualClock(new Date()), env: { BASE_DOMAIN: `localhost:${port}` } });
  t.teardown(ta.cleanup);
  t.beforeEach(() => ta.clock.set(new Date()));
  const org = await createOrg(ta.ctx, 'piedpipers', 'Pied Pipers');
  const base = `http://piedpipers.localhost:${port}`;

  // The peers: /<idp>/sso shows a sign-in page (or, when `idpAnswer` is set, posts its answer to the broker's
  // ACS at once, as an IdP does); /jira/acs records what the app receives.
  const peersPort = await freePort();
  const peers = `http://127.0.0.1:${peersPort}`;
  const fakes = new Map<string, FakeIdp>();
  const received: string[] = [];
  let idpAnswer: ((requestId: string, relayState: string, fake: FakeIdp) => string) | null = null;
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url!, peers);
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const idp = /^\/(\w+)\/sso$/.exec(url.pathname)?.[1];
      res.setHeader('content-type', 'text/html');
      if (idp && fakes.has(idp)) {
        const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString();
        return res.end(
          idpAnswer
            ? idpAnswer(/ID="([^"]+)"/.exec(xml)![1], url.searchParams.get('RelayState')!, fakes.get(idp)!)
            : `<h1>Sign in at ${idp}</h1>`,
        );
      }
      if (url.pathname === '/jira/acs' && req.method === 'POST') received.push(body);
      res.end(`<h1>${url.pathname}</h1>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(peersPort, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const [name, domains] of [
    ['Okta', ['acme.example']],
    ['WSO2', ['*.globex.example']],
  ] as const) {
    const fake = new FakeIdp({ entityId: `https://${name.toLowerCase()}.idp.example/saml` });
    fakes.set(name.toLowerCase(), fake);
    await saveIdentityProvider(org.store, {
      name,
      entityId: fake.entityId,
      ssoUrl: `${peers}/${name.toLowerCase()}/sso`,
      certificates: [fake.certificatePem],
      emailDomains: [...domains],
    });
  }
  const app = await saveApplication(org.store, {
    name: 'Jira',
    entityId: 'https://jira.example/sp',
    acsUrls: [`${peers}/jira/acs`],
  });
  const idpCert = (await org.store.signingKeys.active())!.certificatePem;
  const sp = new SAML({
    entryPoint: `${base}/saml/idp/sso`,
    issuer: app.entityId,
    audience: app.entityId,
    callbackUrl: app.acsUrls[0],
    idpCert,
    wantAssertionsSigned: false,
    wantAuthnResponseSigned: true,
    validateInResponseTo: 'always' as never,
    acceptedClockSkewMs: 5000,
  });
  await ta.app.listen({ host: '127.0.0.1', port });

  const browser = await launchChromium(t, { extraArgs: QUIET });

  /** A fresh browser profile, and the main frame's navigations. */
  async function freshPage(): Promise<{ page: Page; visited: string[] }> {
    const page = await (await browser.newContext()).newPage();
    const visited: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) visited.push(f.url());
    });
    return { page, visited };
  }
  const atIdp = (name: string) => new RegExp(`^${peers.replace(/\./g, '\\.')}/${name}/sso\\?SAMLRequest=`);

  const authorizeUrl = (extra = '') => sp.getAuthorizeUrlAsync('keep-me', undefined, {}).then((u) => u + extra);

  await t.test('a typed work email goes to the IdP that owns its domain', async (t) => {
    const { page } = await freshPage();
    await page.goto(await authorizeUrl());
    await page.waitForURL(/\/flow\/[^/]+\/idp$/);
    await page.screenshot({ path: join(artifacts, '1-chooser.png') });
    await page.getByLabel('Work email').fill('ann@eu.globex.example');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(atIdp('wso2'));
    t.match(await page.textContent('h1'), 'Sign in at wso2', 'WSO2 was asked');
  });

  await t.test("login_hint on the app's request: straight to the owning IdP, no chooser shown", async (t) => {
    const { page, visited } = await freshPage();
    await page.goto(await authorizeUrl('&login_hint=ann%40acme.example'));
    await page.waitForURL(atIdp('okta'));
    t.notOk(
      visited.some((u) => /\/flow\/[^/]+\/idp$/.test(u)),
      'no chooser on the way',
    );
  });

  await t.test('an unknown domain shows the list again with a note, keeping the address', async (t) => {
    const { page } = await freshPage();
    await page.goto(await authorizeUrl('&login_hint=gil%40example.com'));
    await page.waitForURL(/\/flow\/[^/]+\/idp$/);
    t.equal(await page.inputValue('#email'), 'gil@example.com', 'an unknown hint prefills the field');
    await page.getByLabel('Work email').fill('hal@initech.example');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForSelector('#email-note');
    await page.screenshot({ path: join(artifacts, '2-unknown-domain.png') });
    t.match(await page.textContent('#email-note'), 'No sign-in option is set up for initech.example; choose one below');
    t.equal(await page.inputValue('#email'), 'hal@initech.example', 'the typed address is kept');
    await page.getByRole('button', { name: 'Okta' }).click();
    await page.waitForURL(atIdp('okta'));
    t.pass('the list still works');
  });

  await t.test('the IdP answers with an error: "Return to Jira" takes the app a signed error Response', async (t) => {
    idpAnswer = (id, relayState, fake) => {
      const { samlResponse } = buildErrorResponse({
        idp: {
          entityId: fake.entityId,
          signingKeyPem: fake.credential.privateKeyPem,
          certificatePem: fake.certificatePem,
        },
        acsUrl: org.urls.spAcs,
        appEntityId: org.urls.spEntityId,
        inResponseTo: id,
        status: 'Responder',
        subStatus: 'AuthnFailed',
        now: new Date(),
      });
      // The IdP's page posts its Response to the broker's ACS, cross-site, as IdPs do.
      return `<form id="f" method="post" action="${org.urls.spAcs}"><input type="hidden" name="SAMLResponse" value="${samlResponse}"><input type="hidden" name="RelayState" value="${relayState}"></form><script>document.getElementById('f').submit()</script>`;
    };
    t.teardown(() => {
      idpAnswer = null;
    });
    const { page } = await freshPage();
    const url = await authorizeUrl('&login_hint=ann%40acme.example');
    const requestId = /ID="([^"]+)"/.exec(
      inflateRawSync(Buffer.from(new URL(url).searchParams.get('SAMLRequest')!, 'base64')).toString(),
    )![1];
    await page.goto(url);
    await page.waitForURL(`${org.urls.spAcs}`);
    await page.getByRole('button', { name: 'Return to Jira' }).waitFor();
    t.match(await page.textContent('.error-code'), /saml_status_failure/);
    await page.screenshot({ path: join(artifacts, '3-idp-error.png') });
    await page.getByRole('button', { name: 'Return to Jira' }).click();
    await page.waitForURL(`${peers}/jira/acs`);
    t.equal(received.length, 1, 'the app received one POST');
    const form = new URLSearchParams(received[0]);
    t.equal(form.get('RelayState'), 'keep-me');
    const xml = Buffer.from(form.get('SAMLResponse')!, 'base64').toString();
    t.match(xml, `InResponseTo="${requestId}"`);
    const err = (await t.rejects(
      sp.validatePostResponseAsync({ SAMLResponse: form.get('SAMLResponse')! }),
    )) as Error & { xmlStatus?: string };
    t.match(err.message, /^SAML provider returned Responder error/, 'node-saml: a failed login answering its request');
    t.match(String(err.xmlStatus), 'AuthnFailed');
  });
});
