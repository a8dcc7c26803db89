// Full brokered logins through the HTTP layer: app (node-saml) → broker → upstream IdP → broker → app.
import t from 'tap';
import { Browser, formIn } from '../helpers/browser.ts';
import { appReceives, createWorld, idpAnswers, upstreamRequest } from '../helpers/sso-world.ts';
import { WSO2_ATTRIBUTES } from '../helpers/fake-idp.ts';

t.test('SP-initiated, Redirect binding, primary IdP, Okta-shaped response', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake: okta, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  await w.addIdp('Other');
  const { app, sp } = await w.addApp('Jira', { primaryIdpId: idp.id });
  await w.org.store.users.create({ email: 'ann@customer.example', source: 'imported', groups: ['portal-customers'] });
  const browser = new Browser(w.ta);

  const relayState = 'https://jira.example/servicedesk/customer/portal/1?x=1&y="2"';
  const start = await browser.get(await sp.getAuthorizeUrlAsync(relayState, undefined, {}));
  t.equal(start.statusCode, 302, 'straight to the primary IdP, no chooser');
  const upstreamUrl = String(start.headers.location);
  t.match(upstreamUrl, /^https:\/\/okta\.idp\.example\/sso\?SAMLRequest=/);
  const req = upstreamRequest(upstreamUrl);
  t.match(req.xml, `<saml:Issuer>${w.org.urls.spEntityId}</saml:Issuer>`);

  const acs = await idpAnswers(w, browser, okta, upstreamUrl);
  t.equal(acs.res.statusCode, 303);
  const { res: page } = await browser.follow(acs.res, w.base);
  t.equal(page.statusCode, 200);
  const { form, profile } = await appReceives(sp, page);
  t.equal(form.action, app.acsUrls[0], 'posted to the registered ACS URL');
  t.equal(form.fields.RelayState, relayState, 'RelayState returned verbatim');
  t.equal(profile.nameID, 'ann@customer.example');
  t.same(profile.firstName, 'Ann');
  t.same(profile.groups, ['portal-customers', 'jira-customers'], 'directory and IdP groups released');
  t.equal(profile.issuer, w.org.urls.idpEntityId);

  const user = (await w.org.store.users.findByEmail('ann@customer.example'))!;
  t.ok(user.lastLoginAt, 'last login recorded');
  t.ok(await w.org.store.users.findByIdentity(idp.id, 'ann@customer.example'), 'imported user linked on first login');
  const audit = await w.org.store.audit.list();
  t.ok(audit.some((e) => e.type === 'login.success' && e.userId === user.id));
  t.ok(audit.some((e) => e.type === 'user.linked'));

  t.test('the same upstream response cannot be replayed', async (t) => {
    const successes = (await w.org.store.audit.list({ type: 'login.success' })).length;
    const again = await browser.post(
      w.org.urls.spAcs,
      { SAMLResponse: acs.samlResponse, RelayState: acs.relayState },
      { crossSite: true },
    );
    t.equal(again.statusCode, 303, 'refused at the ACS: the browser goes to the page that says so');
    t.equal(again.headers.location, `/flow/${acs.relayState}/restart`);
    const said = await browser.get(`${w.base}${again.headers.location}`);
    t.equal(said.statusCode, 409);
    t.match(said.body, /This sign-in was already completed or restarted/);
    t.match(said.body, /flow_already_used/);
    t.match(said.body, new RegExp(`href="/apps/${app.id}/launch">Start again<`), "Start again: the app's launch link");
    t.notOk(formIn(said.body)?.fields.SAMLResponse, 'no second Response');
    t.equal((await w.org.store.audit.list({ type: 'login.success' })).length, successes, 'nobody signed in again');
    const [refused] = await w.org.store.audit.list({ type: 'login.upstream_rejected' });
    t.match(refused, { code: 'flow_already_used', flowId: acs.relayState }, 'the refusal is audited');
    const stranger = await w.ta.request('piedpipers', { method: 'GET', url: `/flow/${acs.relayState}/restart` });
    t.equal(stranger.statusCode, 410, 'another browser only learns that the sign-in expired');
    t.notMatch(stranger.body, /Start again/);
    const noRelay = await browser.post(w.org.urls.spAcs, { SAMLResponse: acs.samlResponse }, { crossSite: true });
    t.match(
      noRelay.body,
      /saml_unsolicited/,
      'without a waiting flow it is unsolicited, and the IdP does not allow that',
    );
  });

  t.test('the finished flow cannot be continued again', async (t) => {
    const replay = await browser.get(`${w.base}/flow/${acs.relayState}/continue`);
    t.equal(replay.statusCode, 410);
    t.notOk(formIn(replay.body)?.fields.SAMLResponse, 'no second Response');
  });

  t.test('a second app in the same broker session skips the upstream IdP', async (t) => {
    const { sp: confluence } = await w.addApp('Confluence');
    const start2 = await browser.get(await confluence.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(start2.statusCode, 303);
    t.match(String(start2.headers.location), /^\/flow\/[^/]+\/continue$/, 'no redirect to an IdP');
    const { res } = await browser.follow(start2, w.base);
    const { profile: p2 } = await appReceives(confluence, res);
    t.equal(p2.nameID, 'ann@customer.example');
    const session = (await w.ta.ctx.store.db.brokerSession.findMany({ where: { orgId: w.org.org.id } }))[0];
    t.same((await w.org.store.sessions.listApps(session.id)).length, 2, 'both apps recorded in the session');
  });

  t.test('ForceAuthn makes the broker ask the IdP again', async (t) => {
    const url = new URL(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const forced = new (await import('@node-saml/node-saml')).SAML({
      ...(sp as unknown as { options: object }).options,
      forceAuthn: true,
    } as never);
    const res = await browser.get(await forced.getAuthorizeUrlAsync('', undefined, {}));
    t.match(String(res.headers.location), /^https:\/\/okta\.idp\.example\/sso/);
    t.ok(url);
  });
});

t.test('SP-initiated, POST binding', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app } = await w.addApp('Jira');
  const { SAML } = await import('@node-saml/node-saml');
  const sp = new SAML({
    ...(w.nodeSaml(app) as unknown as { options: object }).options,
    authnRequestBinding: 'HTTP-POST',
  } as never);
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  const formHtml = await sp.getAuthorizeFormAsync('relay-post', undefined, {});
  const samlRequest = /name="SAMLRequest" value="([^"]+)"/.exec(formHtml)![1];
  const start = await browser.post(`${w.base}/saml/idp/sso`, { SAMLRequest: samlRequest, RelayState: 'relay-post' });
  t.equal(start.statusCode, 302);
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
  const { res } = await browser.follow(acs.res, w.base);
  const { form, profile } = await appReceives(sp, res);
  t.equal(form.fields.RelayState, 'relay-post');
  t.equal(profile.nameID, 'ann@customer.example');
});

t.test('chooser with two IdPs, WSO2-shaped response; IdP hint', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  await w.addIdp('Okta');
  const { fake: wso2, idp: wso2Idp } = await w.addIdp('WSO2', { preset: 'wso2' });
  const { sp } = await w.addApp('Jira');
  await w.ta.ctx.store.organizations.update(w.org.org.id, { jitProvisioning: true });
  const browser = new Browser(w.ta);

  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const { res: chooser } = await browser.follow(start, w.base);
  t.equal(chooser.statusCode, 200);
  t.match(chooser.body, /Okta/);
  t.match(chooser.body, /WSO2/);
  const form = /action="([^"]+\/idp)"/.exec(chooser.body)![1];
  const forged = await browser.post(`${w.base}${form}`, { idpId: 'not-an-idp-of-this-org' });
  t.equal(forged.statusCode, 400, 'only listed IdPs can be chosen');
  const chosen = await browser.post(`${w.base}${form}`, { idpId: wso2Idp.id });
  t.match(String(chosen.headers.location), /^https:\/\/wso2\.idp\.example\/sso/);
  const acs = await idpAnswers(w, browser, wso2, String(chosen.headers.location), {
    email: 'bob@partner.example',
    attributes: WSO2_ATTRIBUTES('bob@partner.example', ['support']),
  });
  const { res } = await browser.follow(acs.res, w.base);
  const { profile } = await appReceives(sp, res);
  t.equal(profile.nameID, 'bob@partner.example');
  t.equal(profile.lastName, 'Lee');
  t.same(profile.groups, 'support');
  const created = (await w.org.store.users.findByEmail('bob@partner.example'))!;
  t.equal(created.source, 'jit', 'created just in time');

  t.test("an IdP hint preselects one of this organisation's IdPs only", async (t) => {
    const b2 = new Browser(w.ta);
    const hinted = await b2.get(
      `${await sp.getAuthorizeUrlAsync('', undefined, {})}&idp=${encodeURIComponent(wso2.entityId)}`,
    );
    t.match(String(hinted.headers.location), /^https:\/\/wso2\.idp\.example\/sso/);
    const bogus = await b2.get(`${await sp.getAuthorizeUrlAsync('', undefined, {})}&idp=https%3A%2F%2Fevil.example`);
    t.match(String(bogus.headers.location), /\/flow\/[^/]+\/idp$/, 'an unknown hint falls back to the chooser');
  });
});

t.test('IdP-initiated: accepted from an IdP that allows it, routed to its default app', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { app, sp } = await w.addApp('Jira', { defaultRelayState: '/servicedesk/customer/portals' });
  const { fake } = await w.addIdp('Okta', {
    allowIdpInitiated: true,
    defaultAppId: app.id,
    emailDomains: ['customer.example'],
  });
  const { fake: strict } = await w.addIdp('Strict');
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  const unsolicited = await fake.response({
    acsUrl: w.org.urls.spAcs,
    audience: w.org.urls.spEntityId,
    inResponseTo: null,
  });
  const acs = await browser.post(w.org.urls.spAcs, { SAMLResponse: unsolicited }, { crossSite: true });
  t.equal(acs.statusCode, 303);
  const { res } = await browser.follow(acs, w.base);
  const { form, profile } = await appReceives(w.nodeSaml(app, 'never'), res);
  t.equal(profile.nameID, 'ann@customer.example');
  t.equal(form.fields.RelayState, '/servicedesk/customer/portals', "the app's default RelayState");
  t.ok(sp);

  t.test('refused from an IdP that does not allow it', async (t) => {
    const r = await new Browser(w.ta).post(
      w.org.urls.spAcs,
      {
        SAMLResponse: await strict.response({
          acsUrl: w.org.urls.spAcs,
          audience: w.org.urls.spEntityId,
          inResponseTo: null,
        }),
      },
      { crossSite: true },
    );
    t.equal(r.statusCode, 400);
    t.match(r.body, /saml_unsolicited/);
  });

  t.test('a RelayState naming an unregistered target is refused, never followed', async (t) => {
    await w.org.store.identityProviders.update(
      (await w.org.store.identityProviders.findByEntityId(fake.entityId))!.id,
      { defaultAppId: null },
    );
    const r = await new Browser(w.ta).post(
      w.org.urls.spAcs,
      {
        SAMLResponse: await fake.response({
          acsUrl: w.org.urls.spAcs,
          audience: w.org.urls.spEntityId,
          inResponseTo: null,
        }),
        RelayState: 'https://evil.example/steal',
      },
      { crossSite: true },
    );
    t.equal(r.statusCode, 400);
    t.match(r.body, /saml_unsolicited/);
    t.notMatch(String(r.headers.location ?? ''), /evil/);
  });

  t.test("a RelayState equal to a registered app's entity ID selects it", async (t) => {
    const b = new Browser(w.ta);
    const r = await b.post(
      w.org.urls.spAcs,
      {
        SAMLResponse: await fake.response({
          acsUrl: w.org.urls.spAcs,
          audience: w.org.urls.spEntityId,
          inResponseTo: null,
        }),
        RelayState: app.entityId,
      },
      { crossSite: true },
    );
    const { res: page } = await b.follow(r, w.base);
    const { profile: p } = await appReceives(w.nodeSaml(app, 'never'), page);
    t.equal(p.nameID, 'ann@customer.example');
  });
});

t.test('app launch link starts an unsolicited login to that app', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app } = await w.addApp('Jira');
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  const login = await browser.get(`${w.base}/login`);
  t.match(login.body, w.org.urls.appLaunch(app.id), 'the login page lists the launch link');
  const start = await browser.get(w.org.urls.appLaunch(app.id));
  t.equal(start.statusCode, 302);
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
  const { res } = await browser.follow(acs.res, w.base);
  const xml = Buffer.from(formIn(res.body)!.fields.SAMLResponse, 'base64').toString();
  t.notMatch(xml, /InResponseTo/, 'unsolicited: no InResponseTo');
  const { profile } = await appReceives(w.nodeSaml(app, 'never'), res);
  t.equal(profile.nameID, 'ann@customer.example');
});
