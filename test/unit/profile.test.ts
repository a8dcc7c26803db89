// Attribute mapping presets and overrides: upstream assertion → canonical profile.
import t from 'tap';
import { mapProfile } from '../../src/broker/upstream/profile.ts';

const email = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

t.test('Okta preset: firstName/lastName/Email/groups, NameID as email fallback', async (t) => {
  t.same(
    mapProfile(
      { mappingPreset: 'okta', attributeMapping: {} },
      {
        nameId: 'ann@x.example',
        nameIdFormat: email,
        attributes: { firstName: ['Ann'], lastName: ['Lee'], Email: ['Ann@X.example'], groups: ['a', 'b', 'a', ''] },
      },
    ),
    { email: 'ann@x.example', firstName: 'Ann', lastName: 'Lee', groups: ['a', 'b'] },
  );
  t.equal(
    mapProfile(
      { mappingPreset: 'okta', attributeMapping: {} },
      { nameId: 'bob@x.example', nameIdFormat: email, attributes: {} },
    ).email,
    'bob@x.example',
  );
  t.equal(
    mapProfile({ mappingPreset: 'okta', attributeMapping: {} }, { nameId: 'opaque-id-123', attributes: {} }).email,
    null,
    'an opaque NameID is not an email',
  );
});

t.test('WSO2 preset: claim URIs', async (t) => {
  const p = mapProfile(
    { mappingPreset: 'wso2', attributeMapping: {} },
    {
      nameId: 'x',
      attributes: {
        'http://wso2.org/claims/emailaddress': ['c@y.example'],
        'http://wso2.org/claims/givenname': ['Cy'],
        'http://wso2.org/claims/lastname': ['Young'],
        'http://wso2.org/claims/role': ['Internal/everyone', 'admin'],
      },
    },
  );
  t.same(p, { email: 'c@y.example', firstName: 'Cy', lastName: 'Young', groups: ['Internal/everyone', 'admin'] });
});

t.test('ADFS/Entra preset: claim type URIs', async (t) => {
  const p = mapProfile(
    { mappingPreset: 'adfs', attributeMapping: {} },
    {
      nameId: 'x',
      attributes: {
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': ['d@z.example'],
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname': ['Di'],
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname': ['Zed'],
        'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': ['g1'],
      },
    },
  );
  t.same(p, { email: 'd@z.example', firstName: 'Di', lastName: 'Zed', groups: ['g1'] });
});

t.test('custom mapping and per-field overrides', async (t) => {
  const custom = mapProfile(
    { mappingPreset: 'custom', attributeMapping: { email: 'mail', groups: 'memberOf' } },
    { nameId: 'x', attributes: { mail: ['e@w.example'], memberOf: ['cn=a'], firstName: ['ignored'] } },
  );
  t.same(custom, { email: 'e@w.example', firstName: null, lastName: null, groups: ['cn=a'] });
  const override = mapProfile(
    { mappingPreset: 'okta', attributeMapping: { groups: 'roles' } },
    { nameId: 'x', attributes: { Email: ['f@v.example'], groups: ['not-this'], roles: ['this'] } },
  );
  t.same(override.groups, ['this']);
});

t.test('hostile values: invalid emails dropped, over-long values dropped', async (t) => {
  t.equal(
    mapProfile(
      { mappingPreset: 'okta', attributeMapping: {} },
      { nameId: 'x', attributes: { Email: ['not an email <script>'] } },
    ).email,
    null,
  );
  t.equal(
    mapProfile(
      { mappingPreset: 'okta', attributeMapping: {} },
      { nameId: 'x', attributes: { Email: ['a@b.example'], firstName: ['x'.repeat(300)] } },
    ).firstName,
    null,
  );
});
