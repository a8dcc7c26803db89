// "Test connection" end to end: the admin starts a real login against the (fake) IdP from the console, the IdP
// answers at the normal ACS, and a result page for that admin's browser shows what came back or a diagnosis.
// Nothing is provisioned: no user, no link, no broker session, no response to any app.
import type { LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { certificateFingerprint, generateSigningCredential } from '../../src/saml/certificates.ts';
import { buildErrorResponse } from '../../src/saml/downstream/response.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { createTestApp } from '../helpers/app.ts';
import { FakeIdp, OKTA_ATTRIBUTES } from '../helpers/fake-idp.ts';
import { upstreamRequest } from '../helpers/sso-world.ts';

const browserCookieOf = (res: LightMyRequestResponse) =>
  (res.cookies as { name: string; value: string }[]).find((c) => c.name === 'broker_browser')?.value;

t.test('test connection', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const store = ta.ctx.store.forOrg(admin.orgId);
  const spAcs = `http://piedpipers.${ta.config.baseDomain}/saml/sp/acs`;
  const spEntityId = `http://piedpipers.${ta.config.baseDomain}/saml/sp/metadata`;
  const fake = new FakeIdp({ entityId: 'https://okta.example/test' });
  const idp = await saveIdentityProvider(store, {
    name: 'Okta',
    entityId: fake.entityId,
    ssoUrl: 'https://okta.example/test/sso',
    certificates: [fake.certificatePem],
    mappingPreset: 'okta',
  });

  /** Starts the test as the admin, lets the IdP answer with `answer(requestId)`, and opens the result page. */
  async function runTest(
    t: Test,
    answer: (requestId: string) => Promise<string>,
    opts: { idpId?: string; beforeAcs?: () => void } = {},
  ) {
    ta.clock.advance(1000); // each test's audit row gets its own instant, so "newest first" is deterministic
    const start = await admin.post(`/admin/idps/${opts.idpId ?? idp.id}/test`);
    t.equal(start.statusCode, 302, 'the browser goes to the IdP');
    const req = upstreamRequest(start.headers.location as string);
    t.equal(req.ssoUrl, 'https://okta.example/test/sso');
    t.match(req.xml, `AssertionConsumerServiceURL="${spAcs}"`, 'the same AuthnRequest as a login');
    // Bound to the admin's browser: the cookie is set by this answer, or (a browser that tested before) already held.
    const browser = browserCookieOf(start) ?? /(?:^|; )broker_browser=([^;]+)/.exec(admin.cookie())?.[1];
    t.ok(browser, "the admin's browser is bound to the test");
    const samlResponse = await answer(req.id);
    opts.beforeAcs?.();
    // The IdP's cross-site POST carries no cookie.
    const acs = await ta.request('piedpipers', {
      method: 'POST',
      url: '/saml/sp/acs',
      payload: { SAMLResponse: samlResponse, RelayState: req.relayState },
    });
    t.equal(acs.statusCode, 303);
    t.notOk(
      (acs.cookies as { name: string }[]).some((c) => c.name === 'broker_session'),
      'no broker session cookie',
    );
    const resultUrl = acs.headers.location as string;
    t.match(resultUrl, /^\/flow\/[\w-]+\/test-result$/);
    const result = await ta.request('piedpipers', {
      method: 'GET',
      url: resultUrl,
      headers: { cookie: `broker_browser=${browser}` },
    });
    return { result, resultUrl, browser, samlResponse, relayState: req.relayState };
  }
  const valid = (requestId: string, extra: Partial<Parameters<FakeIdp['response']>[0]> = {}) =>
    fake.response({
      acsUrl: spAcs,
      audience: spEntityId,
      inResponseTo: requestId,
      now: ta.clock.now(),
      nameId: 'ann@customer.example',
      attributes: OKTA_ATTRIBUTES('Ann@Customer.example', ['jira-customers', 'beta']),
      ...extra,
    });

  t.test('success: NameID, attributes, mapped profile, SessionIndex; nothing provisioned', async (t) => {
    const { result, resultUrl, browser, samlResponse, relayState } = await runTest(t, (id) => valid(id));
    t.equal(result.statusCode, 200);
    t.match(result.body, /Test connection: success/);
    t.match(result.body, /<code>ann@customer\.example<\/code>/);
    t.match(result.body, /urn:oasis:names:tc:SAML:1\.1:nameid-format:emailAddress/);
    t.match(result.body, /_idp_session_1/);
    t.match(result.body, /<code>Email<\/code><\/td><td>Ann@Customer\.example/, 'attributes as received');
    t.match(result.body, /<code>groups<\/code><\/td><td>jira-customers, beta/);
    t.match(result.body, /<th scope="row">Email<\/th><td>ann@customer\.example/, 'the mapped profile');
    t.match(result.body, /<th scope="row">First name<\/th><td>Ann/);
    t.match(result.body, /<th scope="row">Groups<\/th><td>jira-customers, beta/);

    t.equal(await ta.ctx.store.db.user.count(), 0, 'no user created');
    t.equal(await ta.ctx.store.db.userIdentity.count(), 0, 'no identity link');
    t.equal(await ta.ctx.store.db.brokerSession.count(), 0, 'no broker session');
    const audit = await store.audit.list({ type: 'idp.test_connection' });
    t.match(audit[0], { outcome: 'success', actor: admin.email, idpId: idp.id });

    const stranger = await ta.request('piedpipers', { method: 'GET', url: resultUrl });
    t.equal(stranger.statusCode, 404, 'a browser without the binding sees nothing');
    const other = await ta.request('piedpipers', {
      method: 'GET',
      url: resultUrl,
      headers: { cookie: `broker_browser=${'x'.repeat(43)}` },
    });
    t.equal(other.statusCode, 404, 'nor does another browser');
    const elsewhere = await ta.request('hooli', {
      method: 'GET',
      url: resultUrl,
      headers: { cookie: `broker_browser=${browser}` },
    });
    t.equal(elsewhere.statusCode, 404, "nor another organisation's host");
    const flowId = resultUrl.split('/')[2];
    const cont = await ta.request('piedpipers', {
      method: 'GET',
      url: `/flow/${flowId}/continue`,
      headers: { cookie: `broker_browser=${browser}` },
    });
    t.equal(cont.statusCode, 410, 'a test flow cannot be continued into a login');

    const replay = await ta.request('piedpipers', {
      method: 'POST',
      url: '/saml/sp/acs',
      payload: { SAMLResponse: samlResponse, RelayState: relayState },
    });
    t.equal(replay.statusCode, 400, 'the response cannot be replayed into a login');
    t.equal(await ta.ctx.store.db.user.count(), 0);
  });

  t.test('wrong audience: expected and received', async (t) => {
    const { result } = await runTest(t, (id) => valid(id, { audience: 'https://someone-else.example/sp' }));
    t.equal(result.statusCode, 200);
    t.match(result.body, /Test connection failed: Audience mismatch/);
    t.match(result.body, new RegExp(`<code>${spEntityId.replace(/\./g, '\\.')}</code>`));
    t.match(result.body, /<code>https:\/\/someone-else\.example\/sp<\/code>/);
    t.match(result.body, /Error code: <code>saml_wrong_audience<\/code>/);
    t.match((await store.audit.list({ type: 'idp.test_connection' }))[0], {
      outcome: 'failure',
      code: 'saml_wrong_audience',
    });
  });

  t.test('signed by another key: both fingerprints', async (t) => {
    const rogue = generateSigningCredential('rogue');
    const { result } = await runTest(t, (id) => valid(id, { signWith: rogue }));
    t.match(result.body, /Signed with a certificate that is not registered/);
    t.match(
      result.body,
      certificateFingerprint(rogue.certificatePem),
      'the fingerprint of the certificate that signed',
    );
    t.match(result.body, certificateFingerprint(fake.certificatePem), 'the fingerprint of the registered one');
    t.match(result.body, /saml_untrusted_certificate/);
  });

  t.test('clock skew: the IdP ahead, then a response that arrives late', async (t) => {
    const ahead = await runTest(t, (id) => valid(id, { now: new Date(ta.clock.now().getTime() + 600_000) }));
    t.match(ahead.result.body, /Test connection failed: Clock skew/);
    t.match(
      ahead.result.body,
      /ahead of this server&#39;s by about 600 seconds|ahead of this server's by about 600 seconds/,
    );
    t.match(ahead.result.body, /<code>\+600 seconds<\/code>/);
    t.match(ahead.result.body, /saml_not_yet_valid/);

    const late = await runTest(t, (id) => valid(id), { beforeAcs: () => ta.clock.advance(420_000) });
    t.match(late.result.body, /Clock skew/);
    t.match(late.result.body, /issued 420 seconds before this server received it/);
    t.match(late.result.body, /<code>−420 seconds<\/code>/);
    t.match(late.result.body, /saml_expired/);
  });

  t.test('the IdP refuses the sign-in: its status, explained', async (t) => {
    const { result } = await runTest(
      t,
      async (id) =>
        buildErrorResponse({
          idp: {
            entityId: fake.entityId,
            signingKeyPem: fake.credential.privateKeyPem,
            certificatePem: fake.certificatePem,
          },
          acsUrl: spAcs,
          appEntityId: spEntityId,
          inResponseTo: id,
          status: 'Responder',
          subStatus: 'AuthnFailed',
          message: 'Wrong password',
          now: ta.clock.now(),
        }).samlResponse,
    );
    t.match(result.body, /The identity provider refused the sign-in \(AuthnFailed\)/);
    t.match(result.body, /could not be authenticated/);
    t.match(result.body, /Wrong password/);
  });

  t.test('a disabled IdP can be tested before it is enabled; users still cannot use it', async (t) => {
    await store.identityProviders.update(idp.id, { enabled: false });
    const { result } = await runTest(t, (id) => valid(id));
    t.match(result.body, /Test connection: success/);
    t.equal(await ta.ctx.store.db.user.count(), 0);
  });

  t.test('the result disappears when the admin signs out', async (t) => {
    const { result, resultUrl, browser } = await runTest(t, (id) => valid(id));
    t.equal(result.statusCode, 200);
    await admin.post('/admin/logout');
    const after = await ta.request('piedpipers', {
      method: 'GET',
      url: resultUrl,
      headers: { cookie: `broker_browser=${browser}` },
    });
    t.equal(after.statusCode, 404);
  });
});
