// Both metadata documents of an organisation, fetched through HTTP, are valid SAML 2.0 metadata and carry the
// organisation's own endpoints and certificate.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { validateMetadata } from '../helpers/metadata-schema.ts';
import { parseIdpMetadata, parseSpMetadata } from '../../src/orgs/remote/metadata-import.ts';

t.test('metadata', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers', 'Pied & Pipers <Ltd>');
  await createOrg(ta.ctx, 'hooli', 'Hooli');
  const ppCert = (await pp.store.signingKeys.active())!.certificatePem;

  t.test('IdP metadata (for apps)', async (t) => {
    const res = await ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /application\/samlmetadata\+xml/);
    t.doesNotThrow(() => validateMetadata(res.body), 'valid against saml-schema-metadata-2.0.xsd');
    const m = parseIdpMetadata(res.body);
    t.equal(m.entityId, 'http://piedpipers.broker.test/saml/idp/metadata');
    t.equal(m.ssoUrl, 'http://piedpipers.broker.test/saml/idp/sso');
    t.equal(m.sloUrl, 'http://piedpipers.broker.test/saml/idp/slo');
    t.equal(new X509Certificate(m.certificates[0]).fingerprint256, new X509Certificate(ppCert).fingerprint256);
    t.match(
      res.body,
      /Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http:\/\/piedpipers\.broker\.test\/saml\/idp\/sso"/,
    );
    t.match(
      res.body,
      /Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http:\/\/piedpipers\.broker\.test\/saml\/idp\/sso"/,
    );
    t.match(res.body, /nameid-format:emailAddress/);
    t.match(res.body, /nameid-format:persistent/);
    t.match(res.body, /Pied &amp; Pipers &lt;Ltd&gt;/, 'the organisation name is escaped');
  });

  t.test('SP metadata (for upstream IdPs)', async (t) => {
    const res = await ta.request('piedpipers', { method: 'GET', url: '/saml/sp/metadata?download' });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-disposition'], /attachment; filename="piedpipers-sp-metadata.xml"/);
    t.doesNotThrow(() => validateMetadata(res.body), 'valid against saml-schema-metadata-2.0.xsd');
    const m = parseSpMetadata(res.body);
    t.equal(m.entityId, 'http://piedpipers.broker.test/saml/sp/metadata');
    t.same(m.acsUrls, ['http://piedpipers.broker.test/saml/sp/acs']);
    t.equal(m.wantAuthnRequestsSigned, true);
    t.equal(m.signAssertion, true, 'WantAssertionsSigned');
    t.equal(new X509Certificate(m.certificate!).fingerprint256, new X509Certificate(ppCert).fingerprint256);
    t.match(res.body, /KeyDescriptor use="encryption"/, 'IdPs can encrypt assertions to us');
  });

  t.test('SP metadata says AuthnRequestsSigned="true" only while every enabled IdP gets signed requests', async (t) => {
    const signed = async () =>
      /AuthnRequestsSigned="(\w+)"/.exec(
        (await ta.request('piedpipers', { method: 'GET', url: '/saml/sp/metadata' })).body,
      )?.[1];
    const idp = (name: string) => ({
      name,
      entityId: `https://${name}.idp.example`,
      ssoUrl: `https://${name}.idp.example/sso`,
      certificates: [ppCert],
    });
    const okta = await pp.store.identityProviders.create(idp('okta'));
    t.equal(okta.signRequests, true, 'an IdP gets signed requests by default');
    const legacy = await pp.store.identityProviders.create({ ...idp('legacy'), signRequests: false });
    t.equal(await signed(), 'false', 'one enabled IdP gets unsigned requests: not promised');
    await pp.store.identityProviders.update(legacy.id, { enabled: false });
    t.equal(await signed(), 'true', 'a disabled IdP gets no requests at all');
    await pp.store.identityProviders.update(legacy.id, { enabled: true, signRequests: true });
    t.equal(await signed(), 'true', 'every enabled IdP signed');
    t.equal(
      /AuthnRequestsSigned="(\w+)"/.exec(
        (await ta.request('hooli', { method: 'GET', url: '/saml/sp/metadata' })).body,
      )?.[1],
      'true',
      "another organisation's IdPs do not count",
    );
    await pp.store.identityProviders.update(okta.id, { signRequests: false });
    t.equal(await signed(), 'false');
    t.equal(
      /AuthnRequestsSigned="(\w+)"/.exec(
        (await ta.request('hooli', { method: 'GET', url: '/saml/sp/metadata' })).body,
      )?.[1],
      'true',
      "nor does this one's for another organisation",
    );
    await pp.store.identityProviders.delete(okta.id);
    await pp.store.identityProviders.delete(legacy.id);
  });

  t.test('each organisation publishes its own key', async (t) => {
    const a = parseIdpMetadata((await ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' })).body);
    const b = parseIdpMetadata((await ta.request('hooli', { method: 'GET', url: '/saml/idp/metadata' })).body);
    t.not(a.certificates[0], b.certificates[0]);
    t.equal(b.entityId, 'http://hooli.broker.test/saml/idp/metadata');
  });

  t.test('the root host has no metadata', async (t) => {
    const res = await ta.request(null, { method: 'GET', url: '/saml/idp/metadata' });
    t.equal(res.statusCode, 404);
  });

  t.test('an invalid document is caught by the schema check', async (t) => {
    const res = await ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' });
    t.throws(
      () => validateMetadata(res.body.replace('<md:NameIDFormat>', '<md:Bogus/><md:NameIDFormat>')),
      /not expected/,
    );
  });
});
