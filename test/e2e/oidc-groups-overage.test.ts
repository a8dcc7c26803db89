// Entra ID's groups overage: a real OP (oidc-provider) adds _claim_names/_claim_sources to its signed ID token
// (distributed claims), as Entra ID does for a user with too many groups. The login goes on with no groups mapped
// (nothing half-read), and is audited as login.groups_overage with the source it names.
import t from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../src/orgs/remote/oidc-registration.ts';
import { Browser } from '../helpers/browser.ts';
import { startOidcProvider } from '../helpers/oidc-op.ts';
import { appReceives, createWorld } from '../helpers/sso-world.ts';

t.test('groups overage: signed in, no groups, audited', async (t) => {
  const w = await createWorld('overpipers', undefined, { env: { METADATA_ALLOW_PRIVATE: 'true' } });
  t.teardown(w.ta.cleanup);
  const op = await startOidcProvider({
    clientId: 'broker',
    clientSecret: 'broker-secret',
    redirectUri: w.org.urls.oidcCallback,
    // Distributed claims (OpenID Connect Core 5.6.2), which oidc-provider puts into the ID token it signs.
    claims: () => ({
      tid: 'tenant-1',
      oid: 'object-7',
      preferred_username: 'ann@contoso.example',
      _claim_names: { groups: 'src1' },
      _claim_sources: {
        src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/object-7/getMemberObjects?secret=no' },
      },
    }),
  });
  t.teardown(op.close);
  const input = await oidcIdpInput(
    { issuer: op.issuer, clientId: 'broker', clientSecret: 'broker-secret', preset: 'oidc-entra' },
    {
      orgId: w.org.org.id,
      box: w.ta.ctx.box,
      now: w.ta.clock.now(),
      allowPrivate: true,
      timeoutMs: 5000,
      refreshSeconds: 86400,
    },
  );
  const idp = await saveIdentityProvider(w.org.store, {
    ...input,
    name: 'Entra ID',
    emailDomains: ['contoso.example'],
  });
  const { sp } = await w.addApp('Jira', { attributeRelease: ['email', 'groups'] } as never);
  await w.org.store.users.create({ email: 'ann@contoso.example' });

  const browser = new Browser(w.ta);
  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const callback = await op.login(String(start.headers.location), 'pairwise-sub');
  const { res } = await browser.follow(await browser.get(callback), w.base);
  const { profile } = await appReceives(sp, res);
  t.equal(profile.nameID, 'ann@contoso.example', 'the login goes on');
  t.notOk((profile as Record<string, unknown>).groups, 'no groups released: none mapped');
  const [event] = await w.org.store.audit.list({ type: 'login.groups_overage' });
  t.ok(event, 'audited');
  t.equal(event.idpId, idp.id);
  t.same(
    event.details,
    { source: 'https://graph.microsoft.com/v1.0/users/object-7/getMemberObjects', groupsMapped: 0 },
    'the source, without its query',
  );
});
