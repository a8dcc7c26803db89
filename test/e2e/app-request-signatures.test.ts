// Apps' signed AuthnRequests as real SPs send them (node-saml here; pysaml2 in test/interop): RSA-SHA1 refused unless
// the app allows it (and then audited), and a signed request POSTed DEFLATE-compressed (node-saml's HTTP-POST
// binding does that) accepted within the size limit.
import t from 'tap';
import { deflateRawSync } from 'node:zlib';
import { SAML } from '@node-saml/node-saml';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { signXml } from '../../src/saml/signature/sign.ts';
import { Browser } from '../helpers/browser.ts';
import { createWorld, type World } from '../helpers/sso-world.ts';
import type { Application } from '../../src/store/applications.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';

async function setup() {
  const w = await createWorld();
  await w.addIdp('Okta');
  const appKey = generateSigningCredential('jira-sp');
  const { app } = await w.addApp('Jira', { certificate: appKey.certificatePem, wantAuthnRequestsSigned: true });
  return { w, app, appKey, browser: new Browser(w.ta) };
}

/** node-saml as the app, signing with `hash` (signature and digest). */
function signingSp(w: World, app: Application, keyPem: string, hash: 'sha1' | 'sha256') {
  return new SAML({
    ...(w.nodeSaml(app) as unknown as { options: object }).options,
    privateKey: keyPem,
    signatureAlgorithm: hash,
    digestAlgorithm: hash,
  } as never);
}

const sha1Audits = async (w: World) => w.org.store.audit.list({ type: 'login.sha1_request_accepted' });

t.test(
  'RSA-SHA1 requests: refused by default, with the setting that changes it; accepted and audited once allowed',
  async (t) => {
    const { w, app, appKey, browser } = await setup();
    t.teardown(w.ta.cleanup);
    const sp = signingSp(w, app, appKey.privateKeyPem, 'sha1');
    const post = async () =>
      browser.post(
        `${w.base}/saml/idp/sso`,
        (await sp.getAuthorizeMessageAsync('r', undefined, {})) as Record<string, string>,
      );

    const redirect = await browser.get(await sp.getAuthorizeUrlAsync('r', undefined, {}));
    t.equal(redirect.statusCode, 400);
    t.equal(codeOf(redirect.body), 'saml_weak_algorithm', 'HTTP-Redirect, SigAlg rsa-sha1');
    t.match(redirect.body, 'An administrator can allow SHA-1 for this app: Apps → Jira → Accept RSA-SHA1 signatures');
    t.match(redirect.body, `npm run cli -- app update --org piedpipers --app ${app.id} --allow-sha1`);
    t.notOk(redirect.headers.location, 'nothing is sent to the IdP');
    const posted = await post();
    t.equal(codeOf(posted.body), 'saml_weak_algorithm', 'HTTP-POST, embedded rsa-sha1 signature');
    t.match(posted.body, 'Accept RSA-SHA1 signatures');
    t.same(await sha1Audits(w), [], 'nothing accepted, nothing audited as accepted');

    await w.org.store.applications.update(app.id, { allowSha1: true });
    const redirectOk = await browser.get(await sp.getAuthorizeUrlAsync('r', undefined, {}));
    t.equal(redirectOk.statusCode, 302, 'HTTP-Redirect with SHA-1 goes on to the IdP');
    const postOk = await post();
    t.equal(postOk.statusCode, 302, 'HTTP-POST with SHA-1 goes on to the IdP');
    const audits = (await sha1Audits(w)).reverse();
    t.equal(audits.length, 2, 'each accepted SHA-1 request is audited');
    t.same(
      audits.map((a) => [
        a.appId,
        (a.details as { algorithm: string }).algorithm,
        (a.details as { binding: string }).binding,
      ]),
      [
        [app.id, RSA_SHA1, 'redirect'],
        [app.id, RSA_SHA1, 'post'],
      ],
    );

    t.test('allowing SHA-1 does not loosen the signature check itself', async (t) => {
      const wrongKey = signingSp(w, app, generateSigningCredential('other').privateKeyPem, 'sha1');
      t.equal(
        codeOf((await browser.get(await wrongKey.getAuthorizeUrlAsync('r', undefined, {}))).body),
        'saml_request_bad_signature',
      );
      const modern = signingSp(w, app, appKey.privateKeyPem, 'sha256');
      const before = (await sha1Audits(w)).length;
      t.equal((await browser.get(await modern.getAuthorizeUrlAsync('r', undefined, {}))).statusCode, 302);
      t.equal((await sha1Audits(w)).length, before, 'an RSA-SHA256 request is not audited as SHA-1');
    });
  },
);

t.test("the same setting covers the app's RSA-SHA1 LogoutRequests", async (t) => {
  const { w, app, appKey, browser } = await setup();
  t.teardown(w.ta.cleanup);
  await w.org.store.applications.update(app.id, { sloUrl: 'https://jira.example/slo' });
  const sp = new SAML({
    ...(signingSp(w, app, appKey.privateKeyPem, 'sha1') as unknown as { options: object }).options,
    logoutUrl: w.org.urls.idpSlo,
  } as never);
  const logoutUrl = () =>
    sp.getLogoutUrlAsync(
      {
        issuer: app.entityId,
        nameID: 'ann@customer.example',
        nameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        sessionIndex: '_no_such_session',
      } as never,
      '',
      {},
    );
  t.equal(codeOf((await browser.get(await logoutUrl())).body), 'saml_weak_algorithm', 'refused by default');
  await w.org.store.applications.update(app.id, { allowSha1: true });
  const res = await browser.get(await logoutUrl());
  t.equal(res.statusCode, 302, 'allowed: read and answered (no such session: UnknownPrincipal)');
  t.match(String(res.headers.location), /^https:\/\/jira\.example\/slo\?SAMLResponse=/);
});

t.test('a signed AuthnRequest POSTed DEFLATE-compressed', async (t) => {
  const { w, app, appKey, browser } = await setup();
  t.teardown(w.ta.cleanup);

  t.test("accepted within the size limit (node-saml's HTTP-POST binding compresses)", async (t) => {
    const message = (await signingSp(w, app, appKey.privateKeyPem, 'sha256').getAuthorizeMessageAsync(
      'r',
      undefined,
      {},
    )) as Record<string, string>;
    t.notOk(
      Buffer.from(message.SAMLRequest, 'base64').toString('latin1').trimStart().startsWith('<'),
      'the request is compressed',
    );
    const res = await browser.post(`${w.base}/saml/idp/sso`, message);
    t.equal(res.statusCode, 302, 'goes on to the IdP');
    t.match(String(res.headers.location), /^https:\/\/okta\.idp\.example\/sso\?SAMLRequest=/);
  });

  t.test('a signed request that inflates beyond MAX_SAML_MESSAGE_BYTES: saml_too_large', async (t) => {
    const limit = w.ta.config.maxSamlMessageBytes;
    const id = '_bomb1';
    const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${w.base}/saml/idp/sso"><saml:Issuer>${app.entityId}</saml:Issuer><samlp:Extensions><pad xmlns="urn:example:pad">${'a'.repeat(limit + 1)}</pad></samlp:Extensions></samlp:AuthnRequest>`;
    const bomb = deflateRawSync(
      signXml(xml, id, { keyPem: appKey.privateKeyPem, certificatePem: appKey.certificatePem }),
    ).toString('base64');
    t.ok(bomb.length < limit / 50, 'small on the wire');
    const res = await browser.post(`${w.base}/saml/idp/sso`, { SAMLRequest: bomb });
    t.equal(res.statusCode, 400);
    t.equal(codeOf(res.body), 'saml_too_large');
  });

  t.test('neither XML nor DEFLATE data: saml_malformed', async (t) => {
    const garbage = Buffer.from('this is not deflate data, and not XML either').toString('base64');
    t.equal(codeOf((await browser.post(`${w.base}/saml/idp/sso`, { SAMLRequest: garbage })).body), 'saml_malformed');
  });
});
