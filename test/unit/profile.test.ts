// Attribute mapping presets and overrides: upstream assertion → canonical profile.
import t from 'tap';
import { mapProfile, MAX_PROFILE_GROUPS, ProfileError } from '../../src/broker/upstream/profile.ts';
import { isUpstreamRefusal } from '../../src/broker/upstream/protocol.ts';

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

t.test('more groups than a sign-in may carry: refused, never cut short', async (t) => {
  const groups = (n: number) => Array.from({ length: n }, (_, i) => `group-${i}`);
  const map = (values: string[]) =>
    mapProfile(
      { mappingPreset: 'okta', attributeMapping: {} },
      { nameId: 'a@x.example', attributes: { groups: values } },
    );
  t.equal(map(groups(MAX_PROFILE_GROUPS)).groups.length, MAX_PROFILE_GROUPS, 'the limit itself is kept whole');
  t.equal(
    map([...groups(MAX_PROFILE_GROUPS), 'group-0', ' group-1 ', '']).groups.length,
    MAX_PROFILE_GROUPS,
    'repeats and blanks do not count',
  );
  // A cut list (the old behaviour) kept the first 500 and dropped "deny-me", which a policy's deny rule could name.
  const err = t.throws(() => map([...groups(MAX_PROFILE_GROUPS), 'deny-me'])) as unknown as ProfileError;
  t.ok(err instanceof ProfileError);
  t.equal(err.code, 'upstream_too_many_groups');
  t.same(err.diagnosis, { attribute: 'groups', groups: MAX_PROFILE_GROUPS + 1, limit: MAX_PROFILE_GROUPS });
  t.ok(isUpstreamRefusal(err), 'the login flow treats it as the IdP answer refused: audited, flow failed, app told');
});
