// Failure paths of the brokered flow through HTTP: each refused with its code, no success Response issued.
import t from 'tap';
import { sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { SAML } from '@node-saml/node-saml';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { createOrg } from '../helpers/context.ts';
import { appReceives, createWorld, idpAnswers, upstreamRequest } from '../helpers/sso-world.ts';
import { FakeIdp } from '../helpers/fake-idp.ts';
import { pressReturn } from '../helpers/return-to-app.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];

t.test('failures before a valid AuthnRequest get a branded page and nothing is sent anywhere', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  await w.addIdp('Okta');
  const { app } = await w.addApp('Jira');
  const browser = new Browser(w.ta);

  t.test('unknown app', async (t) => {
    const stranger = new SAML({
      entryPoint: `${w.base}/saml/idp/sso`,
      issuer: 'https://unknown.example',
      callbackUrl: 'https://unknown.example/acs',
      idpCert: w.idpCert,
      audience: 'x',
    });
    const res = await browser.get(await stranger.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(res.statusCode, 400);
    t.equal(codeOf(res.body), 'saml_unknown_app');
    t.match(res.body, /Pied Pipers/, 'branded');
    t.notOk(res.headers.location, 'no redirect anywhere');
  });

  t.test('an app of another organisation is unknown here', async (t) => {
    const other = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
    await other.store.applications.create({
      name: 'Hooli app',
      entityId: 'https://hooli-app.example',
      acsUrls: ['https://hooli-app.example/acs'],
    });
    const sp = new SAML({
      entryPoint: `${w.base}/saml/idp/sso`,
      issuer: 'https://hooli-app.example',
      callbackUrl: 'https://hooli-app.example/acs',
      idpCert: w.idpCert,
      audience: 'x',
    });
    const res = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(codeOf(res.body), 'saml_unknown_app');
  });

  t.test('a requested ACS URL that is not registered', async (t) => {
    const sp = new SAML({
      entryPoint: `${w.base}/saml/idp/sso`,
      issuer: app.entityId,
      callbackUrl: 'https://evil.example/steal',
      idpCert: w.idpCert,
      audience: app.entityId,
    });
    const res = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(codeOf(res.body), 'saml_acs_not_registered');
    t.notMatch(res.body, /evil\.example\/steal"/, 'not used as a form target');
  });

  t.test('an unsigned request naming another address', async (t) => {
    const elsewhere = new SAML({
      ...(w.nodeSaml(app) as unknown as { options: object }).options,
      entryPoint: 'https://other-idp.example/sso',
    } as never);
    const res = await browser.get(
      `${w.base}/saml/idp/sso${new URL(await elsewhere.getAuthorizeUrlAsync('', undefined, {})).search}`,
    );
    t.equal(codeOf(res.body), 'saml_wrong_destination');
    const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_nodest2" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${app.entityId}</saml:Issuer></samlp:AuthnRequest>`;
    const unsignedNoDestination = await browser.get(
      `${w.base}/saml/idp/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`,
    );
    t.equal(
      unsignedNoDestination.statusCode,
      302,
      'unsigned and naming no Destination: accepted, as the bindings allow',
    );
    // Our own URL spelled another valid way (the host in capitals) is our endpoint all the same.
    const base = new URL(w.base);
    const spelled = `${base.protocol}//${base.host.toUpperCase()}/saml/idp/sso`;
    const otherSpelling = xml.replace('ID="_nodest2"', `ID="_spelled" Destination="${spelled}"`);
    const accepted = await browser.get(
      `${w.base}/saml/idp/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(otherSpelling).toString('base64'))}`,
    );
    t.equal(accepted.statusCode, 302, `Destination ${spelled} is accepted for ${w.base}/saml/idp/sso`);
  });

  t.test('malformed input: bad base64, bad deflate, DOCTYPE, missing parameter, oversized', async (t) => {
    t.equal(codeOf((await browser.get(`${w.base}/saml/idp/sso?SAMLRequest=%%%`)).body), 'saml_malformed');
    t.equal(
      codeOf(
        (
          await browser.get(
            `${w.base}/saml/idp/sso?SAMLRequest=${encodeURIComponent(Buffer.from('garbage').toString('base64'))}`,
          )
        ).body,
      ),
      'saml_malformed',
    );
    const doctype = deflateRawSync('<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>').toString('base64');
    t.equal(
      codeOf((await browser.get(`${w.base}/saml/idp/sso?SAMLRequest=${encodeURIComponent(doctype)}`)).body),
      'saml_doctype',
    );
    t.equal(codeOf((await browser.get(`${w.base}/saml/idp/sso`)).body), 'saml_malformed');
    const bomb = deflateRawSync(Buffer.alloc(2 * 1024 * 1024, 'a')).toString('base64');
    t.equal(
      codeOf((await browser.get(`${w.base}/saml/idp/sso?SAMLRequest=${encodeURIComponent(bomb)}`)).body),
      'saml_too_large',
    );
  });
});

t.test('signed AuthnRequests, when the app requires them', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  await w.addIdp('Okta');
  const appKey = generateSigningCredential('jira-sp');
  const { app } = await w.addApp('Jira', { certificate: appKey.certificatePem, wantAuthnRequestsSigned: true });
  const browser = new Browser(w.ta);
  const unsigned = await browser.get(await w.nodeSaml(app).getAuthorizeUrlAsync('', undefined, {}));
  t.equal(codeOf(unsigned.body), 'saml_request_unsigned');
  const signer = (key: string) =>
    new SAML({
      ...(w.nodeSaml(app) as unknown as { options: object }).options,
      privateKey: key,
      signatureAlgorithm: 'sha256',
    } as never);
  const signed = await browser.get(await signer(appKey.privateKeyPem).getAuthorizeUrlAsync('r', undefined, {}));
  t.equal(signed.statusCode, 302, 'a correctly signed request goes on to the IdP');
  const wrongKey = await browser.get(
    await signer(generateSigningCredential('x').privateKeyPem).getAuthorizeUrlAsync('r', undefined, {}),
  );
  t.equal(codeOf(wrongKey.body), 'saml_request_bad_signature');
  const url = await signer(appKey.privateKeyPem).getAuthorizeUrlAsync('r', undefined, {});
  const tampered = await browser.get(url.replace('RelayState=r', 'RelayState=changed'));
  t.equal(codeOf(tampered.body), 'saml_request_bad_signature');

  // Signed for another address: another organisation of this broker, whose app shares the key.
  const elsewhere = new SAML({
    ...(w.nodeSaml(app) as unknown as { options: object }).options,
    entryPoint: `${w.base.replace('piedpipers.', 'hooli.')}/saml/idp/sso`,
    privateKey: appKey.privateKeyPem,
    signatureAlgorithm: 'sha256',
  } as never);
  const sentElsewhere = await elsewhere.getAuthorizeUrlAsync('r', undefined, {});
  const replayed = await browser.get(`${w.base}/saml/idp/sso${new URL(sentElsewhere).search}`);
  t.equal(codeOf(replayed.body), 'saml_wrong_destination', 'a request signed for another address is refused here');
  t.notOk(replayed.headers.location, 'and goes nowhere');

  // Signed, with a valid signature, but naming no Destination at all.
  const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_nodest1" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${app.acsUrls[0]}"><saml:Issuer>${app.entityId}</saml:Issuer></samlp:AuthnRequest>`;
  const query = `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}&RelayState=r&SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')}`;
  const signature = sign('sha256', Buffer.from(query), appKey.privateKeyPem).toString('base64');
  const noDestination = await browser.get(`${w.base}/saml/idp/sso?${query}&Signature=${encodeURIComponent(signature)}`);
  t.equal(codeOf(noDestination.body), 'saml_wrong_destination', 'a signed request must name its Destination');
  const withDestination = xml.replace('Version="2.0"', `Version="2.0" Destination="${w.base}/saml/idp/sso"`);
  const query2 = query.replace(
    /^SAMLRequest=[^&]+/,
    `SAMLRequest=${encodeURIComponent(deflateRawSync(withDestination).toString('base64'))}`,
  );
  const ok = await browser.get(
    `${w.base}/saml/idp/sso?${query2}&Signature=${encodeURIComponent(sign('sha256', Buffer.from(query2), appKey.privateKeyPem).toString('base64'))}`,
  );
  t.equal(ok.statusCode, 302, 'the same request naming this address goes on to the IdP');
});

t.test("failures after the app's request: the app gets a SAML error Response, the user a branded page", async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');

  async function loginAs(email: string) {
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('keep-me', undefined, {}));
    const acs = await idpAnswers(w, browser, fake, String(start.headers.location), {
      email,
      attributes: { Email: [email] },
    });
    const page = (await browser.follow(acs.res, w.base)).res;
    // The page offers "Return to Jira"; pressed, it posts the app its signed error Response.
    return Object.assign(page, { returned: () => pressReturn(browser, w.base, page) });
  }

  t.test('unknown user without just-in-time creation', async (t) => {
    const page = await loginAs('nobody@customer.example');
    t.equal(page.statusCode, 403);
    t.equal(codeOf(page.body), 'user_not_found');
    const form = formIn((await page.returned()).body)!;
    t.equal(form.fields.RelayState, 'keep-me');
    const err = (await t.rejects(sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse }))) as Error;
    t.match(err.message, /AuthnFailed|Responder/, 'the app receives a signed error Response');
    t.equal(await w.org.store.users.findByEmail('nobody@customer.example'), null);
  });

  t.test('disabled user', async (t) => {
    await w.org.store.users.create({ email: 'gone@customer.example', status: 'disabled' });
    const page = await loginAs('gone@customer.example');
    t.equal(codeOf(page.body), 'user_disabled');
    const samlResponse = formIn((await page.returned()).body)!.fields.SAMLResponse;
    const err = (await t.rejects(sp.validatePostResponseAsync({ SAMLResponse: samlResponse }))) as Error;
    t.match(err.message, /Responder error: Your account is disabled/);
    t.match(
      Buffer.from(samlResponse, 'base64').toString(),
      /StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:RequestDenied"/,
    );
    const audit = await w.org.store.audit.list({ type: 'login.denied' });
    t.ok(audit.some((e) => e.code === 'user_disabled'));
  });

  t.test('IsPassive without a broker session: NoPassive, no page shown', async (t) => {
    const passive = new SAML({ ...(sp as unknown as { options: object }).options, passive: true } as never);
    const res = await new Browser(w.ta).get(await passive.getAuthorizeUrlAsync('', undefined, {}));
    const form = formIn(res.body)!;
    const err = (await t.rejects(
      passive.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse }),
    )) as Error;
    t.match(err.message, /NoPassive|Requester/);
  });
});

t.test('no way around the flow: forged ids, other browsers, other organisations', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const hooli = await createOrg(w.ta.ctx, 'hooli', 'Hooli');
  const victim = new Browser(w.ta);
  const start = await victim.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const upstream = String(start.headers.location);
  const { id: flowId } = { id: upstreamRequest(upstream).relayState };

  t.test("a response for this flow posted to another organisation's ACS is refused", async (t) => {
    const samlResponse = await fake.response({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: upstreamRequest(upstream).id,
    });
    const res = await new Browser(w.ta).post(
      `http://hooli.${w.ta.config.baseDomain}/saml/sp/acs`,
      { SAMLResponse: samlResponse, RelayState: flowId },
      { crossSite: true },
    );
    t.equal(res.statusCode, 400);
    t.equal(
      codeOf(res.body),
      'saml_wrong_issuer',
      'the IdP is not registered with that organisation, and the flow is not found there',
    );
    t.ok(hooli);
  });

  const acs = await idpAnswers(w, victim, fake, upstream);
  const continueUrl = `${w.base}${acs.res.headers.location}`;

  t.test("another browser cannot continue the victim's flow", async (t) => {
    const attacker = new Browser(w.ta);
    const res = await attacker.get(continueUrl);
    t.equal(res.statusCode, 403);
    t.equal(codeOf(res.body), 'flow_browser_mismatch');
    t.notOk(formIn(res.body)?.fields.SAMLResponse);
  });

  t.test("the flow id on another organisation's host finds nothing", async (t) => {
    const res = await victim.get(continueUrl.replace(`piedpipers.`, 'hooli.'));
    t.equal(res.statusCode, 410);
  });

  t.test('a flow cannot be entered at a later stage by posting directly', async (t) => {
    const forged = await victim.get(`${w.base}/flow/not-a-flow/continue`);
    t.equal(forged.statusCode, 410);
    const chooser = await victim.post(`${w.base}/flow/${flowId}/idp`, { idpId: 'x' });
    t.equal(chooser.statusCode, 410, 'the chooser only works for a flow waiting at that stage');
  });

  t.test('the victim completes, once', async (t) => {
    const page = await victim.get(continueUrl);
    const { profile } = await appReceives(sp, page);
    t.equal(profile.nameID, 'ann@customer.example');
    t.equal((await victim.get(continueUrl)).statusCode, 410);
  });

  t.test('a response from a genuine IdP of another organisation is refused here', async (t) => {
    const hooliIdp = new FakeIdp({ entityId: 'https://hooli-idp.example' });
    await hooli.store.identityProviders.create({
      name: 'Hooli IdP',
      entityId: hooliIdp.entityId,
      ssoUrl: 'https://hooli-idp.example/sso',
      certificates: [hooliIdp.certificatePem],
      allowIdpInitiated: true,
    });
    const b = new Browser(w.ta);
    const s2 = await b.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const req = upstreamRequest(String(s2.headers.location));
    const samlResponse = await hooliIdp.response({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: req.id,
    });
    const res = await b.post(
      w.org.urls.spAcs,
      { SAMLResponse: samlResponse, RelayState: req.relayState },
      { crossSite: true },
    );
    t.equal(codeOf(res.body), 'saml_wrong_issuer');
    const audit = await w.org.store.audit.list({ type: 'login.upstream_rejected' });
    t.ok(
      audit.some((e) => e.code === 'saml_wrong_issuer'),
      'the rejection is audited with its code',
    );
  });
});
