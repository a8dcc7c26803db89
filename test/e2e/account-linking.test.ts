// Identity linking as a per-IdP trust decision, through HTTP: an IdP of the organisation asserting another user's
// address must not become that user. The takeover matrix (IdP linking modes x victim imported with a pre-link or
// created just in time x enrolled in TOTP or not x SP- or IdP-initiated x the address in other letter cases) asserts
// that nothing changed on the victim, that the app got a SAML error Response, and that the refusal is audited and
// counted; then what each mode does allow.
import t, { type Test } from 'tap';
import type { SAML } from '@node-saml/node-saml';
import { totpFor } from '../../src/mfa/for-tenant.ts';
import { setTwoFactor } from '../../src/policy/two-factor-toggle.ts';
import type { Application } from '../../src/store/applications.ts';
import type { IdentityProvider, LinkingMode } from '../../src/store/identity-providers.ts';
import type { User } from '../../src/store/users.ts';
import { UserImportService } from '../../src/users/import/import-service.ts';
import { UserAdmin } from '../../src/users/user-admin.ts';
import { pressReturn, returnAction } from '../helpers/return-to-app.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { testProviders } from '../helpers/context.ts';
import type { FakeIdp } from '../helpers/fake-idp.ts';
import { appReceives, createWorld, upstreamRequest, type World } from '../helpers/sso-world.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
type Idp = { fake: FakeIdp; idp: IdentityProvider };
type Initiation = 'sp' | 'idp';

interface Scene {
  w: World;
  app: Application;
  sp: SAML;
  owner: Idp;
  other: Idp;
}

/** An organisation with two IdPs that both allow IdP-initiated logins, and an app that requires TOTP (so a wrongly
 *  linked login would go on to the victim's enrolment or verification page). */
async function scene(
  provider: 'sqlite' | 'postgresql' | undefined,
  owner: { domains: string[]; mode?: LinkingMode },
  other: { domains: string[]; mode: LinkingMode },
): Promise<Scene> {
  const w = await createWorld('piedpipers', provider);
  const { app, sp } = await w.addApp('Jira');
  await w.org.store.applications.update(app.id, { policy: setTwoFactor([], true) });
  return {
    w,
    app,
    sp,
    owner: await w.addIdp('Customer', {
      emailDomains: owner.domains,
      linkingMode: owner.mode,
      allowIdpInitiated: true,
      defaultAppId: app.id,
    }),
    other: await w.addIdp('Partner', {
      emailDomains: other.domains,
      linkingMode: other.mode,
      allowIdpInitiated: true,
      defaultAppId: app.id,
    }),
  };
}

/** A login through `through` asserting `nameId` and `email`, started by the app (with the IdP as hint) or by the IdP. */
async function login(s: Scene, through: Idp, how: Initiation, nameId: string, email: string) {
  const { w } = s;
  const browser = new Browser(w.ta);
  let samlResponse: string;
  let relayState: string | undefined;
  if (how === 'sp') {
    const start = await browser.get(
      `${await s.sp.getAuthorizeUrlAsync('relay', undefined, {})}&idp=${encodeURIComponent(through.idp.entityId)}`,
    );
    const req = upstreamRequest(String(start.headers.location));
    relayState = req.relayState;
    samlResponse = await through.fake.response({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: req.id,
      nameId,
      attributes: { Email: [email] },
    });
  } else {
    samlResponse = await through.fake.response({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: null,
      nameId,
      attributes: { Email: [email] },
    });
  }
  const acs = await browser.post(
    w.org.urls.spAcs,
    { SAMLResponse: samlResponse, ...(relayState && { RelayState: relayState }) },
    { crossSite: true },
  );
  if (acs.statusCode !== 303)
    throw new Error(`ACS refused the response (${acs.statusCode}): ${acs.body.slice(0, 300)}`);
  const flowPath = String(acs.headers.location).replace(/\/continue$/, '');
  const { res } = await browser.follow(acs, w.base);
  return { browser, res, flowPath, how, appSp: how === 'sp' ? s.sp : w.nodeSaml(s.app, 'never') };
}

/** A victim of the directory linked to the owner IdP: imported with a pre-link, or created just in time by it. */
async function victim(s: Scene, email: string, kind: 'imported' | 'jit', enrolled: boolean): Promise<User> {
  const { store } = s.w.org;
  const user = await store.users.create({ email, source: kind });
  await store.users.link(
    user.id,
    s.owner.idp.id,
    kind === 'jit' ? email : `00u-${email}`,
    kind === 'jit' ? 'login' : 'imported',
  );
  if (enrolled) {
    await totpFor(s.w.ta.ctx, (await s.w.ta.ctx.store.organizations.findById(s.w.org.org.id))!, store).startEnrolment(
      user,
      'admin-setup',
    );
    await store.totp.activate(user.id, s.w.ta.clock.now());
  }
  return user;
}

/** Everything an attack could change on the victim. */
async function stateOf(s: Scene, userId: string) {
  const { store } = s.w.org;
  const [user, identities, factor, sessions] = await Promise.all([
    store.users.findById(userId),
    store.users.identities(userId),
    store.totp.find(userId),
    s.w.ta.ctx.store.db.brokerSession.count({ where: { orgId: store.orgId, userId } }),
  ]);
  return { user, identities, factor, sessions };
}

/** The refused login: branded page with link_refused (and none of the victim's data), a SAML error Response the app's
 *  library reports as a failed login, no way on to the second-factor pages, nothing changed on the victim, audited. */
async function assertRefused(
  t: Test,
  s: Scene,
  attempt: Awaited<ReturnType<typeof login>>,
  target: User,
  reason: string,
  nameId: string,
) {
  const { res, browser, flowPath, appSp } = attempt;
  t.equal(res.statusCode, 403, 'refused');
  t.equal(codeOf(res.body), 'link_refused');
  t.notMatch(res.body, target.id, "the victim's id is not shown");
  t.notMatch(res.body, /class="qr"|manual-key|Enter the 6-digit code/, 'no second-factor page');
  t.notOk(formIn(res.body)?.fields.SAMLResponse, 'the page itself carries no Response');
  if (returnAction(res.body)) {
    // The app asked (SP-initiated): "Return to <app>" takes it a signed error Response.
    const form = formIn((await pressReturn(browser, s.w.base, res)).body);
    t.ok(form?.fields.SAMLResponse, 'Return to the app carries a SAML Response to it');
    const err = (await t.rejects(
      appSp.validatePostResponseAsync({ SAMLResponse: form!.fields.SAMLResponse }),
    )) as Error;
    t.match(err.message, /AuthnFailed|Responder/, 'node-saml reports a failed login');
  } else {
    t.equal(attempt.how, 'idp', 'only an unsolicited login has no request to answer');
  }
  t.equal((await browser.get(`${s.w.base}${flowPath}/mfa`)).statusCode, 410, 'the flow cannot reach /mfa');
  t.equal(
    (await browser.post(`${s.w.base}${flowPath}/mfa`, { code: '000000' })).statusCode,
    410,
    'no code can be tried on the flow',
  );
  t.equal((await browser.get(`${s.w.base}${flowPath}/continue`)).statusCode, 410, 'the flow is over');
  const refused = (await s.w.org.store.audit.list({ type: 'user.link_refused' })).filter(
    (e) => (e.details as { nameId?: string }).nameId === nameId,
  );
  t.equal(refused.length, 1, 'one user.link_refused line');
  t.match(refused[0], {
    outcome: 'failure',
    code: 'link_refused',
    idpId: s.other.idp.id,
    details: { reason, nameId, userId: target.id },
  });
}

const CONFIGS: {
  name: string;
  owner: { domains: string[] };
  other: { domains: string[]; mode: LinkingMode };
  reason: string;
}[] = [
  {
    name: 'never',
    owner: { domains: ['customer.example'] },
    other: { domains: ['partner.example'], mode: 'never' },
    reason: 'mode_never',
  },
  {
    name: 'verified-domains, the address outside its domains',
    owner: { domains: ['customer.example'] },
    other: { domains: ['partner.example'], mode: 'verified-domains' },
    reason: 'domain_not_owned',
  },
  {
    name: 'verified-domains, its own domain, the victim linked to another IdP',
    owner: { domains: [] },
    other: { domains: ['customer.example'], mode: 'verified-domains' },
    reason: 'other_idp',
  },
];

/** Every combination on SQLite; on PostgreSQL (slower, and the same SQL decides) each value of each dimension once. */
function matrix(provider: string) {
  const all = (['imported', 'jit'] as const).flatMap((kind) =>
    [true, false].flatMap((enrolled) =>
      (['sp', 'idp'] as const).flatMap((how) => [false, true].map((upper) => ({ kind, enrolled, how, upper }))),
    ),
  );
  return provider === 'sqlite'
    ? all
    : all.filter((c) => c.enrolled === (c.kind === 'imported') && c.upper === (c.how === 'idp'));
}

for (const provider of testProviders()) {
  for (const config of CONFIGS) {
    t.test(`${provider}: takeover refused, mode ${config.name}`, async (t) => {
      const s = await scene(provider, config.owner, config.other);
      t.teardown(s.w.ta.cleanup);
      let n = 0;
      for (const { kind, enrolled, how, upper } of matrix(provider)) {
        n++;
        const email = `victim${n}@customer.example`;
        const asserted = upper ? `Victim${n}@Customer.EXAMPLE` : email;
        await t.test(
          `victim ${kind}${enrolled ? ', TOTP enrolled' : ''}; ${how.toUpperCase()}-initiated; asserted as ${asserted}`,
          async (t) => {
            const target = await victim(s, email, kind, enrolled);
            const before = await stateOf(s, target.id);
            const nameId = `attacker-${n}`;
            const attempt = await login(s, s.other, how, nameId, asserted);
            await assertRefused(t, s, attempt, target, config.reason, nameId);
            t.same(
              await stateOf(s, target.id),
              before,
              'nothing changed on the victim (user, links, TOTP row, sessions)',
            );
            t.equal(
              await s.w.org.store.users.findByIdentity(s.other.idp.id, nameId),
              null,
              "the attacker's identity is linked to nobody",
            );
          },
        );
      }
      const counted = (await s.w.ta.ctx.metrics.linkRefusals.get()).values.find(
        (v) => v.labels.reason === config.reason,
      );
      t.equal(counted?.value, n, `broker_link_refusals_total{reason="${config.reason}"} counts every refusal`);
      const metrics = await s.w.ta.app.inject({ method: 'GET', url: '/metrics' });
      t.match(metrics.body, `broker_link_refusals_total{org="piedpipers",reason="${config.reason}"} ${n}`);
    });
  }
}

t.test(
  "any-email: the IdP is trusted with every address (yesterday's behaviour), and the link is audited as such",
  async (t) => {
    const s = await scene(undefined, { domains: ['customer.example'] }, { domains: [], mode: 'any-email' });
    t.teardown(s.w.ta.cleanup);
    const target = await victim(s, 'ann@customer.example', 'imported', false);
    const { res } = await login(s, s.other, 'sp', 'partner-ann', 'Ann@Customer.example');
    t.equal(res.statusCode, 200, 'linked, on to the second factor');
    t.match(res.body, /Set up two-factor authentication/);
    t.equal((await s.w.org.store.users.findByIdentity(s.other.idp.id, 'partner-ann'))?.id, target.id);
    const linked = await s.w.org.store.audit.list({ type: 'user.linked', userId: target.id });
    t.match(linked[0].details, { nameId: 'partner-ann', mode: 'any-email' });
    t.match(
      (await s.w.org.store.users.identities(target.id)).map((l) => l.source),
      ['imported', 'login'],
    );
  },
);

t.test(
  'verified-domains: the IdP that owns the domain links an imported user on the first login and signs them in',
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const owner = await w.addIdp('Customer', { emailDomains: ['customer.example', '*.customer.example'] });
    await w.addIdp('Partner', { emailDomains: ['partner.example'] });
    const { sp } = await w.addApp('Wiki', { primaryIdpId: owner.idp.id });
    const s = { w, sp, owner } as unknown as Scene;
    const ann = await w.org.store.users.create({ email: 'Ann@EU.Customer.example', source: 'imported' });

    const first = await login(s, owner, 'sp', '00u-ann', 'ann@eu.customer.example');
    const { profile } = await appReceives(sp, first.res);
    t.equal(
      profile.nameID,
      'Ann@EU.Customer.example',
      'signed in as the directory user (a subdomain under the wildcard)',
    );
    t.match(await w.org.store.users.identities(ann.id), [{ idpId: owner.idp.id, nameId: '00u-ann', source: 'login' }]);
    t.match((await w.org.store.audit.list({ type: 'user.linked', userId: ann.id }))[0].details, {
      nameId: '00u-ann',
      mode: 'verified-domains',
    });

    const again = await login(s, owner, 'sp', '00u-ann', 'ann@eu.customer.example');
    t.equal(
      (await appReceives(sp, again.res)).profile.nameID,
      'Ann@EU.Customer.example',
      'the next login follows the link',
    );

    t.test('the same IdP under another NameID is not linked to the same user', async (t) => {
      const other = await login(s, owner, 'sp', '00u-ann-2', 'ann@eu.customer.example');
      t.equal(codeOf(other.res.body), 'link_refused');
      t.match((await w.org.store.audit.list({ type: 'user.link_refused' }))[0].details, {
        reason: 'other_idp',
        nameId: '00u-ann-2',
        userId: ann.id,
      });
      t.equal((await w.org.store.users.identities(ann.id)).length, 1);
    });

    t.test('an IdP with the default mode and no domains links nobody by email (the upgrade note)', async (t) => {
      const bare = await w.addIdp('Bare');
      await w.org.store.users.create({ email: 'bob@elsewhere.example', source: 'imported' });
      const r = await login(s, bare, 'sp', 'bob', 'bob@elsewhere.example');
      t.equal(codeOf(r.res.body), 'link_refused');
      t.match(r.res.body, /is not registered as the identity provider for elsewhere\.example/);
    });
  },
);

t.test('just-in-time creation respects domain ownership', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  await w.ta.ctx.store.organizations.update(w.org.org.id, { jitProvisioning: true });
  const owner = await w.addIdp('Customer', { emailDomains: ['customer.example'] });
  const open = await w.addIdp('Open');
  const partner = await w.addIdp('Partner', { emailDomains: ['partner.example'] });
  const never = await w.addIdp('Strict', { linkingMode: 'never' });
  const trusted = await w.addIdp('Trusted', { linkingMode: 'any-email' });
  const { sp } = await w.addApp('Wiki');
  const s = { w, sp, owner } as unknown as Scene;
  const signsIn = async (t: Test, through: Idp, email: string) => {
    const r = await login(s, through, 'sp', `${through.idp.name}-${email}`, email);
    t.equal((await appReceives(sp, r.res)).profile.nameID, email);
    const user = (await w.org.store.users.findByEmail(email))!;
    t.equal(user.source, 'jit');
    t.match(await w.org.store.users.identities(user.id), [{ idpId: through.idp.id, source: 'login' }]);
  };

  t.test('an address of a domain another IdP owns is not created (no squatting on its future users)', async (t) => {
    for (const through of [open, partner, never]) {
      const r = await login(s, through, 'sp', `squat-${through.idp.name}`, 'newcomer@customer.example');
      t.equal(r.res.statusCode, 403);
      t.equal(codeOf(r.res.body), 'link_refused');
      t.match(r.res.body, /Addresses at customer\.example sign in through “Customer”/, 'the page names the IdP to use');
    }
    t.equal(await w.org.store.users.findByEmail('newcomer@customer.example'), null, 'no user created');
    const lines = await w.org.store.audit.list({ type: 'user.link_refused' });
    t.ok(
      lines.every(
        (e) =>
          (e.details as { reason: string }).reason === 'domain_owned_by_other_idp' &&
          !('userId' in (e.details as object)),
      ),
    );
  });

  t.test('an IdP that lists domains creates users only inside them', async (t) => {
    const r = await login(s, partner, 'sp', 'p-1', 'someone@elsewhere.example');
    t.equal(codeOf(r.res.body), 'link_refused');
    t.equal(await w.org.store.users.findByEmail('someone@elsewhere.example'), null);
    await signsIn(t, partner, 'pat@partner.example');
  });

  t.test('an IdP without domains creates users of unowned domains; so does one in mode never', async (t) => {
    await signsIn(t, open, 'olga@elsewhere.example');
    await signsIn(t, never, 'nina@other.example');
  });

  t.test('the owning IdP creates users of its domain', async (t) => {
    await signsIn(t, owner, 'carol@customer.example');
  });

  t.test('any-email skips the domain checks', async (t) => {
    await signsIn(t, trusted, 'tess@customer.example');
  });

  t.test('a user created by one IdP is not taken over by another that owns no domain', async (t) => {
    const r = await login(s, open, 'sp', 'open-olga-2', 'nina@other.example');
    t.equal(codeOf(r.res.body), 'link_refused');
  });
});

t.test(
  "mode never: only identities linked ahead of time (import pre-link, admin) and the IdP's own users sign in",
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    const strict = await w.addIdp('Customer', { linkingMode: 'never', emailDomains: ['customer.example'] });
    const { sp } = await w.addApp('Wiki', { primaryIdpId: strict.idp.id });
    const s = { w, sp, owner: strict } as unknown as Scene;
    const imports = new UserImportService({ store: w.ta.ctx.store, clock: w.ta.clock });
    const report = await imports.run(
      w.org.org.id,
      {
        data: Buffer.from('email,idp,nameId\nann@customer.example,Customer,00u-ann\nbob@customer.example,,\n'),
        name: 'users.csv',
      },
      { mode: 'create', actor: 'test' },
    );
    t.same(report.counts.created, 2);
    const ann = (await w.org.store.users.findByEmail('ann@customer.example'))!;
    t.match(
      await w.org.store.users.identities(ann.id),
      [{ idpId: strict.idp.id, nameId: '00u-ann', source: 'imported' }],
      'the pre-link names the IdP by its name',
    );

    const r = await login(s, strict, 'sp', '00u-ann', 'ann@customer.example');
    t.equal((await appReceives(sp, r.res)).profile.nameID, 'ann@customer.example', 'the pre-linked identity signs in');
    const other = await login(s, strict, 'sp', '00u-ann-other', 'ann@customer.example');
    t.equal(codeOf(other.res.body), 'link_refused');
    t.match(other.res.body, /may not link accounts by email address/);
    const bob = await login(s, strict, 'sp', '00u-bob', 'bob@customer.example');
    t.equal(codeOf(bob.res.body), 'link_refused', 'an imported user without a pre-link is not linked by email');
    t.match(
      (await w.org.store.audit.list({ type: 'user.link_refused' })).map(
        (e) => (e.details as { reason: string }).reason,
      ),
      ['mode_never', 'mode_never'],
    );

    const bobUser = (await w.org.store.users.findByEmail('bob@customer.example'))!;
    const admin = new UserAdmin(w.ta.ctx, {
      org: (await w.ta.ctx.store.organizations.findById(w.org.org.id))!,
      store: w.org.store,
    });
    await admin.addIdentity(bobUser.id, { idp: strict.idp.entityId, nameId: '00u-bob' }, 'admin@piedpipers.example');
    const linkedByAdmin = await login(s, strict, 'sp', '00u-bob', 'bob@customer.example');
    t.equal(
      (await appReceives(sp, linkedByAdmin.res)).profile.nameID,
      'bob@customer.example',
      'an identity an admin linked signs in',
    );

    // No email attribute: the NameID, an email address, stands in for it; the same rules apply.
    await w.org.store.users.create({ email: 'cleo@customer.example', source: 'imported' });
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const req = upstreamRequest(String(start.headers.location));
    const samlResponse = await strict.fake.response({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: req.id,
      nameId: 'CLEO@customer.example',
      attributes: {},
    });
    const acs = await browser.post(
      w.org.urls.spAcs,
      { SAMLResponse: samlResponse, RelayState: req.relayState },
      { crossSite: true },
    );
    const { res } = await browser.follow(acs, w.base);
    t.equal(codeOf(res.body), 'link_refused', 'an email NameID is matched under the same rules');
  },
);
