// Defect 4 of issue 19: the browser's Back button during a login. In Chromium: an app's login goes to the
// upstream IdP (a page served by page.route, with the signed Response in a form posted to the broker's ACS), on to
// the second-factor page; then Back returns to the IdP's page and its form is sent again. The replayed Response is
// refused (the flow stays where it was, nothing is signed in twice), and the page says in plain words what
// happened and offers "Start again", the app's launch link, which starts a new login at the IdP.
import t from 'tap';
import { handCookie, launchChromium } from '../helpers/chromium.ts';
import { Browser } from '../helpers/browser.ts';
import { freePort } from '../helpers/own-services.ts';
import { createWorld, upstreamRequest } from '../helpers/sso-world.ts';
import { OKTA_ATTRIBUTES } from '../helpers/fake-idp.ts';

t.test('Back from the second-factor page to the IdP, and its form sent again', async (t) => {
  const port = await freePort();
  const w = await createWorld('piedpipers', undefined, { env: { BASE_DOMAIN: `localhost:${port}` } });
  await w.ta.app.listen({ host: '127.0.0.1', port });
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, {
    policy: [{ id: 'everyone-2fa', conditions: {}, action: 'require_totp' }],
  });
  await w.org.store.users.create({ email: 'ann@customer.example' });

  const browser = await launchChromium(t);
  const context = await browser.newContext();
  const page = await context.newPage();

  // The upstream IdP: its sign-in page answers the broker's AuthnRequest with a signed Response in a form that
  // posts (cross-site) to the broker's ACS, as IdPs do; a button rather than a script, so that the test sends it.
  const idpPages: string[] = [];
  await page.route(
    (url) => url.hostname === 'okta.idp.example',
    async (route) => {
      const req = upstreamRequest(route.request().url());
      idpPages.push(req.relayState);
      const samlResponse = await fake.response({
        acsUrl: w.org.urls.spAcs,
        audience: w.org.urls.spEntityId,
        inResponseTo: req.id,
        nameId: 'ann@customer.example',
        attributes: OKTA_ATTRIBUTES('ann@customer.example'),
      });
      const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
      await route.fulfill({
        status: 200,
        contentType: 'text/html',
        headers: { 'cache-control': 'no-store' },
        body: `<!doctype html><title>Okta</title><form method="post" action="${esc(w.org.urls.spAcs)}"><input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}"><input type="hidden" name="RelayState" value="${esc(req.relayState)}"><button type="submit">Continue to Pied Pipers</button></form>`,
      });
    },
  );
  await page.route(app.acsUrls[0], (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Jira</title><p>Signed in' }),
  );

  // The login: the app's request → the IdP's page → its form → the ACS → the second-factor (enrolment) page.
  // Playwright does not route a redirect's target, so the app's request goes over HTTP and Chromium takes over its
  // browser-binding cookie and opens the IdP's page itself.
  const http = new Browser(w.ta);
  const start = await http.get(await sp.getAuthorizeUrlAsync('relay-back', undefined, {}));
  t.match(String(start.headers.location), /^https:\/\/okta\.idp\.example\/sso\?/, "the app's request goes to the IdP");
  await handCookie(context, w.base, 'broker_browser', http.cookies(new URL(w.base).host).get('broker_browser')!);
  await page.goto(String(start.headers.location));
  await page.click('text=Continue to Pied Pipers');
  await page.waitForURL(/\/flow\/[^/]+\/mfa$/);
  const flowId = new URL(page.url()).pathname.split('/')[2];
  t.equal(idpPages[0], flowId, 'the IdP answered this flow');
  const before = await w.org.store.flows.findAtStage(flowId, ['mfa_enrol', 'mfa_verify'], w.ta.clock.now());
  t.ok(before, 'the flow waits at the second factor');

  // Back: the IdP's page again, and its form sent again.
  await page.goBack();
  await page.waitForURL(/okta\.idp\.example/);
  await page.click('text=Continue to Pied Pipers');
  await page.waitForURL(new RegExp(`/flow/${flowId}/restart$`));

  const text = await page.textContent('main');
  t.match(text, /This sign-in was already completed or restarted/, 'the page says what happened');
  t.notMatch(text, /IdP-initiated SSO is off|Something is not right/, 'not the unsolicited-login page');
  t.match(text, /flow_already_used/, 'its error code');
  const startAgain = page.getByRole('link', { name: 'Start again' });
  t.equal(await startAgain.getAttribute('href'), `/apps/${app.id}/launch`, "Start again is the app's launch link");

  // The replay was refused: the flow is where it was, and the refusal is in the audit log.
  const after = await w.org.store.flows.findAtStage(flowId, ['mfa_enrol', 'mfa_verify'], w.ta.clock.now());
  t.equal(after?.stage, before!.stage, 'the flow did not move');
  const refused = await w.org.store.audit.list({ type: 'login.upstream_rejected' });
  t.equal(refused.length, 1);
  t.equal(refused[0].code, 'flow_already_used');
  t.equal(refused[0].flowId, flowId);
  t.equal((await w.org.store.audit.list({ type: 'login.success' })).length, 0, 'nobody was signed in');

  // Start again: a new login to the same app, sent to the IdP again with a new flow (the launch link redirects
  // there, which Playwright does not route: the request is enough).
  const [again] = await Promise.all([
    page.waitForRequest((r) => new URL(r.url()).hostname === 'okta.idp.example'),
    startAgain.click(),
  ]);
  const relayState = upstreamRequest(again.url()).relayState;
  t.not(relayState, flowId, 'a new flow');
  const fresh = await w.org.store.flows.findAtStage(relayState, ['upstream_sent'], w.ta.clock.now());
  t.equal(fresh?.appId, app.id, 'for the same app, waiting for the IdP');
});
