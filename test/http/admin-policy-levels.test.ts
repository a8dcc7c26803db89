// The second-factor level of a 2-factor rule (issue 23), chosen in the console's rule editor:
// stored only when it is not the default (TOTP), shown again as chosen, and refused when it is not a level.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { saveApplication } from '../../src/orgs/remote/registrations.ts';

t.test('console and API: the second-factor level of a rule', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'piedpipers');
  const pp = ta.ctx.store.forOrg(admin.orgId);
  const jira = await saveApplication(pp, {
    name: 'Jira',
    entityId: 'https://jira.example',
    acsUrls: ['https://jira.example/acs'],
  });
  const rulesOf = async () => (await pp.applications.findById(jira.id))!.policy as Record<string, unknown>[];
  const url = `/admin/policies/${jira.id}`;

  const page = await admin.get(url);
  t.match(
    page.body,
    /<option value="webauthn">Passkey or security key only \(phishing-resistant\)<\/option>/,
    'the levels are offered',
  );
  const added = await admin.post(`${url}/rules/add`, {
    'new.id': 'passkeys',
    'new.name': 'Passkeys',
    'new.action': 'require_totp',
    'new.secondFactor': 'webauthn',
  });
  t.equal(added.statusCode, 303);
  const totp = await admin.post(`${url}/rules/add`, {
    'new.id': 'codes',
    'new.name': 'Codes',
    'new.action': 'require_totp',
    'new.secondFactor': 'totp',
  });
  t.equal(totp.statusCode, 303);
  t.same(
    (await rulesOf()).map((r) => [r.id, r.secondFactor]),
    [
      ['passkeys', 'webauthn'],
      ['codes', undefined],
    ],
    'the default level is not stored',
  );
  t.match(
    (await admin.get(url)).body,
    /name="rules.0.secondFactor"[^>]*>[\s\S]*?<option value="webauthn" selected>/,
    'shown as chosen',
  );
  const bad = await admin.post(`${url}/rules/add`, {
    'new.id': 'odd',
    'new.name': 'Odd',
    'new.action': 'require_totp',
    'new.secondFactor': 'sms',
  });
  t.equal(bad.statusCode, 400, 'not a level');
  t.equal((await rulesOf()).length, 2, 'nothing saved');
});
