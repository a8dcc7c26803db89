// Interop: pysaml2 as a downstream SP (an app of the broker), registered from its own metadata, signing its
// AuthnRequests with its defaults, RSA-SHA1 and SHA-1 digests. Refused unless the app allows SHA-1; then accepted in
// both bindings, audited, and pysaml2 accepts the broker's Response.
import t from 'tap';
import { buildIdpMetadata } from '../../src/orgs/hosted/metadata-routes.ts';
import { parseSpMetadata } from '../../src/orgs/remote/metadata-import.ts';
import { saveApplication } from '../../src/orgs/remote/registrations.ts';
import { applicationFromSpMetadata } from '../../src/orgs/remote/sp-metadata-input.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { pysaml2Sp } from '../helpers/pysaml2.ts';
import { createWorld, idpAnswers } from '../helpers/sso-world.ts';

const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
type PysamlRequest = { id: string; url?: string; action?: string; fields?: Record<string, string> };

t.test('pysaml2 SP signing with RSA-SHA1 (its default)', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] }); // Okta vouches for ann's domain: she is linked by email
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const key = generateSigningCredential('pysaml2-sp');
  const sp = { entityId: 'https://pysaml2.sp.example', keyPem: key.privateKeyPem, certPem: key.certificatePem };
  const { metadata } = pysaml2Sp<{ metadata: string }>({ command: 'metadata', ...sp });
  const app = await saveApplication(w.org.store, {
    name: 'pysaml2 app',
    ...applicationFromSpMetadata(parseSpMetadata(metadata)),
    primaryIdpId: idp.id,
  });
  t.equal(app.wantAuthnRequestsSigned, true, 'its metadata says AuthnRequestsSigned: we check its signatures');
  t.equal(app.allowSha1, false, 'SHA-1 is not allowed by default');
  const idpMetadata = await buildIdpMetadata({
    org: (await w.ta.ctx.store.organizations.findById(w.org.org.id))!,
    store: w.org.store,
    urls: w.org.urls,
  });

  /** pysaml2's signed request, sent to the broker in `binding` from a new browser (no broker session yet). */
  const send = async (binding: 'redirect' | 'post') => {
    const browser = new Browser(w.ta);
    const req = pysaml2Sp<PysamlRequest>({
      command: 'request',
      ...sp,
      idpMetadata,
      binding,
      relayState: `rs-${binding}`,
    });
    if (binding === 'redirect')
      t.match(req.url!, `SigAlg=${encodeURIComponent(RSA_SHA1)}`, 'pysaml2 signs with RSA-SHA1');
    else
      t.match(
        Buffer.from(req.fields!.SAMLRequest, 'base64').toString(),
        `SignatureMethod Algorithm="${RSA_SHA1}"`,
        'pysaml2 signs with RSA-SHA1',
      );
    return {
      id: req.id,
      browser,
      res: binding === 'redirect' ? await browser.get(req.url!) : await browser.post(req.action!, req.fields!),
    };
  };

  for (const binding of ['redirect', 'post'] as const) {
    const { res } = await send(binding);
    t.equal(res.statusCode, 400, `${binding}: refused`);
    t.equal(codeOf(res.body), 'saml_weak_algorithm');
    t.match(res.body, 'Apps → pysaml2 app → Accept RSA-SHA1 signatures', 'the page names the setting');
    t.match(res.body, `--app ${app.id} --allow-sha1`);
  }

  await w.org.store.applications.update(app.id, { allowSha1: true });
  for (const binding of ['redirect', 'post'] as const) {
    const { id, res, browser } = await send(binding);
    t.equal(res.statusCode, 302, `${binding}: accepted, on to the IdP`);
    const acs = await idpAnswers(w, browser, fake, String(res.headers.location));
    const { res: page } = await browser.follow(acs.res, w.base);
    const form = formIn(page.body)!;
    t.equal(form.action, 'https://pysaml2.sp.example/acs');
    t.equal(form.fields.RelayState, `rs-${binding}`);
    const seen = pysaml2Sp<{ nameId: string; issuer: string }>({
      command: 'response',
      ...sp,
      idpMetadata,
      samlResponse: form.fields.SAMLResponse,
      requestId: id,
    });
    t.equal(seen.nameId, 'ann@customer.example', `${binding}: pysaml2 accepts our Response`);
    t.equal(seen.issuer, w.org.urls.idpEntityId);
  }
  const audits = (await w.org.store.audit.list({ type: 'login.sha1_request_accepted' })).reverse();
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
    'each SHA-1 request accepted is audited',
  );
});
