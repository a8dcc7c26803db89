// Upstream IdPs that answer our LogoutRequest with an UNSIGNED LogoutResponse (SimpleSAMLphp's default, Entra ID).
// Refused by default, the refusal naming the setting; with acceptUnsignedLogoutResponse on, accepted only as the
// answer to the request we sent that IdP: its Issuer, our Destination, the stored InResponseTo, once. A bad signature
// is never read as "unsigned", and a LogoutRequest from an IdP is never accepted unsigned.
import t from 'tap';
import { SAML } from '@node-saml/node-saml';
import { inflateRawSync } from 'node:zlib';
import { encodeOutgoing, type Binding } from '../../src/saml/bindings.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { logoutRequestXml, logoutResponseXml } from '../../src/saml/logout.ts';
import { Browser } from '../helpers/browser.ts';
import { appReceives, createWorld, idpAnswers } from '../helpers/sso-world.ts';

const ANN = 'ann@customer.example';
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const paramsOf = (url: string) => Object.fromEntries(new URL(url).searchParams);

/** Ann signed in to Jira through Okta; Jira logs out; the chain's only hop is Okta. Returns what Okta was sent. */
async function loggingOut(opts: { acceptUnsigned: boolean }) {
  const w = await createWorld();
  const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  await w.org.store.identityProviders.update(idp.id, {
    sloUrl: 'https://okta.idp.example/slo',
    acceptUnsignedLogoutResponse: opts.acceptUnsigned,
  });
  const jiraKey = generateSigningCredential('jira');
  const { app } = await w.addApp('Jira', {
    primaryIdpId: idp.id,
    sloUrl: 'https://jira.example/slo',
    certificate: jiraKey.certificatePem,
  });
  const jira = new SAML({
    ...(w.nodeSaml(app) as unknown as { options: object }).options,
    logoutUrl: w.org.urls.idpSlo,
    signatureAlgorithm: 'sha256',
    privateKey: jiraKey.privateKeyPem,
  } as never);
  await w.org.store.users.create({ email: ANN, source: 'imported' });
  const browser = new Browser(w.ta);
  const start = await browser.get(await jira.getAuthorizeUrlAsync('', undefined, {}));
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
  const { profile } = await appReceives(jira, (await browser.follow(acs.res, w.base)).res);
  const chain = String((await browser.get(await jira.getLogoutUrlAsync(profile, 'back-to-jira', {}))).headers.location);
  await browser.get(w.base + chain);
  const toIdp = String((await browser.get(`${w.base}${chain}/hop`)).headers.location);
  const requestId = /ID="([^"]+)"/.exec(
    inflateRawSync(Buffer.from(paramsOf(toIdp).SAMLRequest, 'base64')).toString(),
  )![1];
  /** Okta's LogoutResponse, unsigned unless `signWith` is given, with fields overridden. */
  const answer = (
    o: {
      binding?: Binding;
      issuer?: string;
      destination?: string | null;
      inResponseTo?: string;
      relayState?: string | null;
      signWith?: ReturnType<typeof generateSigningCredential>;
    } = {},
  ) => {
    const built = logoutResponseXml({
      issuer: o.issuer ?? fake.entityId,
      destination: o.destination ?? w.org.urls.spSlo,
      now: w.ta.clock.now(),
      inResponseTo: o.inResponseTo ?? requestId,
      status: 'Success',
    });
    const xml = o.destination === null ? built.xml.replace(/ Destination="[^"]*"/, '') : built.xml;
    const sent = encodeOutgoing({
      xml,
      id: built.id,
      param: 'SAMLResponse',
      destination: w.org.urls.spSlo,
      binding: o.binding ?? 'redirect',
      relayState: o.relayState === undefined ? paramsOf(toIdp).RelayState : o.relayState,
      ...(o.signWith && { signer: { keyPem: o.signWith.privateKeyPem, certificatePem: o.signWith.certificatePem } }),
    });
    return sent.binding === 'redirect' ? browser.get(sent.url) : browser.post(sent.url, sent.fields);
  };
  return { w, fake, idp, browser, chain, answer, requestId };
}

t.test('unsigned LogoutResponse, setting off: refused, naming the setting; the chain ends PartialLogout', async (t) => {
  const { w, idp, browser, chain, answer } = await loggingOut({ acceptUnsigned: false });
  t.teardown(w.ta.cleanup);
  const res = await answer();
  t.equal(res.statusCode, 400);
  t.equal(codeOf(res.body), 'saml_unsigned');
  t.match(res.body, 'Identity providers → Okta → Accept unsigned LogoutResponses');
  t.match(res.body, `npm run cli -- idp update --org piedpipers --idp ${idp.id} --accept-unsigned-logout-response`);
  t.equal((await w.org.store.audit.list({ type: 'logout.rejected' }))[0].code, 'saml_unsigned');
  w.ta.clock.advance(w.ta.config.sloHopTimeoutSeconds * 1000);
  const final = await browser.get(w.base + chain);
  t.match(
    inflateRawSync(Buffer.from(paramsOf(String(final.headers.location)).SAMLResponse, 'base64')).toString(),
    /PartialLogout/,
    'Okta counts as not logged out',
  );
});

for (const binding of ['redirect', 'post'] as const) {
  t.test(`unsigned LogoutResponse (${binding}), setting on: only the answer to our request, once`, async (t) => {
    const { w, idp, browser, chain, answer, requestId } = await loggingOut({ acceptUnsigned: true });
    t.teardown(w.ta.cleanup);
    const other = await w.addIdp('Entra');
    await w.org.store.identityProviders.update(other.idp.id, { acceptUnsignedLogoutResponse: true });

    t.equal(
      codeOf((await answer({ binding, inResponseTo: '_not_our_request' })).body),
      'saml_wrong_in_response_to',
      'another InResponseTo',
    );
    t.equal(
      codeOf((await answer({ binding, relayState: null })).body),
      'saml_wrong_in_response_to',
      'no RelayState: no chain to answer',
    );
    t.equal(
      codeOf((await answer({ binding, destination: 'https://elsewhere.example/slo' })).body),
      'saml_wrong_destination',
      'another Destination',
    );
    t.equal(codeOf((await answer({ binding, destination: null })).body), 'saml_wrong_destination', 'no Destination');
    t.equal(
      codeOf((await answer({ binding, issuer: other.fake.entityId })).body),
      'saml_wrong_issuer',
      'another registered IdP',
    );
    t.equal(
      codeOf((await answer({ binding, issuer: 'https://unknown.idp.example' })).body),
      'saml_wrong_issuer',
      'an unregistered Issuer',
    );
    t.equal(
      codeOf((await answer({ binding, signWith: generateSigningCredential('rogue') })).body),
      'saml_bad_signature',
      'a bad signature is not read as unsigned',
    );
    t.same(await w.org.store.audit.list({ type: 'logout.unsigned_response_accepted' }), [], 'nothing accepted so far');

    const ok = await answer({ binding });
    t.equal(ok.statusCode, 200, 'the answer to our request is accepted');
    t.match(ok.body, /window\.top\.location\.replace/);
    const accepted = await w.org.store.audit.list({ type: 'logout.unsigned_response_accepted' });
    t.same(
      accepted.map((a) => [a.idpId, (a.details as { inResponseTo: string }).inResponseTo]),
      [[idp.id, requestId]],
    );
    t.equal(
      codeOf((await answer({ binding })).body),
      'saml_wrong_in_response_to',
      'the same answer again changes nothing',
    );

    const final = await browser.get(w.base + chain);
    const xml = inflateRawSync(Buffer.from(paramsOf(String(final.headers.location)).SAMLResponse, 'base64')).toString();
    t.match(
      xml,
      '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>',
      'Jira hears Success, not PartialLogout',
    );
  });
}

t.test('setting on: a LogoutRequest from the IdP is still refused unsigned', async (t) => {
  const { w, fake, browser } = await loggingOut({ acceptUnsigned: true });
  t.teardown(w.ta.cleanup);
  const request = logoutRequestXml({
    issuer: fake.entityId,
    destination: w.org.urls.spSlo,
    now: w.ta.clock.now(),
    nameId: ANN,
    sessionIndex: '_idp_session_1',
  });
  const res = await browser.get(
    encodeOutgoing({
      ...request,
      param: 'SAMLRequest',
      destination: w.org.urls.spSlo,
      binding: 'redirect',
      relayState: null,
    }).url,
  );
  t.equal(res.statusCode, 400);
  t.equal(codeOf(res.body), 'saml_request_unsigned');
});
