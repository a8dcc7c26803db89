// /api/idps: the trust settings of an identity provider. Email domains (normalised, invalid entries refused, two
// IdPs never claiming one address: 409 idp_domain_taken naming the holder), the linking mode (any-email audited on
// its own), AuthnRequest signing on by default on every path (fields, metadata that does not ask for it, PATCH),
// unsigned LogoutResponses off by default; the OpenAPI document describes them. The clash check on both databases.
import t from 'tap';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';

const idpKey = generateSigningCredential('idp');
const metadataOf = (entityId: string, wantAuthnRequestsSigned?: boolean) =>
  idpMetadata({
    entityId,
    ssoUrl: `${entityId}/sso`,
    sloUrl: `${entityId}/slo`,
    certificates: [idpKey.certificatePem],
    organizationName: 'IdP',
    organizationUrl: 'https://idp.example',
    wantAuthnRequestsSigned,
  });
const manual = (n: string) => ({
  name: `IdP ${n}`,
  entityId: `https://idp${n}.example`,
  ssoUrl: `https://idp${n}.example/sso`,
  certificates: [idpKey.certificatePem],
});

async function setup(t: { teardown(fn: () => unknown): void }, provider?: 'sqlite' | 'postgresql') {
  const ta = await createTestApp({ provider });
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const { token } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
  const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload !== undefined && { payload: payload as object }),
    });
  return { ta, pp, api };
}

t.test('admin API: email domains', async (t) => {
  const { ta, pp, api } = await setup(t);

  t.test('invalid entries are a field error naming them; nothing saved', async (t) => {
    for (const emailDomains of [
      ['acme.example', 'not a domain'],
      ['localhost'],
      ['*.'],
      ['10.0.0.1'],
      ['-acme.example'],
      ['acme..example'],
    ]) {
      const res = await api('POST', '/api/idps', { ...manual('1'), emailDomains });
      t.equal(res.statusCode, 400, JSON.stringify(emailDomains));
      t.equal(res.json().error.code, 'validation_failed');
      t.match(res.json().error.details.fields.emailDomains, /is not a domain|are not domains/);
    }
    const named = await api('POST', '/api/idps', { ...manual('1'), emailDomains: ['acme.example', 'bad domain'] });
    t.match(named.json().error.details.fields.emailDomains, /"bad domain"/);
    const tooMany = await api('POST', '/api/idps', {
      ...manual('1'),
      emailDomains: Array.from({ length: 101 }, (_, i) => `d${i}.example`),
    });
    t.equal(tooMany.statusCode, 400);
    t.ok(tooMany.json().error.details.fields.emailDomains);
    const notStrings = await api('POST', '/api/idps', { ...manual('1'), emailDomains: [42] });
    t.equal(notStrings.statusCode, 400);
    t.equal((await pp.store.identityProviders.list()).length, 0);
  });

  let acme = '';
  t.test('entries are normalised: lower case, no trailing dot, duplicates dropped; wildcards kept', async (t) => {
    const res = await api('POST', '/api/idps', {
      ...manual('1'),
      name: 'Okta (Acme)',
      emailDomains: [' ACME.example. ', 'acme.example', '*.Acme.Example'],
    });
    t.equal(res.statusCode, 201, res.body);
    acme = res.json().id;
    t.same(res.json().emailDomains, ['acme.example', '*.acme.example']);
    t.same((await pp.store.identityProviders.findById(acme))!.emailDomains, ['acme.example', '*.acme.example']);
    t.match((await pp.store.audit.list({ type: 'idp.created' }))[0].details, {
      emailDomains: ['acme.example', '*.acme.example'],
      linkingMode: 'verified-domains',
    });
  });

  t.test('another IdP cannot claim an overlapping domain: 409 idp_domain_taken names the holder', async (t) => {
    for (const [domains, claimed] of [
      [['acme.example'], 'acme.example'],
      [['eu.acme.example'], 'eu.acme.example'],
      [['*.eu.acme.example'], '*.eu.acme.example'],
      [['ACME.EXAMPLE']],
    ] as [string[], string?][]) {
      const res = await api('POST', '/api/idps', { ...manual('2'), emailDomains: ['other.example', ...domains] });
      t.equal(res.statusCode, 409, JSON.stringify(domains));
      t.equal(res.json().error.code, 'idp_domain_taken');
      t.match(
        res.json().error.message,
        `${claimed ?? 'acme.example'} is already claimed by identity provider "Okta (Acme)"`,
      );
      t.match(res.json().error.details, { field: 'emailDomains', clashes: [{ idpId: acme, idpName: 'Okta (Acme)' }] });
    }
    t.equal((await pp.store.identityProviders.list()).length, 1, 'nothing saved');

    const other = await api('POST', '/api/idps', {
      ...manual('2'),
      emailDomains: ['acme.example.org', 'notacme.example'],
    });
    t.equal(other.statusCode, 201, 'look-alike domains are not overlaps');
    const patch = await api('PATCH', `/api/idps/${other.json().id}`, { emailDomains: ['*.acme.example'] });
    t.equal(patch.statusCode, 409, 'a PATCH is checked as well');
    t.match(patch.json().error.message, /\*\.acme\.example is already claimed by identity provider "Okta \(Acme\)"/);
    t.same(
      (await pp.store.identityProviders.findById(other.json().id))!.emailDomains,
      ['acme.example.org', 'notacme.example'],
      'unchanged',
    );
  });

  t.test(
    'an IdP does not clash with itself; a disabled IdP keeps its claim; another organisation is no obstacle',
    async (t) => {
      const self = await api('PATCH', `/api/idps/${acme}`, {
        emailDomains: ['acme.example', '*.acme.example', 'acme-corp.example'],
      });
      t.equal(self.statusCode, 200, self.body);
      t.match((await pp.store.audit.list({ type: 'idp.updated' }))[0].details, {
        changed: ['emailDomains'],
        changes: {
          emailDomains: {
            from: ['acme.example', '*.acme.example'],
            to: ['acme.example', '*.acme.example', 'acme-corp.example'],
          },
        },
      });
      await api('POST', `/api/idps/${acme}/disable`);
      t.equal(
        (await api('POST', '/api/idps', { ...manual('3'), emailDomains: ['acme-corp.example'] })).statusCode,
        409,
      );
      const hooli = await createOrg(ta.ctx, 'hooli');
      const theirs = await saveIdentityProvider(hooli.store, { ...manual('9'), emailDomains: ['acme.example'] });
      t.same(theirs.emailDomains, ['acme.example']);
    },
  );

  t.test('PATCH without emailDomains leaves them; an empty list clears them', async (t) => {
    t.same((await api('PATCH', `/api/idps/${acme}`, { name: 'Okta (Acme) EU' })).json().emailDomains, [
      'acme.example',
      '*.acme.example',
      'acme-corp.example',
    ]);
    t.same((await api('PATCH', `/api/idps/${acme}`, { emailDomains: [] })).json().emailDomains, []);
  });
});

t.test('admin API: linking mode', async (t) => {
  const { pp, api } = await setup(t);
  const bad = await api('POST', '/api/idps', { ...manual('1'), linkingMode: 'everyone' });
  t.equal(bad.statusCode, 400);
  t.ok(bad.json().error.details.fields.linkingMode);

  const res = await api('POST', '/api/idps', { ...manual('1') });
  t.equal(res.json().linkingMode, 'verified-domains', 'the default');
  const id = res.json().id;
  t.equal((await pp.store.audit.list({ type: 'idp.linking_any_email' })).length, 0);

  const never = await api('PATCH', `/api/idps/${id}`, { linkingMode: 'never' });
  t.equal(never.json().linkingMode, 'never');
  const any = await api('PATCH', `/api/idps/${id}`, { linkingMode: 'any-email' });
  t.equal(any.statusCode, 200);
  t.equal((await pp.store.identityProviders.findById(id))!.linkingMode, 'any-email');
  const warned = await pp.store.audit.list({ type: 'idp.linking_any_email' });
  t.equal(warned.length, 1, 'switching to any-email has its own audit line');
  t.match(warned[0], { actor: 'api-token:automation', idpId: id, details: { previous: 'never' } });
  t.match((await pp.store.audit.list({ type: 'idp.updated' }))[0].details, {
    changes: { linkingMode: { from: 'never', to: 'any-email' } },
  });
  await api('PATCH', `/api/idps/${id}`, { linkingMode: 'any-email', name: 'Renamed' });
  t.equal(
    (await pp.store.audit.list({ type: 'idp.linking_any_email' })).length,
    1,
    'not again while it stays any-email',
  );

  const created = await api('POST', '/api/idps', { ...manual('2'), linkingMode: 'any-email' });
  t.equal(created.statusCode, 201);
  t.match(
    (await pp.store.audit.list({ type: 'idp.linking_any_email' }))[0],
    { idpId: created.json().id, details: { previous: null } },
    'created with any-email: audited too',
  );
});

t.test(
  'admin API: AuthnRequests are signed by default on every path; unsigned LogoutResponses are not accepted by default',
  async (t) => {
    const { pp, api } = await setup(t);
    const byFields = await api('POST', '/api/idps', manual('1'));
    t.match(byFields.json(), { signRequests: true, acceptUnsignedLogoutResponse: false });
    for (const [n, want] of [
      ['2', false],
      ['3', undefined],
      ['4', true],
    ] as const) {
      const fromXml = await api('POST', '/api/idps', {
        name: `M${n}`,
        metadataXml: metadataOf(`https://meta${n}.example`, want),
      });
      t.equal(fromXml.statusCode, 201, fromXml.body);
      t.equal(fromXml.json().signRequests, true, `metadata with WantAuthnRequestsSigned=${want}`);
    }
    const withoutAttribute = metadataOf('https://meta5.example').replace(/ WantAuthnRequestsSigned="false"/, '');
    t.equal(
      (await api('POST', '/api/idps', { name: 'M5', metadataXml: withoutAttribute })).json().signRequests,
      true,
      'no WantAuthnRequestsSigned at all',
    );
    const optedOut = await api('POST', '/api/idps', {
      name: 'M6',
      metadataXml: metadataOf('https://meta6.example', true),
      signRequests: false,
      acceptUnsignedLogoutResponse: true,
    });
    t.match(optedOut.json(), { signRequests: false, acceptUnsignedLogoutResponse: true }, 'an explicit choice wins');
    t.match((await pp.store.audit.list({ type: 'idp.created' }))[0].details, {
      signRequests: false,
      acceptUnsignedLogoutResponse: true,
    });

    const id = byFields.json().id;
    const patched = await api('PATCH', `/api/idps/${id}`, { signRequests: false, acceptUnsignedLogoutResponse: true });
    t.match(patched.json(), { signRequests: false, acceptUnsignedLogoutResponse: true });
    t.match((await pp.store.audit.list({ type: 'idp.updated' }))[0].details, {
      changes: { signRequests: { from: true, to: false }, acceptUnsignedLogoutResponse: { from: false, to: true } },
    });
    t.equal((await api('PATCH', `/api/idps/${id}`, { signRequests: 'yes' })).statusCode, 400, 'booleans only');

    const hint = await api('PATCH', `/api/idps/${id}`, { sendLoginHint: true });
    t.equal(byFields.json().sendLoginHint, false, 'the login hint is not sent by default');
    t.equal(hint.json().sendLoginHint, true, 'sendLoginHint set');
    t.match((await pp.store.audit.list({ type: 'idp.updated' }))[0].details, { changed: ['sendLoginHint'] });
    t.equal((await pp.store.identityProviders.findById(id))!.sendLoginHint, true);

    const doc = (await api('GET', '/api/openapi.json')).json();
    const props = doc.paths['/api/idps'].post.requestBody.content['application/json'].schema.properties;
    for (const k of ['emailDomains', 'linkingMode', 'signRequests', 'acceptUnsignedLogoutResponse', 'sendLoginHint'])
      t.ok(props[k]?.description, `${k} is documented`);
    t.same(props.linkingMode.enum, ['never', 'verified-domains', 'any-email']);
    t.match(JSON.stringify(doc.paths['/api/idps'].get), /emailDomains/, 'and listed');
  },
);

// The clash check reads the organisation's other IdPs: the same on both databases.
for (const provider of testProviders()) {
  t.test(`admin API: domain clash (${provider})`, async (t) => {
    const { api } = await setup(t, provider);
    t.equal((await api('POST', '/api/idps', { ...manual('1'), emailDomains: ['*.acme.example'] })).statusCode, 201);
    const res = await api('POST', '/api/idps', { ...manual('2'), emailDomains: ['sales.acme.example'] });
    t.equal(res.statusCode, 409);
    t.match(
      res.json().error.message,
      'sales.acme.example is already claimed by identity provider "IdP 1" (as *.acme.example)',
    );
  });
}
