// Console "Policies": the one-click 2-factor switch and the ordered rule list (add, edit, move, remove), with
// errors next to the row's field and nothing half-saved; audit rows; other organisations and CSRF refused; and
// end to end: 2FA switched on in the console sends the next login of that app to the TOTP stage.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { FakeIdp } from '../helpers/fake-idp.ts';
import { upstreamRequest } from '../helpers/sso-world.ts';
import { ManualClock } from '../../src/clock.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { orgUrls } from '../../src/orgs/urls.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';

const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const fieldError = (html: string, id: string) => {
  const m = new RegExp(`<div class="field-error" id="${id}-error">([^<]*)</div>`).exec(html);
  return m ? decode(m[1]) : null;
};
const inputValue = (html: string, id: string) =>
  decode(new RegExp(`id="${id}"[^>]*value="([^"]*)"`).exec(html)?.[1] ?? '');

t.test('admin console: policies', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const other = await signedInAdmin(ta, 'hooli');
  const pp = ta.ctx.store.forOrg(admin.orgId);
  const hooli = ta.ctx.store.forOrg(other.orgId);
  const cert = generateSigningCredential('idp').certificatePem;
  const okta = await saveIdentityProvider(pp, {
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://okta.example/sso',
    certificates: [cert],
  });
  const hooliIdp = await saveIdentityProvider(hooli, {
    name: 'Hooli IdP',
    entityId: 'https://idp.hooli.example',
    ssoUrl: 'https://idp.hooli.example/sso',
    certificates: [cert],
  });
  const jira = await saveApplication(pp, {
    name: 'Jira',
    entityId: 'https://jira.example',
    acsUrls: ['https://jira.example/acs'],
  });
  const rulesOf = async () => (await pp.applications.findById(jira.id))!.policy as { id: string; action: string }[];
  const policyAudit = async () =>
    (await pp.audit.list({ type: 'policy.updated' })).map((e) => ({
      actor: e.actor,
      appId: e.appId,
      details: e.details,
    }));
  const url = `/admin/policies/${jira.id}`;

  t.test('the list shows each app with its 2-factor state', async (t) => {
    const res = await admin.get('/admin/policies');
    t.equal(res.statusCode, 200);
    t.match(res.body, /Jira/);
    t.match(res.body, /2FA off/);
    t.match(res.body, /No rules: everyone who signs in gets in/);
    t.match(res.body, `href="${url}"`);
    const page = await admin.get(url);
    t.equal(page.statusCode, 200);
    t.match(page.body, /Enable 2-Factor Authentication \(MFA\)/);
    t.match(page.body, /No rules yet/);
  });

  t.test(
    '"Enable 2-Factor Authentication": on with remembered devices, off again; stored rules and audit follow',
    async (t) => {
      const bad = await admin.post(`${url}/two-factor`, { enabled: 'on', rememberDeviceDays: 'a month' });
      t.equal(bad.statusCode, 400);
      t.match(fieldError(bad.body, 'rememberDeviceDays'), /whole number of days/);
      t.equal(inputValue(bad.body, 'rememberDeviceDays'), 'a month', 'the value is kept');
      t.same(await rulesOf(), [], 'nothing saved');
      t.same(await policyAudit(), []);

      const on = await admin.post(`${url}/two-factor`, { enabled: 'on', rememberDeviceDays: '30' });
      t.equal(on.statusCode, 303);
      t.equal(on.headers.location, `${url}?done=two-factor-on`);
      t.same(await rulesOf(), [
        {
          id: 'everyone-totp',
          name: 'Everyone: require 2-factor authentication',
          conditions: {},
          action: 'require_totp',
          rememberDeviceDays: 30,
        },
      ]);
      t.same(await policyAudit(), [
        { actor: admin.email, appId: jira.id, details: { change: 'two_factor_on', rules: 1, twoFactor: true } },
      ]);
      const page = await admin.get(`${url}?done=two-factor-on`);
      t.match(page.body, /2-factor authentication is now required/);
      t.match(page.body, /<input type="checkbox" name="enabled" value="on" checked>/);
      t.equal(inputValue(page.body, 'rememberDeviceDays'), '30');
      t.match(page.body, /Everyone: require 2-factor authentication/, "the switch's rule is in the list");
      t.match((await admin.get('/admin/policies')).body, /2FA on/);
      t.match((await admin.get('/admin/apps')).body, /2FA on/);

      const off = await admin.post(`${url}/two-factor`, { rememberDeviceDays: '30' });
      t.equal(off.headers.location, `${url}?done=two-factor-off`);
      t.same(await rulesOf(), []);
      t.equal((await policyAudit()).filter((e) => e.details.change === 'two_factor_off').length, 1);
    },
  );

  t.test('add a rule: errors next to its fields and nothing saved; then added at the end', async (t) => {
    const bad = await admin.post(`${url}/rules/add`, {
      'new.name': 'No contractors',
      'new.action': 'deny',
      'new.emailDomains': 'contractor.example, not a domain!',
      'new.idpIds': hooliIdp.id,
    });
    t.equal(bad.statusCode, 400);
    t.match(fieldError(bad.body, 'new-emailDomains'), /Email domains: a domain like example\.com/);
    t.match(
      fieldError(bad.body, 'new-idpIds'),
      /not an identity provider of this organisation/,
      "another organisation's IdP cannot be named",
    );
    t.equal(inputValue(bad.body, 'new-name'), 'No contractors', 'values kept');
    t.equal(inputValue(bad.body, 'new-emailDomains'), 'contractor.example, not a domain!');
    t.same(await rulesOf(), []);

    const ok = await admin.post(`${url}/rules/add`, {
      'new.name': 'No contractors',
      'new.action': 'deny',
      'new.groups': 'contractors, temps',
      'new.message': 'Use the partner portal.',
    });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, `${url}?done=rule-added`);
    const second = await admin.post(`${url}/rules/add`, {
      'new.id': 'okta-2fa',
      'new.name': 'Okta users: 2FA',
      'new.action': 'require_totp',
      'new.idpIds': okta.id,
      'new.rememberDeviceDays': '7',
      'new.freshFactor': 'on',
    });
    t.equal(second.statusCode, 303);
    t.same(await rulesOf(), [
      {
        id: 'no-contractors',
        name: 'No contractors',
        conditions: { groups: ['contractors', 'temps'] },
        action: 'deny',
        message: 'Use the partner portal.',
      },
      {
        id: 'okta-2fa',
        name: 'Okta users: 2FA',
        conditions: { idpIds: [okta.id] },
        action: 'require_totp',
        freshFactor: true,
        rememberDeviceDays: 7,
      },
    ]);
    const page = await admin.get(url);
    t.match(page.body, /<legend>Rule 1: No contractors<\/legend>/);
    t.match(page.body, /<legend>Rule 2: Okta users: 2FA<\/legend>/);
    t.match(
      page.body,
      new RegExp(`name="rules.1.idpIds" value="${okta.id}" checked`),
      'the IdP condition is shown ticked',
    );
  });

  t.test('edit the list: an invalid field is shown next to its row and nothing is saved', async (t) => {
    const before = await rulesOf();
    const form = {
      'rules.0.id': 'no-contractors',
      'rules.0.name': 'No contractors',
      'rules.0.action': 'deny',
      'rules.0.groups': 'contractors, temps',
      'rules.0.message': 'Use the partner portal.',
      'rules.1.id': 'okta-2fa',
      'rules.1.name': 'Okta users: 2FA',
      'rules.1.action': 'require_totp',
      'rules.1.idpIds': okta.id,
      'rules.1.rememberDeviceDays': '999',
      'rules.1.freshFactor': 'on',
      op: 'save',
    };
    const bad = await admin.post(`${url}/rules`, form);
    t.equal(bad.statusCode, 400);
    t.match(
      fieldError(bad.body, 'rules-1-rememberDeviceDays'),
      /Remember device \(days\): must be a whole number of days from 0 to 365/,
    );
    t.equal(fieldError(bad.body, 'rules-0-groups'), null, 'the valid row has no error');
    t.equal(inputValue(bad.body, 'rules-1-rememberDeviceDays'), '999', 'the submitted value is kept');
    const badId = await admin.post(`${url}/rules`, {
      ...form,
      'rules.1.rememberDeviceDays': '7',
      'rules.1.id': 'no-contractors',
    });
    t.match(fieldError(badId.body, 'rules-1-id'), /duplicate rule id/);
    t.same(await rulesOf(), before, 'nothing saved');

    const saved = await admin.post(`${url}/rules`, {
      ...form,
      'rules.1.rememberDeviceDays': '14',
      'rules.0.groups': 'contractors',
    });
    t.equal(saved.statusCode, 303);
    t.equal(saved.headers.location, `${url}?done=saved`);
    t.match(await rulesOf(), [
      { id: 'no-contractors', conditions: { groups: ['contractors'] } },
      { id: 'okta-2fa', rememberDeviceDays: 14 },
    ]);

    t.test('move a rule up (order decides), then remove one', async (t) => {
      const current = { ...form, 'rules.1.rememberDeviceDays': '14', 'rules.0.groups': 'contractors' };
      const up = await admin.post(`${url}/rules`, { ...current, op: 'up:1' });
      t.equal(up.statusCode, 303);
      t.same(
        (await rulesOf()).map((r) => r.id),
        ['okta-2fa', 'no-contractors'],
      );
      const page = await admin.get(url);
      t.match(page.body, /<legend>Rule 1: Okta users: 2FA<\/legend>/);
      t.match(page.body, /value="down:0"/);
      t.notMatch(page.body, /value="up:0"/, 'the first rule cannot move up');
      const removed = await admin.post(`${url}/rules`, {
        'rules.0.id': 'okta-2fa',
        'rules.0.action': 'require_totp',
        'rules.0.idpIds': okta.id,
        'rules.1.id': 'no-contractors',
        'rules.1.action': 'deny',
        'rules.1.groups': 'contractors',
        op: 'remove:0',
      });
      t.equal(removed.statusCode, 303);
      t.same(await rulesOf(), [{ id: 'no-contractors', conditions: { groups: ['contractors'] }, action: 'deny' }]);
      const changes = (await policyAudit()).filter((e) => e.details.change === 'rules');
      t.equal(changes.length, 5, 'two additions, one save, one move, one removal');
      t.ok(changes.every((e) => e.actor === admin.email && e.appId === jira.id));
    });

    t.test('2FA switched on keeps the deny rule in front', async (t) => {
      await admin.post(`${url}/two-factor`, { enabled: 'on', rememberDeviceDays: '0' });
      t.same(
        (await rulesOf()).map((r) => r.id),
        ['no-contractors', 'everyone-totp'],
      );
      t.notMatch((await admin.get(url)).body, /Never reached/);
      await admin.post(`${url}/rules/add`, { 'new.name': 'No temps', 'new.action': 'deny', 'new.groups': 'temps' });
      t.same(
        (await rulesOf()).map((r) => r.id),
        ['no-contractors', 'everyone-totp', 'no-temps'],
        'a new rule goes to the end',
      );
      const page = await admin.get(url);
      t.match(
        page.body,
        /<legend>Rule 3: No temps<\/legend>\s*<p class="message">Never reached: a rule above matches everyone/,
        'a rule behind the 2FA-for-everyone rule is flagged',
      );
      t.equal(page.body.match(/Never reached/g)?.length, 1);
      t.match(
        (await admin.get('/admin/policies')).body,
        /No temps — deny <span class="badge off">never reached<\/span>/,
      );
    });
  });

  t.test("another organisation's app: not found, nothing changes", async (t) => {
    const before = await rulesOf();
    t.equal((await other.get(url)).statusCode, 404);
    t.equal((await other.post(`${url}/two-factor`, { rememberDeviceDays: '0' })).statusCode, 404);
    t.equal((await other.post(`${url}/rules`, { op: 'save' })).statusCode, 404);
    t.equal((await other.post(`${url}/rules/add`, { 'new.action': 'allow', 'new.name': 'x' })).statusCode, 404);
    t.notMatch((await other.get('/admin/policies')).body, /Jira/);
    t.same(await rulesOf(), before);
  });

  t.test('POSTs without the CSRF token are refused', async (t) => {
    const before = await rulesOf();
    t.equal((await admin.post(`${url}/two-factor`, { _csrf: '', rememberDeviceDays: '0' })).statusCode, 403);
    t.equal((await admin.post(`${url}/rules`, { _csrf: 'forged', op: 'save' })).statusCode, 403);
    t.equal((await admin.post(`${url}/rules/add`, { _csrf: '', 'new.action': 'allow' })).statusCode, 403);
    t.same(await rulesOf(), before);
  });
});

t.test('end to end: 2FA enabled in the console sends the next login of that app to the TOTP stage', async (t) => {
  // The fake IdP's assertions carry real timestamps, so the broker's clock starts at real time.
  const ta = await createTestApp({ clock: new ManualClock(new Date()) });
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const pp = ta.ctx.store.forOrg(admin.orgId);
  const urls = orgUrls(ta.config, 'piedpipers');
  const fake = new FakeIdp({ entityId: 'https://okta.idp.example/saml' });
  await saveIdentityProvider(pp, {
    name: 'Okta',
    entityId: fake.entityId,
    ssoUrl: 'https://okta.idp.example/sso',
    certificates: [fake.certificatePem],
    mappingPreset: 'okta',
    emailDomains: ['customer.example'],
  });
  await pp.users.create({ email: 'ann@customer.example' });
  const added = await admin.post('/admin/apps/new', {
    name: 'Jira',
    entityId: 'https://jira.example/sp',
    acsUrls: 'https://jira.example/acs',
    signResponse: 'on',
    nameIdFormat: 'emailAddress',
    'release.email': 'on',
  });
  t.equal(added.statusCode, 303);
  const appId = /\/admin\/apps\/([^?]+)/.exec(String(added.headers.location))![1];

  /** Launch link → upstream IdP → back at the broker's ACS → the continue step; what comes after it. */
  async function login() {
    const browser = new Browser(ta);
    const start = await browser.get(urls.appLaunch(appId));
    const upstream = upstreamRequest(String(start.headers.location));
    const samlResponse = await fake.response({
      acsUrl: urls.spAcs,
      audience: urls.spEntityId,
      inResponseTo: upstream.id,
      nameId: 'ann@customer.example',
    });
    const acs = await browser.post(
      urls.spAcs,
      { SAMLResponse: samlResponse, RelayState: upstream.relayState },
      { crossSite: true },
    );
    return browser.get(`${urls.base}${acs.headers.location}`);
  }

  const before = await login();
  t.equal(before.statusCode, 200, 'without 2FA the user goes straight to the app');
  t.equal(formIn(before.body)?.action, 'https://jira.example/acs');

  const on = await admin.post(`/admin/policies/${appId}/two-factor`, { enabled: 'on', rememberDeviceDays: '0' });
  t.equal(on.statusCode, 303);
  const after = await login();
  t.equal(after.statusCode, 303);
  t.match(after.headers.location, /^\/flow\/[^/]+\/mfa$/, 'the next login goes to the TOTP stage');
  t.notOk(formIn(after.body)?.fields.SAMLResponse, 'and nothing reaches the app');
});
