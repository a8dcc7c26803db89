// Third-party initiated login (/oidc/initiate) and login_hint toward OpenID Connect IdPs. A real OP (oidc-provider)
// signs Ann in; the broker starts a normal, browser-bound code flow from the IdP's initiate request and the SAML app
// (node-saml, which accepts unsolicited Responses) receives the login. Each refusal has its own code, sends nobody
// anywhere, and is audited.
import t from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../src/orgs/remote/oidc-registration.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { startForgingOp, startOidcProvider } from '../helpers/oidc-op.ts';
import { appReceives, createWorld, type World } from '../helpers/sso-world.ts';

const ENV = { METADATA_ALLOW_PRIVATE: 'true' };
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];

async function addOidcIdp(
  w: World,
  name: string,
  issuer: string,
  extra: { allowIdpInitiated?: boolean; emailDomains?: string[] } = {},
) {
  const input = await oidcIdpInput(
    { issuer, clientId: 'broker', clientSecret: 'broker-secret', preset: 'oidc-okta' },
    {
      orgId: w.org.org.id,
      box: w.ta.ctx.box,
      now: w.ta.clock.now(),
      allowPrivate: true,
      timeoutMs: 5000,
      refreshSeconds: 86400,
    },
  );
  return saveIdentityProvider(w.org.store, {
    ...input,
    name,
    emailDomains: extra.emailDomains ?? ['customer.example'],
    ...(extra.allowIdpInitiated !== undefined && { allowIdpInitiated: extra.allowIdpInitiated }),
  });
}

t.test('third-party initiated login', async (t) => {
  const w = await createWorld('initpipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const op = await startOidcProvider({
    clientId: 'broker',
    clientSecret: 'broker-secret',
    redirectUri: w.org.urls.oidcCallback,
    claims: () => ({ email: 'ann@customer.example', email_verified: true }),
  });
  t.teardown(op.close);
  const idp = await addOidcIdp(w, 'Okta OIDC', op.issuer, { allowIdpInitiated: true });
  const { app } = await w.addApp('Jira');
  const sp = w.nodeSaml(app, 'never'); // it accepts unsolicited Responses
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const initiate = (q: Record<string, string>) => `${w.base}/oidc/initiate?${new URLSearchParams(q)}`;
  const launch = w.org.urls.appLaunch(app.id);

  await t.test('happy path: a normal code flow to the IdP, then the app receives the login unsolicited', async (t) => {
    const browser = new Browser(w.ta);
    const res = await browser.get(
      initiate({ iss: op.issuer, target_link_uri: launch, login_hint: 'ann@customer.example' }),
    );
    t.equal(res.statusCode, 302);
    const auth = new URL(String(res.headers.location));
    t.equal(`${auth.origin}${auth.pathname}`, `${op.issuer}/auth`, 'to the IdP that initiated');
    t.equal(auth.searchParams.get('login_hint'), 'ann@customer.example', 'its login_hint passed on');
    t.equal(auth.searchParams.get('code_challenge_method'), 'S256', 'the normal flow: PKCE');
    t.match(auth.searchParams.get('state'), /^[\w-]{16,}$/);
    t.ok(browser.cookies(new URL(w.base).host).size > 0, 'the flow is bound to this browser');
    const callback = await op.login(auth.href, 'ann');
    const { res: done } = await browser.follow(await browser.get(callback), w.base);
    const { profile } = await appReceives(sp, done);
    t.equal(profile.nameID, 'ann@customer.example');
    t.notOk(profile.inResponseTo, 'unsolicited: it answers no AuthnRequest');
    const started = (await w.org.store.audit.list({ type: 'login.initiated_by_idp' }))[0];
    t.equal(started.idpId, idp.id);
    t.equal(started.appId, app.id);

    await t.test("by POST too (form_post initiate), and the login page means the IdP's default app", async (t) => {
      await w.org.store.identityProviders.update(idp.id, { defaultAppId: app.id });
      const b2 = new Browser(w.ta);
      const r = await b2.post(
        `${w.base}/oidc/initiate`,
        { iss: op.issuer, target_link_uri: `${w.base}/login` },
        { crossSite: true },
      );
      t.equal(r.statusCode, 302);
      t.ok(String(r.headers.location).startsWith(`${op.issuer}/auth?`));
      t.equal(new URL(String(r.headers.location)).searchParams.get('login_hint'), null, 'no hint given, none sent');
    });
  });

  await t.test('refusals', async (t) => {
    const { createOrg } = await import('../helpers/context.ts');
    await createOrg(w.ta.ctx, 'hooli', 'Hooli');
    const otherOrgLaunch = `http://hooli.${w.ta.config.baseDomain}/apps/${app.id}/launch`;
    const { app: disabled } = await w.addApp('Disabled', { enabled: false });
    const cases: Array<[string, Record<string, string>, number, string]> = [
      [
        'an unknown issuer',
        { iss: 'https://evil.example', target_link_uri: launch },
        400,
        'oidc_initiate_unknown_issuer',
      ],
      ['no issuer', { target_link_uri: launch }, 400, 'oidc_initiate_unknown_issuer'],
      [
        'a target on another site (no open redirect)',
        { iss: op.issuer, target_link_uri: 'https://evil.example/apps/x/launch' },
        400,
        'oidc_initiate_bad_target',
      ],
      [
        "another organisation's launch link",
        { iss: op.issuer, target_link_uri: otherOrgLaunch },
        400,
        'oidc_initiate_bad_target',
      ],
      [
        'an unknown app',
        { iss: op.issuer, target_link_uri: `${w.base}/apps/nope/launch` },
        400,
        'oidc_initiate_bad_target',
      ],
      [
        'a disabled app',
        { iss: op.issuer, target_link_uri: w.org.urls.appLaunch(disabled.id) },
        400,
        'oidc_initiate_bad_target',
      ],
      ['another page of ours', { iss: op.issuer, target_link_uri: `${w.base}/admin` }, 400, 'oidc_initiate_bad_target'],
      ['not a URL', { iss: op.issuer, target_link_uri: 'javascript:alert(1)' }, 400, 'oidc_initiate_bad_target'],
      ['no target', { iss: op.issuer }, 400, 'oidc_initiate_bad_target'],
    ];
    for (const [name, q, status, code] of cases) {
      const r = await new Browser(w.ta).get(initiate(q));
      t.equal(r.statusCode, status, `${name}: ${status}`);
      t.equal(codeOf(r.body), code, `${name}: ${code}`);
      t.notOk(r.headers.location, `${name}: sent nowhere`);
    }
    const rejected = await w.org.store.audit.list({ type: 'login.initiate_rejected' });
    t.equal(rejected.length, cases.length, 'each refusal audited');

    await t.test('an IdP that does not allow IdP-initiated logins', async (t) => {
      await w.org.store.identityProviders.update(idp.id, { allowIdpInitiated: false });
      const r = await new Browser(w.ta).get(initiate({ iss: op.issuer, target_link_uri: launch }));
      t.equal(r.statusCode, 403);
      t.equal(codeOf(r.body), 'oidc_initiate_not_allowed');
      t.notOk(r.headers.location);
    });
  });
});

t.test('login_hint toward an OpenID Connect IdP', async (t) => {
  const w = await createWorld('hintpipers', undefined, { env: ENV });
  t.teardown(w.ta.cleanup);
  const op = await startForgingOp();
  t.teardown(op.close);
  const second = await startForgingOp();
  t.teardown(second.close);
  await addOidcIdp(w, 'Okta OIDC', op.issuer, { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');
  const authUrl = async (url: string, browser = new Browser(w.ta)) => {
    const res = await browser.get(url);
    t.equal(res.statusCode, 302);
    return new URL(String(res.headers.location));
  };

  await t.test("from the app's login_hint parameter (home-realm discovery picks the IdP)", async (t) => {
    const auth = await authUrl(
      `${await sp.getAuthorizeUrlAsync('', undefined, {})}&login_hint=${encodeURIComponent('ann@customer.example')}`,
    );
    t.ok(auth.href.startsWith(`${op.issuer}/auth?`));
    t.equal(auth.searchParams.get('login_hint'), 'ann@customer.example');
  });

  await t.test('none given, none sent; a hint that is not an address is not passed on', async (t) => {
    t.equal((await authUrl(await sp.getAuthorizeUrlAsync('', undefined, {}))).searchParams.get('login_hint'), null);
    t.equal(
      (
        await authUrl(
          `${await sp.getAuthorizeUrlAsync('', undefined, {})}&login_hint=${encodeURIComponent('"><script>')}`,
        )
      ).searchParams.get('login_hint'),
      null,
    );
  });

  await t.test('from the address typed on the chooser', async (t) => {
    await addOidcIdp(w, 'Other', second.issuer, { emailDomains: ['other.example'] });
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(start.statusCode, 303, 'two IdPs: the chooser');
    const chooser = String(start.headers.location);
    const page = await browser.get(`${w.base}${chooser}`);
    t.ok(formIn(page.body), 'the chooser has a form');
    const picked = await browser.post(`${w.base}${chooser}`, { email: 'bob@other.example' });
    t.equal(picked.statusCode, 302);
    const auth = new URL(String(picked.headers.location));
    t.ok(auth.href.startsWith(`${second.issuer}/auth?`), 'the IdP of the typed domain');
    t.equal(auth.searchParams.get('login_hint'), 'bob@other.example');
  });
});
