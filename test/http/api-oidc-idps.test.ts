// POST /api/idps/oidc through HTTP: an OpenID Connect IdP registered from its issuer URL (the discovery document
// fetched from a real OP on loopback), the secret sealed and never shown, the redirect URI in the answer, the audit
// line; refusals: a private address without METADATA_ALLOW_PRIVATE, a document for another issuer, no secret.
import t from 'tap';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { startForgingOp } from '../helpers/oidc-op.ts';

for (const allowPrivate of [true, false]) {
  t.test(`admin API: OpenID Connect identity providers (METADATA_ALLOW_PRIVATE=${allowPrivate})`, async (t) => {
    const ta = await createTestApp({ env: { METADATA_ALLOW_PRIVATE: String(allowPrivate) } });
    t.teardown(ta.cleanup);
    const pp = await createOrg(ta.ctx, 'piedpipers');
    const op = await startForgingOp();
    t.teardown(op.close);
    const { token } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
    const api = (payload: object) =>
      ta.request('piedpipers', {
        method: 'POST',
        url: '/api/idps/oidc',
        headers: { authorization: `Bearer ${token}` },
        payload,
      });
    const body = {
      name: 'Okta OIDC',
      issuer: op.issuer,
      clientId: 'broker',
      clientSecret: 's3cret-value',
      mappingPreset: 'oidc-okta',
      emailDomains: ['customer.example'],
    };

    if (!allowPrivate) {
      const res = await api(body);
      t.equal(res.statusCode, 400, res.body);
      t.match(
        res.json().error.details.fields.issuer,
        /private network/,
        'the discovery fetch keeps the metadata SSRF rules',
      );
      return;
    }
    const res = await api(body);
    t.equal(res.statusCode, 201, res.body);
    const idp = res.json();
    t.equal(idp.protocol, 'oidc');
    t.equal(idp.entityId, op.issuer);
    t.equal(idp.ssoUrl, `${op.issuer}/auth`);
    t.same(idp.oidc, {
      redirectUri: 'http://piedpipers.broker.test/oidc/callback',
      postLogoutRedirectUri: 'http://piedpipers.broker.test/oidc/logout-callback',
      initiateLoginUri: 'http://piedpipers.broker.test/oidc/initiate',
      jwksUri: 'http://piedpipers.broker.test/oidc/jwks.json',
      clientId: 'broker',
      clientAuth: 'client_secret_basic',
      hasClientSecret: true,
      scopes: 'openid email profile',
      userinfo: false,
      endSessionEndpoint: null,
    });
    t.notMatch(res.body, /s3cret-value/, 'the secret is never shown');
    const stored = (await pp.store.identityProviders.findById(idp.id))!;
    t.notMatch(stored.oidcClientSecret!, /s3cret-value/, 'and sealed at rest');
    t.equal(
      ta.ctx.box.open(stored.oidcClientSecret!, `oidc-client-secret:${pp.org.id}:${op.issuer}`).toString(),
      's3cret-value',
    );
    t.equal(stored.metadataUrl, `${op.issuer}/.well-known/openid-configuration`, 'refreshed like metadata');
    const audit = await pp.store.audit.list({ type: 'idp.created' } as never);
    t.match(JSON.stringify(audit), /"protocol":"oidc"/, 'audited with its protocol');

    const refresh = await ta.request('piedpipers', {
      method: 'POST',
      url: `/api/idps/${idp.id}/refresh-metadata`,
      headers: { authorization: `Bearer ${token}` },
    });
    t.match(
      refresh.json(),
      { status: 'updated', changes: null, idp: { metadataError: null, ssoUrl: `${op.issuer}/auth` } },
      'the discovery document is refreshed like metadata',
    );

    const patched = await ta.request('piedpipers', {
      method: 'PATCH',
      url: `/api/idps/${idp.id}`,
      headers: { authorization: `Bearer ${token}` },
      payload: { name: 'Okta', emailDomains: ['customer.example', 'sub.customer.example'] },
    });
    t.equal(patched.statusCode, 200, patched.body);
    t.match(
      patched.json(),
      { name: 'Okta', protocol: 'oidc', oidc: { hasClientSecret: true } },
      "an OIDC IdP's name and trust settings change through PATCH",
    );

    t.equal((await api(body)).statusCode, 409, 'the same issuer twice');
    const wrongIssuer = await api({
      ...body,
      issuer: undefined,
      discovery: JSON.stringify({
        issuer: 'https://x.example',
        authorization_endpoint: 'https://x.example/a',
        token_endpoint: 'https://x.example/t',
        jwks_uri: 'https://x.example/j',
        response_types_supported: ['id_token'],
      }),
    });
    t.equal(wrongIssuer.statusCode, 400, wrongIssuer.body);
    t.match(wrongIssuer.json().error.details.fields.discovery, /authorization code flow/);
    const noSecret = await api({
      ...body,
      name: 'Other',
      issuer: undefined,
      clientSecret: undefined,
      discovery: JSON.stringify({
        issuer: 'https://y.example',
        authorization_endpoint: 'https://y.example/a',
        token_endpoint: 'https://y.example/t',
        jwks_uri: 'https://y.example/j',
      }),
    });
    t.equal(noSecret.statusCode, 400);
    t.ok(noSecret.json().error.details.fields.oidcClientSecret);
    const both = await api({ ...body, discovery: '{}' });
    t.equal(both.statusCode, 400);
  });
}
