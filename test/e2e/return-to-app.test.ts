// "Return to <app>": every failure after the app's AuthnRequest was accepted ends with the app hearing back. The
// failure page's button posts to /flow/:id/return, which answers (once, for the flow's own browser) with the
// auto-POST of a signed SAML error Response to the app's registered ACS: InResponseTo = the app's request ID,
// Responder / AuthnFailed or RequestDenied, the app's RelayState. Two SP implementations we did not write read it:
// @node-saml/node-saml (the app of the SSO world) and pysaml2 (test/interop/pysaml2_status_sp.py).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import type { SAML } from '@node-saml/node-saml';
import { buildErrorResponse } from '../../src/saml/downstream/response.ts';
import { setTwoFactor } from '../../src/policy/two-factor-toggle.ts';
import type { Application } from '../../src/store/applications.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { pressReturn, returnAction } from '../helpers/return-to-app.ts';
import { createWorld, idpAnswers, upstreamRequest, type World } from '../helpers/sso-world.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const spScript = new URL('../interop/pysaml2_status_sp.py', import.meta.url).pathname;
const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

interface PysamlVerdict {
  outcome: 'success' | 'status_error' | 'refused';
  error: string | null;
  message: string | null;
}
function pysaml2Sp(input: object): PysamlVerdict {
  const r = spawnSync('/usr/bin/python3', [spScript], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pysaml2 SP failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The app sends its AuthnRequest (RelayState "keep-me"); its ID is what the error Response must answer. */
async function appAsks(browser: Browser, sp: SAML) {
  const url = await sp.getAuthorizeUrlAsync('keep-me', undefined, {});
  const xml = inflateRawSync(Buffer.from(new URL(url).searchParams.get('SAMLRequest')!, 'base64')).toString();
  return { requestId: /ID="([^"]+)"/.exec(xml)![1], start: await browser.get(url) };
}

t.test(
  'every failure after the app\'s request: the page offers "Return to <app>", the app gets a signed error Response',
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
    const { app, sp } = await w.addApp('Jira');
    await w.org.store.users.create({ email: 'ann@customer.example' });
    const idpMetadata = (await w.ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' })).body;
    // The fake IdP and node-saml use the real clock: the broker's starts each step at real time (a slow run of this
    // file would otherwise leave it behind the IdP's assertions by more than the allowed skew).
    t.beforeEach(() => w.ta.clock.set(new Date()));

    /** Presses the button and checks what node-saml and pysaml2 make of the Response it posts. */
    async function appHearsBack(
      t: Test,
      browser: Browser,
      page: LightMyRequestResponse,
      requestId: string,
      subStatus: 'AuthnFailed' | 'RequestDenied',
      target: { app: Application; sp: SAML } = { app, sp },
    ) {
      t.match(page.body, new RegExp(`Return to ${target.app.name}`), 'the page offers the way back');
      const returned = await pressReturn(browser, w.base, page);
      t.equal(returned.statusCode, 200);
      const form = formIn(returned.body)!;
      t.equal(form.action, target.app.acsUrls[0], "posted to the app's registered ACS");
      t.equal(form.fields.RelayState, 'keep-me', "with the app's RelayState");
      const xml = Buffer.from(form.fields.SAMLResponse, 'base64').toString();
      t.match(xml, `InResponseTo="${requestId}"`);
      t.match(
        xml,
        `<samlp:StatusCode Value="${STATUS}Responder"><samlp:StatusCode Value="${STATUS}${subStatus}"></samlp:StatusCode></samlp:StatusCode>`,
      );
      t.notMatch(xml, /Assertion/, 'no assertion');

      // node-saml checks InResponseTo against the requests it sent (validateInResponseTo: always) before the status.
      const err = (await t.rejects(
        target.sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse }),
      )) as Error & { xmlStatus?: string };
      t.match(err.message, /^SAML provider returned Responder error: /, 'node-saml: a failed login, from the status');
      t.match(String(err.xmlStatus), subStatus);

      const verdict = pysaml2Sp({
        idpMetadata,
        entityId: target.app.entityId,
        acsUrl: target.app.acsUrls[0],
        requestId,
        samlResponse: form.fields.SAMLResponse,
      });
      t.equal(
        verdict.outcome,
        'status_error',
        `pysaml2: signature and InResponseTo accepted, failed login (${verdict.message})`,
      );
      t.equal(verdict.error, subStatus === 'AuthnFailed' ? 'StatusAuthnFailed' : 'StatusRequestDenied');
      const otherRequest = pysaml2Sp({
        idpMetadata,
        entityId: target.app.entityId,
        acsUrl: target.app.acsUrls[0],
        requestId: '_another_request',
        samlResponse: form.fields.SAMLResponse,
      });
      t.equal(otherRequest.outcome, 'refused', 'pysaml2 refuses it as the answer to another request');
      const tampered = Buffer.from(xml.replace('StatusMessage>', 'StatusMessage>X')).toString('base64');
      t.equal(
        pysaml2Sp({
          idpMetadata,
          entityId: target.app.entityId,
          acsUrl: target.app.acsUrls[0],
          requestId,
          samlResponse: tampered,
        }).outcome,
        'refused',
        'pysaml2 checks the signature',
      );

      const again = await browser.post(`${w.base}${returnAction(page.body)}`, {});
      t.equal(again.statusCode, 410, 'a second POST to /flow/:id/return is refused');
      t.notOk(formIn(again.body)?.fields.SAMLResponse);
      return { form, xml };
    }

    t.test('the IdP answers with an error status', async (t) => {
      const browser = new Browser(w.ta);
      const { requestId, start } = await appAsks(browser, sp);
      const upstream = upstreamRequest(String(start.headers.location));
      const idpError = buildErrorResponse({
        idp: {
          entityId: fake.entityId,
          signingKeyPem: fake.credential.privateKeyPem,
          certificatePem: fake.certificatePem,
        },
        acsUrl: w.org.urls.spAcs,
        appEntityId: w.org.urls.spEntityId,
        inResponseTo: upstream.id,
        status: 'Responder',
        subStatus: 'AuthnFailed',
        message: 'Wrong password <script>',
        now: w.ta.clock.now(),
      });
      const acs = await browser.post(
        w.org.urls.spAcs,
        { SAMLResponse: idpError.samlResponse, RelayState: upstream.relayState },
        { crossSite: true },
      );
      t.equal(acs.statusCode, 400);
      t.equal(codeOf(acs.body), 'saml_status_failure');
      const { xml } = await appHearsBack(t, browser, acs, requestId, 'AuthnFailed');
      t.notMatch(xml, /Wrong password/, "the IdP's own message is not passed on to the app");
      const audit = await w.org.store.audit.list({ type: 'login.returned' });
      t.ok(
        audit.some((e) => e.code === 'saml_status_failure' && e.appId === app.id),
        'the return is audited with the failure code',
      );
    });

    t.test("the IdP's Response is refused (wrong audience)", async (t) => {
      const browser = new Browser(w.ta);
      const { requestId, start } = await appAsks(browser, sp);
      const upstream = upstreamRequest(String(start.headers.location));
      const samlResponse = await fake.response({
        acsUrl: w.org.urls.spAcs,
        audience: 'https://someone-else.example/sp',
        inResponseTo: upstream.id,
      });
      const acs = await browser.post(
        w.org.urls.spAcs,
        { SAMLResponse: samlResponse, RelayState: upstream.relayState },
        { crossSite: true },
      );
      t.equal(codeOf(acs.body), 'saml_wrong_audience');
      // The flow has failed: the same flow cannot be continued with a good Response afterwards.
      const good = await fake.response({
        acsUrl: w.org.urls.spAcs,
        audience: w.org.urls.spEntityId,
        inResponseTo: upstream.id,
      });
      const stranger = new Browser(w.ta);
      const late = await stranger.post(
        w.org.urls.spAcs,
        { SAMLResponse: good, RelayState: upstream.relayState },
        { crossSite: true },
      );
      // Refused as a re-post of a flow that has moved on (flow_already_used): the restart page, never the flow.
      t.equal(late.statusCode, 303, 'a later good Response finds no flow waiting');
      t.equal(late.headers.location, `/flow/${upstream.relayState}/restart`);
      const restart = await stranger.get(`${w.base}${late.headers.location}`);
      t.equal(restart.statusCode, 410, 'a browser that does not own the flow learns nothing from the restart page');
      t.equal(returnAction(restart.body), null, 'and offers no way back');
      await appHearsBack(t, browser, acs, requestId, 'AuthnFailed');
    });

    t.test('policy deny', async (t) => {
      const { app: portal, sp: portalSp } = await w.addApp('Portal');
      await w.org.store.applications.update(portal.id, {
        policy: [{ id: 'nobody', action: 'deny', conditions: {}, message: 'Not for you.' }],
      });
      const browser = new Browser(w.ta);
      const { requestId, start } = await appAsks(browser, portalSp);
      const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
      const { res } = await browser.follow(acs.res, w.base);
      t.equal(res.statusCode, 403);
      t.equal(codeOf(res.body), 'policy_denied');
      t.notOk(formIn(res.body)?.fields.SAMLResponse, 'the page itself carries no Response');
      await appHearsBack(t, browser, res, requestId, 'RequestDenied', { app: portal, sp: portalSp });
    });

    t.test('a locked second factor (five wrong codes at verification)', async (t) => {
      const { app: vault, sp: vaultSp } = await w.addApp('Vault');
      await w.org.store.applications.update(vault.id, { policy: setTwoFactor([], true) });
      const target = { app: vault, sp: vaultSp };
      await w.org.store.users.create({ email: 'eve@customer.example' });

      // Eve enrols first (oathtool), then fails five times on her next login.
      const eve = { email: 'eve@customer.example', attributes: { Email: ['eve@customer.example'] } };
      const b2 = new Browser(w.ta);
      const first = await appAsks(b2, vaultSp);
      const a1 = await idpAnswers(w, b2, fake, String(first.start.headers.location), eve);
      await b2.get(`${w.base}${a1.res.headers.location}`);
      const enrol = await b2.get(`${w.base}${String(a1.res.headers.location).replace('/continue', '/mfa')}`);
      const key = /id="manual-key"[^>]*>([A-Z2-7 ]+)</.exec(enrol.body)![1];
      const confirmed = await b2.post(`${w.base}${String(a1.res.headers.location).replace('/continue', '/mfa')}`, {
        code: oathtool(key, w.ta.clock.now()),
      });
      t.match(confirmed.body, /recovery codes/i, 'eve enrolled');
      const b3 = new Browser(w.ta);
      const second = await appAsks(b3, vaultSp);
      const a2 = await idpAnswers(w, b3, fake, String(second.start.headers.location), eve);
      const verifyUrl = `${w.base}${String(a2.res.headers.location).replace('/continue', '/mfa')}`;
      await b3.get(`${w.base}${a2.res.headers.location}`);
      t.match((await b3.get(verifyUrl)).body, /Two-factor authentication/, 'her next login asks for the code');
      let locked!: LightMyRequestResponse;
      for (let i = 0; i < 5; i++) locked = await b3.post(verifyUrl, { code: `99999${i}` });
      t.equal(locked.statusCode, 423);
      t.equal(codeOf(locked.body), 'mfa_locked');
      await appHearsBack(t, b3, locked, second.requestId, 'AuthnFailed', target);
    });

    t.test('only the browser that owns the flow can return, and only to a registered ACS', async (t) => {
      const { app: wiki, sp: wikiSp } = await w.addApp('Wiki', {
        acsUrls: ['https://wiki.example/acs', 'https://wiki.example/acs2'],
      });
      await w.org.store.applications.update(wiki.id, {
        policy: [{ id: 'nobody', action: 'deny', conditions: {}, message: 'No.' }],
      });
      const browser = new Browser(w.ta);
      const { start } = await appAsks(browser, wikiSp);
      const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
      const { res } = await browser.follow(acs.res, w.base);
      const action = `${w.base}${returnAction(res.body)}`;
      const attacker = await new Browser(w.ta).post(action, {});
      t.equal(attacker.statusCode, 403, 'another browser is refused');
      t.equal(codeOf(attacker.body), 'flow_browser_mismatch');
      t.notOk(formIn(attacker.body)?.fields.SAMLResponse);
      const crossSite = await browser.post(action, {}, { crossSite: true });
      t.equal(crossSite.statusCode, 403, 'a cross-site form (no SameSite=Lax cookie) is refused');
      await w.org.store.applications.update(wiki.id, { acsUrls: ['https://wiki.example/acs2'] });
      const unregistered = await browser.post(action, {});
      t.equal(unregistered.statusCode, 409, 'the ACS the request named is no longer registered: nothing is posted');
      t.equal(codeOf(unregistered.body), 'saml_acs_not_registered');
      t.notOk(formIn(unregistered.body)?.fields.SAMLResponse);
    });

    t.test('unsolicited logins (launch link): no error Response, a link back to the login page', async (t) => {
      const { app: desk } = await w.addApp('Desk');
      await w.org.store.applications.update(desk.id, {
        policy: [{ id: 'nobody', action: 'deny', conditions: {}, message: 'No.' }],
      });
      const browser = new Browser(w.ta);
      const start = await browser.get(`${w.base}/apps/${desk.id}/launch`);
      const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
      const { res } = await browser.follow(acs.res, w.base);
      t.equal(res.statusCode, 403);
      t.equal(returnAction(res.body), null, 'no Return button: the app asked for nothing');
      t.match(res.body, /<a class="button" href="\/login">Back to sign-in<\/a>/);
      const flowId = String(acs.res.headers.location).split('/')[2];
      const forced = await browser.post(`${w.base}/flow/${flowId}/return`, {});
      t.equal(forced.statusCode, 409);
      t.equal(codeOf(forced.body), 'flow_not_returnable');
    });

    t.test('no enabled IdP left: the flow starts failed, the app hears NoAvailableIDP', async (t) => {
      const w2: World = await createWorld('hooli');
      t.teardown(w2.ta.cleanup);
      const { idp } = await w2.addIdp('Okta');
      const { app: a2, sp: sp2 } = await w2.addApp('Jira');
      await w2.org.store.identityProviders.update(idp.id, { enabled: false });
      const browser = new Browser(w2.ta);
      const { requestId, start } = await appAsks(browser, sp2);
      t.equal(start.statusCode, 503);
      t.equal(codeOf(start.body), 'no_identity_provider');
      const returned = await pressReturn(browser, w2.base, start);
      const form = formIn(returned.body)!;
      t.equal(form.action, a2.acsUrls[0]);
      const xml = Buffer.from(form.fields.SAMLResponse, 'base64').toString();
      t.match(xml, `InResponseTo="${requestId}"`);
      t.match(xml, `${STATUS}NoAvailableIDP`);
      await t.rejects(sp2.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse }), /Responder error/);
    });
  },
);
