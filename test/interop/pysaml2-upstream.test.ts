// Interop: the upstream IdP is pysaml2 (Debian's python3-pysaml2), an implementation we did not write; the app is
// @node-saml/node-saml. The broker sits between them.
import t from 'tap';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { buildSpMetadata } from '../../src/orgs/hosted/metadata-routes.ts';
import { Browser } from '../helpers/browser.ts';
import { pysaml2Idp } from '../helpers/pysaml2.ts';
import { appReceives, createWorld } from '../helpers/sso-world.ts';

const pysaml2 = (input: object) =>
  pysaml2Idp<{ samlResponse: string; destination: string; inResponseTo: string | null }>(input);

for (const profile of ['okta', 'wso2'] as const) {
  t.test(`pysaml2 IdP (${profile} attribute names) → broker → node-saml app`, async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const key = generateSigningCredential('pysaml2-idp');
    const entityId = 'https://pysaml2.idp.example';
    await saveIdentityProvider(w.org.store, {
      name: 'pysaml2',
      entityId,
      ssoUrl: `${entityId}/sso`,
      certificates: [key.certificatePem],
      mappingPreset: profile,
      wantResponseSigned: true,
      allowIdpInitiated: true,
    });
    const { app, sp } = await w.addApp('Jira');
    await w.ta.ctx.store.organizations.update(w.org.org.id, { jitProvisioning: true });
    const tenant = {
      org: (await w.ta.ctx.store.organizations.findById(w.org.org.id))!,
      store: w.org.store,
      urls: w.org.urls,
    };
    const spMetadata = await buildSpMetadata(tenant);
    const user = {
      email: 'carol@customer.example',
      firstName: 'Carol',
      lastName: 'Diaz',
      groups: ['jira-customers', 'beta'],
    };

    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('portal', undefined, {}));
    const upstream = new URL(String(start.headers.location));
    const answer = pysaml2({
      entityId,
      keyPem: key.privateKeyPem,
      certPem: key.certificatePem,
      spMetadata,
      samlRequest: upstream.searchParams.get('SAMLRequest'),
      user,
      profile,
    });
    t.equal(answer.destination, w.org.urls.spAcs, 'pysaml2 read our AuthnRequest and answers our ACS');
    const acs = await browser.post(
      w.org.urls.spAcs,
      { SAMLResponse: answer.samlResponse, RelayState: upstream.searchParams.get('RelayState')! },
      { crossSite: true },
    );
    t.equal(acs.statusCode, 303, "the broker accepted pysaml2's response");
    const { res } = await browser.follow(acs, w.base);
    const { form, profile: p } = await appReceives(sp, res);
    t.equal(p.nameID, 'carol@customer.example');
    t.equal(p.firstName, 'Carol');
    t.same(p.groups, ['jira-customers', 'beta']);
    t.equal(form.fields.RelayState, 'portal');

    t.test('unsolicited pysaml2 response (IdP-initiated) to the default app', async (t) => {
      await w.org.store.identityProviders.update((await w.org.store.identityProviders.findByEntityId(entityId))!.id, {
        defaultAppId: app.id,
      });
      const b = new Browser(w.ta);
      const unsolicited = pysaml2({
        entityId,
        keyPem: key.privateKeyPem,
        certPem: key.certificatePem,
        spMetadata,
        samlRequest: null,
        acsUrl: w.org.urls.spAcs,
        user,
        profile,
      });
      const r = await b.post(w.org.urls.spAcs, { SAMLResponse: unsolicited.samlResponse }, { crossSite: true });
      const { res: page } = await b.follow(r, w.base);
      const { profile: p2 } = await appReceives(w.nodeSaml(app, 'never'), page);
      t.equal(p2.nameID, 'carol@customer.example');
    });

    t.test('pysaml2 response signed by a key that is not the registered one is refused', async (t) => {
      const rogue = generateSigningCredential('rogue');
      const b = new Browser(w.ta);
      const s = await b.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
      const u = new URL(String(s.headers.location));
      const forged = pysaml2({
        entityId,
        keyPem: rogue.privateKeyPem,
        certPem: rogue.certificatePem,
        spMetadata,
        samlRequest: u.searchParams.get('SAMLRequest'),
        user,
        profile,
      });
      const r = await b.post(
        w.org.urls.spAcs,
        { SAMLResponse: forged.samlResponse, RelayState: u.searchParams.get('RelayState')! },
        { crossSite: true },
      );
      t.equal(r.statusCode, 400);
      t.match(r.body, /saml_untrusted_certificate/);
    });
  });
}
