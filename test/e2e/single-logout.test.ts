// Single logout through the proxy, both directions: apps are node-saml service providers (an implementation we did
// not write), the upstream IdP is the test's fake IdP signing its own LogoutRequest/LogoutResponse.
import t from 'tap';
import { SAML, type Profile } from '@node-saml/node-saml';
import { inflateRawSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { encodeOutgoing, verifyMessageSignature } from '../../src/saml/bindings.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { logoutRequestXml, logoutResponseXml } from '../../src/saml/logout.ts';
import { saveApplication } from '../../src/orgs/remote/registrations.ts';
import type { Application } from '../../src/store/applications.ts';
import { createOrg } from '../helpers/context.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { b64, signWithXmlCrypto, type FakeIdp } from '../helpers/fake-idp.ts';
import { appReceives, createWorld, idpAnswers, upstreamRequest, type World } from '../helpers/sso-world.ts';

const ANN = 'ann@customer.example';

/** A node-saml app that signs its logout messages with its own key (registered as the app's certificate). */
function sloApp(w: World, app: Application, key?: { privateKeyPem: string }) {
  const base = w.nodeSaml(app);
  return new SAML({
    ...(base as unknown as { options: object }).options,
    logoutUrl: w.org.urls.idpSlo,
    signatureAlgorithm: 'sha256',
    ...(key && { privateKey: key.privateKeyPem }),
  } as never);
}

const queryOf = (url: string) => url.slice(url.indexOf('?') + 1);
const paramsOf = (url: string) => Object.fromEntries(new URL(url).searchParams);
const inflate = (b64: string) => inflateRawSync(Buffer.from(b64, 'base64')).toString();

/** Signs in through Jira (upstream login), then every other app rides on the broker session. */
async function signInEverywhere(w: World, browser: Browser, fake: FakeIdp, apps: SAML[]): Promise<Profile[]> {
  const profiles: Profile[] = [];
  for (const [i, sp] of apps.entries()) {
    const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    let page: LightMyRequestResponse;
    if (i === 0) {
      const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
      page = (await browser.follow(acs.res, w.base)).res;
    } else {
      page = (await browser.follow(start, w.base)).res;
    }
    profiles.push((await appReceives(sp, page)).profile);
  }
  return profiles;
}

/** The app side of a hop: node-saml reads our LogoutRequest and answers with its LogoutResponse URL. */
async function appAnswersHop(sp: SAML, hopRedirect: string, success = true) {
  const { profile } = await sp.validateRedirectAsync(paramsOf(hopRedirect), queryOf(hopRedirect));
  return {
    profile: profile!,
    answer: await sp.getLogoutResponseUrlAsync(profile!, paramsOf(hopRedirect).RelayState, {}, success),
  };
}

async function setup(opts: { idpSlo?: boolean } = {}) {
  const w = await createWorld();
  const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  if (opts.idpSlo !== false)
    await w.org.store.identityProviders.update(idp.id, { sloUrl: 'https://okta.idp.example/slo' });
  const jiraKey = generateSigningCredential('jira');
  const { app: jira } = await w.addApp('Jira', {
    primaryIdpId: idp.id,
    sloUrl: 'https://jira.example/slo',
    certificate: jiraKey.certificatePem,
  });
  const { app: confluence } = await w.addApp('Confluence', { sloUrl: 'https://confluence.example/slo' });
  const { app: legacy } = await w.addApp('Legacy');
  await w.org.store.users.create({ email: ANN, source: 'imported' });
  const sps = { jira: sloApp(w, jira, jiraKey), confluence: sloApp(w, confluence), legacy: sloApp(w, legacy) };
  return { w, fake, idp, jira, confluence, legacy, jiraKey, sps, browser: new Browser(w.ta) };
}

/** The URL of a LogoutRequest for Ann that the fake IdP signs and sends by redirect, valid for `validSeconds`. */
function idpLogoutRequest(w: World, fake: FakeIdp, validSeconds: number): string {
  const request = logoutRequestXml({
    issuer: fake.entityId,
    destination: w.org.urls.spSlo,
    now: w.ta.clock.now(),
    nameId: ANN,
    validSeconds,
  });
  return encodeOutgoing({
    ...request,
    param: 'SAMLRequest',
    destination: w.org.urls.spSlo,
    binding: 'redirect',
    relayState: null,
    signer: { keyPem: fake.credential.privateKeyPem, certificatePem: fake.certificatePem },
  }).url;
}

const activeSessions = (w: World) =>
  w.ta.ctx.store.db.brokerSession.count({ where: { orgId: w.org.org.id, endedAt: null } });

t.test('app-initiated: every other app, then the IdP, then the answer to the app', async (t) => {
  const { w, fake, sps, browser, confluence } = await setup();
  t.teardown(w.ta.cleanup);
  const [jiraProfile, confluenceProfile] = await signInEverywhere(w, browser, fake, [
    sps.jira,
    sps.confluence,
    sps.legacy,
  ]);
  t.equal(await activeSessions(w), 1);

  const logoutUrl = await sps.jira.getLogoutUrlAsync(jiraProfile, 'back-to-jira', {});
  t.match(logoutUrl, /Signature=/, 'node-saml signs its LogoutRequest');
  const start = await browser.get(logoutUrl);
  t.equal(start.statusCode, 303);
  const chain = String(start.headers.location);
  t.match(chain, /^\/logout\/[\w-]+$/);
  t.equal(await activeSessions(w), 0, 'the broker session ended at once');
  t.notOk(browser.cookies(new URL(w.base).host).get('broker_session'), 'the session cookie is cleared');

  // Hop 1: Confluence, in a frame, with a refresh at the time limit.
  const page1 = await browser.get(w.base + chain);
  t.equal(page1.statusCode, 200);
  t.match(page1.body, /Signing you out of <strong>Confluence<\/strong>/);
  t.match(page1.body, new RegExp(`<meta http-equiv="refresh" content="8;url=${chain}">`));
  t.match(page1.body, new RegExp(`<iframe src="${chain}/hop"`));
  const hop1 = await browser.get(`${w.base}${chain}/hop`);
  t.equal(hop1.statusCode, 302);
  t.equal(hop1.headers['x-frame-options'], 'SAMEORIGIN', 'the hop may load in our own frame');
  const toConfluence = String(hop1.headers.location);
  t.match(toConfluence, /^https:\/\/confluence\.example\/slo\?SAMLRequest=.*&RelayState=.*&SigAlg=.*&Signature=/);
  const c = await appAnswersHop(sps.confluence, toConfluence);
  t.equal(c.profile.nameID, confluenceProfile.nameID, 'Confluence is told the NameID it was given');
  t.equal(c.profile.sessionIndex, confluenceProfile.sessionIndex, 'and its own SessionIndex');
  const done1 = await browser.get(c.answer);
  t.equal(done1.statusCode, 200);
  t.match(done1.body, new RegExp(`window.top.location.replace\\("${chain}"\\)`));

  t.test('an answer to a step that is over changes nothing', async (t) => {
    const again = await browser.get(c.answer);
    t.equal(again.statusCode, 400);
    t.match(again.body, /saml_wrong_in_response_to/);
  });

  // Legacy has no SLO URL: skipped. Hop 2: the upstream IdP, with its NameID and SessionIndex.
  const page2 = await browser.get(w.base + chain);
  t.match(page2.body, /Signing you out of <strong>Okta<\/strong>/);
  const toIdp = String((await browser.get(`${w.base}${chain}/hop`)).headers.location);
  t.match(toIdp, /^https:\/\/okta\.idp\.example\/slo\?SAMLRequest=/);
  verifyMessageSignature({
    maxBytes: 262144,
    binding: 'redirect',
    param: 'SAMLRequest',
    rawQuery: queryOf(toIdp),
    message: '',
    certificates: [w.idpCert],
  });
  const idpRequest = inflate(paramsOf(toIdp).SAMLRequest);
  t.match(idpRequest, `<saml:Issuer>${w.org.urls.spEntityId}</saml:Issuer>`);
  t.match(
    idpRequest,
    `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${ANN}</saml:NameID>`,
    'the NameID as the IdP issued it, format included',
  );
  t.match(idpRequest, '<samlp:SessionIndex>_idp_session_1</samlp:SessionIndex>');
  const inResponseTo = /ID="([^"]+)"/.exec(idpRequest)![1];
  const idpAnswer = logoutResponseXml({
    issuer: fake.entityId,
    destination: w.org.urls.spSlo,
    now: w.ta.clock.now(),
    inResponseTo,
    status: 'Success',
  });
  const sent = encodeOutgoing({
    ...idpAnswer,
    param: 'SAMLResponse',
    destination: w.org.urls.spSlo,
    binding: 'redirect',
    relayState: paramsOf(toIdp).RelayState,
    signer: { keyPem: fake.credential.privateKeyPem, certificatePem: fake.certificatePem },
  });
  t.equal((await browser.get(sent.url)).statusCode, 200);

  // The end: Jira gets its LogoutResponse with its RelayState; PartialLogout because Legacy could not be reached.
  const final = await browser.get(w.base + chain);
  t.equal(final.statusCode, 302);
  const toJira = String(final.headers.location);
  t.match(toJira, /^https:\/\/jira\.example\/slo\?SAMLResponse=/);
  t.equal(paramsOf(toJira).RelayState, 'back-to-jira');
  const jiraSees = await sps.jira.validateRedirectAsync(paramsOf(toJira), queryOf(toJira));
  t.equal(jiraSees.loggedOut, true, 'node-saml accepts the signed LogoutResponse');
  t.match(
    inflate(paramsOf(toJira).SAMLResponse),
    /status:Success"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:PartialLogout"/,
  );

  const completed = (await w.org.store.audit.list({ type: 'logout.completed' }))[0];
  t.equal(completed.outcome, 'failure');
  t.same((completed.details as { participants: unknown[] }).participants, [
    { name: 'Confluence', outcome: 'success' },
    { name: 'Legacy', outcome: 'skipped', detail: 'the app has no single logout URL' },
    { name: 'Okta', outcome: 'success' },
  ]);
  t.equal((await browser.get(w.base + chain)).statusCode, 410, 'the chain cannot be run again');

  t.test('the same LogoutRequest is refused the second time', async (t) => {
    const replay = await browser.get(logoutUrl);
    t.equal(replay.statusCode, 400);
    t.match(replay.body, /saml_replayed/);
  });
  t.ok(confluence);
});

t.test('to the IdP, the NameID goes back exactly as it issued it: format and qualifiers', async (t) => {
  const { w, fake, sps, browser } = await setup();
  t.teardown(w.ta.cleanup);
  const start = await browser.get(await sps.jira.getAuthorizeUrlAsync('', undefined, {}));
  const request = upstreamRequest(String(start.headers.location));
  // A persistent, qualified NameID, as ADFS or Shibboleth issue them.
  const unsigned = await fake.responseXml({
    acsUrl: w.org.urls.spAcs,
    audience: w.org.urls.spEntityId,
    inResponseTo: request.id,
    nameId: 'opaque-7f3a',
    attributes: { Email: [ANN] },
    signResponse: false,
  });
  // The builder always signs something: its signature is removed, and the edited assertion signed by xml-crypto.
  const qualified = unsigned
    .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')
    .replace(
      /<saml:NameID [^>]*>/,
      '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" NameQualifier="https://idp.example/saml" SPNameQualifier="sp &amp; qualifier">',
    );
  t.not(qualified, unsigned);
  const acs = await browser.post(
    w.org.urls.spAcs,
    { SAMLResponse: b64(signWithXmlCrypto(qualified, fake.credential, 'Assertion')), RelayState: request.relayState },
    { crossSite: true },
  );
  const landed = (await browser.follow(acs, w.base)).res;
  t.equal(/Error code: <code>([^<]+)<\/code>/.exec(landed.body)?.[1], undefined, 'signed in');
  const { profile } = await appReceives(sps.jira, landed);

  const chain = String((await browser.get(await sps.jira.getLogoutUrlAsync(profile, '', {}))).headers.location);
  const page = await browser.get(w.base + chain);
  t.match(page.body, /Signing you out of <strong>Okta<\/strong>/);
  const toIdp = String((await browser.get(`${w.base}${chain}/hop`)).headers.location);
  const idpRequest = inflate(paramsOf(toIdp).SAMLRequest);
  t.match(
    idpRequest,
    '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" NameQualifier="https://idp.example/saml" SPNameQualifier="sp &amp; qualifier">opaque-7f3a</saml:NameID>',
  );
  verifyMessageSignature({
    maxBytes: 262144,
    binding: 'redirect',
    param: 'SAMLRequest',
    rawQuery: queryOf(toIdp),
    message: '',
    certificates: [w.idpCert],
  });
});

t.test('an app that never answers: the chain moves on at the time limit and reports PartialLogout', async (t) => {
  const { w, fake, sps, browser } = await setup({ idpSlo: false });
  t.teardown(w.ta.cleanup);
  const [jiraProfile] = await signInEverywhere(w, browser, fake, [sps.jira, sps.confluence]);
  const chain = String((await browser.get(await sps.jira.getLogoutUrlAsync(jiraProfile, '', {}))).headers.location);
  await browser.get(w.base + chain);
  const toConfluence = String((await browser.get(`${w.base}${chain}/hop`)).headers.location);
  w.ta.clock.advance(5000);
  t.match((await browser.get(w.base + chain)).body, /content="3;url=/, 'still waiting, 3 s left');
  w.ta.clock.advance(3000);
  const final = await browser.get(w.base + chain);
  t.equal(final.statusCode, 302);
  t.match(inflate(paramsOf(String(final.headers.location)).SAMLResponse), /PartialLogout/);
  const completed = (await w.org.store.audit.list({ type: 'logout.completed' }))[0];
  t.same((completed.details as { participants: unknown[] }).participants, [
    { name: 'Confluence', outcome: 'timeout', detail: 'no answer within 8 s' },
  ]);
  const late = await appAnswersHop(sps.confluence, toConfluence);
  t.equal((await browser.get(late.answer)).statusCode, 410, 'a late answer finds the chain finished');
});

t.test('all participants answer: Success; a POST-binding request gets a POST answer', async (t) => {
  const { w, fake, sps, browser, jira, jiraKey } = await setup({ idpSlo: false });
  t.teardown(w.ta.cleanup);
  const [jiraProfile, confluenceProfile] = await signInEverywhere(w, browser, fake, [sps.jira, sps.confluence]);
  const request = logoutRequestXml({
    issuer: jira.entityId,
    destination: w.org.urls.idpSlo,
    now: w.ta.clock.now(),
    nameId: jiraProfile.nameID,
    sessionIndex: jiraProfile.sessionIndex,
  });
  const post = encodeOutgoing({
    ...request,
    param: 'SAMLRequest',
    destination: w.org.urls.idpSlo,
    binding: 'post',
    relayState: 'rs',
    signer: { keyPem: jiraKey.privateKeyPem, certificatePem: jiraKey.certificatePem },
  });
  if (post.binding !== 'post') throw new Error('expected POST');
  const start = await browser.post(w.org.urls.idpSlo, post.fields, { crossSite: true });
  t.equal(start.statusCode, 303, 'a cross-site POST without our cookies still starts the chain');
  const chain = String(start.headers.location);
  await browser.get(w.base + chain);
  const hop = await appAnswersHop(
    sps.confluence,
    String((await browser.get(`${w.base}${chain}/hop`)).headers.location),
  );
  t.equal(hop.profile.sessionIndex, confluenceProfile.sessionIndex);
  await browser.get(hop.answer);
  const final = await browser.get(w.base + chain);
  t.equal(final.statusCode, 200);
  const form = formIn(final.body)!;
  t.equal(form.action, 'https://jira.example/slo');
  t.equal(form.fields.RelayState, 'rs');
  const xml = Buffer.from(form.fields.SAMLResponse, 'base64').toString();
  t.match(xml, `InResponseTo="${request.id}"`);
  t.match(xml, '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>');
  verifyMessageSignature({
    maxBytes: 262144,
    binding: 'post',
    param: 'SAMLResponse',
    message: form.fields.SAMLResponse,
    certificates: [w.idpCert],
  });
});

t.test(
  "refusals: unsigned when the app has a certificate, unsigned without SessionIndex, wrong destination, another organisation's session",
  async (t) => {
    const { w, fake, sps, browser, jira, confluence } = await setup({ idpSlo: false });
    t.teardown(w.ta.cleanup);
    const [jiraProfile] = await signInEverywhere(w, browser, fake, [sps.jira]);

    const unsignedSp = sloApp(w, jira);
    const unsigned = await browser.get(await unsignedSp.getLogoutUrlAsync(jiraProfile, '', {}));
    t.equal(unsigned.statusCode, 400);
    t.match(unsigned.body, /saml_request_unsigned/);
    t.equal(await activeSessions(w), 1, 'nothing ended');
    const rejected = await w.org.store.audit.list({ type: 'logout.rejected' });
    t.equal(rejected[0]?.code, 'saml_request_unsigned');

    // Another organisation registers an app with the same entity ID and names this organisation's session.
    const hooli = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
    const hooliApp = await saveApplication(hooli.store, {
      name: 'Jira',
      entityId: jira.entityId,
      acsUrls: jira.acsUrls,
      sloUrl: 'https://jira.hooli.example/slo',
    });
    const hooliSp = new SAML({
      ...(w.nodeSaml(hooliApp) as unknown as { options: object }).options,
      logoutUrl: hooli.urls.idpSlo,
      idpCert: (await hooli.store.signingKeys.active())!.certificatePem,
    } as never);
    const cross = await browser.get(await hooliSp.getLogoutUrlAsync(jiraProfile, '', {}));
    t.equal(cross.statusCode, 302);
    const answer = String(cross.headers.location);
    t.match(answer, /^https:\/\/jira\.hooli\.example\/slo\?SAMLResponse=/);
    t.match(
      inflate(paramsOf(answer).SAMLResponse),
      /status:Requester"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"/,
    );
    t.equal(await activeSessions(w), 1, "the first organisation's session is untouched");

    // Confluence has no certificate: unsigned, it must name a SessionIndex, not only a guessable NameID.
    const byNameOnly = logoutRequestXml({
      issuer: confluence.entityId,
      destination: w.org.urls.idpSlo,
      now: w.ta.clock.now(),
      nameId: ANN,
    });
    const nameOnly = await browser.get(
      encodeOutgoing({
        ...byNameOnly,
        param: 'SAMLRequest',
        destination: w.org.urls.idpSlo,
        binding: 'redirect',
        relayState: null,
      }).url,
    );
    t.equal(nameOnly.statusCode, 400);
    t.match(nameOnly.body, /saml_request_unsigned/);
    t.equal(await activeSessions(w), 1, 'an unsigned request naming only an email address ends nothing');

    const wrongDest = logoutRequestXml({
      issuer: jira.entityId,
      destination: 'https://elsewhere.example/slo',
      now: w.ta.clock.now(),
      nameId: ANN,
    });
    const sent = encodeOutgoing({
      ...wrongDest,
      param: 'SAMLRequest',
      destination: w.org.urls.idpSlo,
      binding: 'redirect',
      relayState: null,
    });
    const res = await browser.get(sent.url);
    t.equal(res.statusCode, 400, 'unsigned and misaddressed');
    t.equal(await activeSessions(w), 1);
  },
);

t.test('IdP-initiated: the upstream IdP logs the user out of every app, then gets its answer', async (t) => {
  const { w, fake, idp, sps, browser } = await setup();
  t.teardown(w.ta.cleanup);
  const [jiraProfile, confluenceProfile] = await signInEverywhere(w, browser, fake, [sps.jira, sps.confluence]);
  const idpSigner = { keyPem: fake.credential.privateKeyPem, certificatePem: fake.certificatePem };
  const make = (sessionIndex: string) =>
    logoutRequestXml({
      issuer: fake.entityId,
      destination: w.org.urls.spSlo,
      now: w.ta.clock.now(),
      nameId: ANN,
      sessionIndex,
    });

  await t.test('unsigned is refused', async (t) => {
    const unsigned = encodeOutgoing({
      ...make('_idp_session_1'),
      param: 'SAMLRequest',
      destination: w.org.urls.spSlo,
      binding: 'redirect',
      relayState: null,
    });
    const res = await browser.get(unsigned.url);
    t.equal(res.statusCode, 400);
    t.match(res.body, /saml_request_unsigned/);
    t.equal(await activeSessions(w), 1);
  });

  await t.test('another SessionIndex of the IdP ends nothing', async (t) => {
    const other = encodeOutgoing({
      ...make('_some_other_session'),
      param: 'SAMLRequest',
      destination: w.org.urls.spSlo,
      binding: 'redirect',
      relayState: null,
      signer: idpSigner,
    });
    const res = await browser.get(other.url);
    t.match(inflate(paramsOf(String(res.headers.location)).SAMLResponse), /UnknownPrincipal/);
    t.equal(await activeSessions(w), 1);
  });

  await t.test('signed but naming no Destination is refused', async (t) => {
    const undirected = make('_idp_session_1');
    const sent = encodeOutgoing({
      ...undirected,
      xml: undirected.xml.replace(/ Destination="[^"]*"/, ''),
      param: 'SAMLRequest',
      destination: w.org.urls.spSlo,
      binding: 'redirect',
      relayState: null,
      signer: idpSigner,
    });
    const res = await browser.get(sent.url);
    t.equal(res.statusCode, 400);
    t.match(res.body, /saml_wrong_destination/);
    t.equal(await activeSessions(w), 1, 'nothing ended');
  });

  const request = make('_idp_session_1');
  const sent = encodeOutgoing({
    ...request,
    param: 'SAMLRequest',
    destination: w.org.urls.spSlo,
    binding: 'redirect',
    relayState: 'idp-state',
    signer: idpSigner,
  });
  const start = await browser.get(sent.url);
  t.equal(start.statusCode, 303);
  t.equal(await activeSessions(w), 0);
  const chain = String(start.headers.location);
  for (const [sp, profile] of [
    [sps.jira, jiraProfile],
    [sps.confluence, confluenceProfile],
  ] as const) {
    await browser.get(w.base + chain);
    const hop = await appAnswersHop(sp, String((await browser.get(`${w.base}${chain}/hop`)).headers.location));
    t.equal(hop.profile.sessionIndex, profile.sessionIndex);
    await browser.get(hop.answer);
  }
  const final = await browser.get(w.base + chain);
  const toIdp = String(final.headers.location);
  t.match(toIdp, /^https:\/\/okta\.idp\.example\/slo\?SAMLResponse=/);
  t.equal(paramsOf(toIdp).RelayState, 'idp-state');
  verifyMessageSignature({
    maxBytes: 262144,
    binding: 'redirect',
    param: 'SAMLResponse',
    rawQuery: queryOf(toIdp),
    message: '',
    certificates: [w.idpCert],
  });
  const xml = inflate(paramsOf(toIdp).SAMLResponse);
  t.match(xml, `InResponseTo="${request.id}"`);
  t.match(xml, '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>');
  t.match(xml, `<saml:Issuer>${w.org.urls.spEntityId}</saml:Issuer>`);
  const started = (await w.org.store.audit.list({ type: 'logout.started' }))[0];
  t.equal(started.idpId, idp.id);
});

t.test(
  'a LogoutRequest valid for longer than the chain stays refused as a replay until its NotOnOrAfter plus skew',
  async (t) => {
    const { w, fake, browser } = await setup();
    t.teardown(w.ta.cleanup);
    const sent = idpLogoutRequest(w, fake, 1800);
    t.equal((await browser.get(sent)).statusCode, 302, 'processed (nobody to log out: UnknownPrincipal)');
    w.ta.clock.advance(1200 * 1000); // past the chain's 10 minutes, before the request's 30
    const replay = await browser.get(sent);
    t.equal(replay.statusCode, 400);
    t.match(replay.body, /saml_replayed/);
    w.ta.clock.advance(660 * 1000); // past NotOnOrAfter plus the skew
    const late = await browser.get(sent);
    t.equal(late.statusCode, 400);
    t.match(late.body, /saml_expired/, 'then it has expired anyway');
  },
);

t.test(
  'at NotOnOrAfter plus the skew exactly, a processed LogoutRequest is expired, never accepted again',
  async (t) => {
    const { w, fake, browser } = await setup();
    t.teardown(w.ta.cleanup);
    // A whole second, as the request's NotOnOrAfter is written: the boundary instant is then reachable exactly. There
    // the replay record may be reused (its expiresAt is that instant), so the request must already be expired.
    w.ta.clock.set(new Date(Math.ceil(w.ta.clock.now().getTime() / 1000) * 1000));
    const sent = idpLogoutRequest(w, fake, 1800);
    t.equal((await browser.get(sent)).statusCode, 302, 'processed once');
    w.ta.clock.advance((1800 + 60) * 1000 - 1);
    const justBefore = await browser.get(sent);
    t.match(justBefore.body, /saml_replayed/, 'a millisecond before: still a replay');
    w.ta.clock.advance(1);
    const at = await browser.get(sent);
    t.equal(at.statusCode, 400);
    t.match(at.body, /saml_expired/, 'at the boundary: expired, not processed a second time');
  },
);
