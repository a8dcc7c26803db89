// The console's overview on both databases: sign-ins per UTC day for the last 30 days by outcome, by IdP and by app,
// the share of users with an authenticator, and the most frequent error codes, each linking to the audit log filtered
// by that code. Counted from audit lines written at known times; other organisations' lines never count.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';

for (const provider of ['sqlite', 'postgresql'] as const) {
  t.test(provider, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    ta.clock.set(new Date('2026-03-31T12:00:00Z'));
    const admin = await signedInAdmin(ta, 'chartco');
    const other = await signedInAdmin(ta, 'otherco');
    const store = ta.ctx.store.forOrg(admin.orgId);
    const okta = await store.identityProviders.create({
      name: 'Okta',
      entityId: 'https://okta.example/e',
      ssoUrl: 'https://okta.example/sso',
    });
    const wso2 = await store.identityProviders.create({
      name: 'WSO2',
      entityId: 'https://wso2.example/e',
      ssoUrl: 'https://wso2.example/sso',
    });
    const jira = await store.applications.create({
      name: 'Jira portal',
      entityId: 'https://jira.example/e',
      acsUrls: ['https://jira.example/acs'],
    });
    const at = (iso: string) => new Date(iso);
    const line = (type: string, iso: string, extra: Record<string, unknown> = {}) =>
      store.audit.record({ type, at: at(iso), ...extra });
    // 2026-03-31 (today): 3 sign-ins (2 Okta, 1 WSO2), 1 refused; 2026-03-30: 1 sign-in, 2 second-factor failures;
    // 2026-03-02 (the first day shown): 1 sign-in; 2026-03-01 (31 days ago): not shown.
    await line('login.success', '2026-03-31T08:00:00Z', { idpId: okta.id, appId: jira.id });
    await line('login.success', '2026-03-31T09:00:00Z', { idpId: okta.id, appId: jira.id });
    await line('login.success', '2026-03-31T00:00:00Z', { idpId: wso2.id, appId: jira.id });
    await line('login.denied', '2026-03-31T10:00:00Z', { outcome: 'failure', code: 'policy_denied' });
    await line('login.success', '2026-03-30T23:59:59Z', { idpId: okta.id, appId: jira.id });
    await line('mfa.verify_failed', '2026-03-30T10:00:00Z', { outcome: 'failure', code: 'mfa_invalid_code' });
    await line('mfa.verify_failed', '2026-03-30T10:01:00Z', { outcome: 'failure', code: 'mfa_invalid_code' });
    await line('login.success', '2026-03-02T00:00:00Z', { idpId: okta.id, appId: jira.id });
    await line('login.success', '2026-03-01T23:59:59Z', { idpId: okta.id, appId: jira.id });
    await line('admin.signed_in', '2026-03-31T07:00:00Z');
    await ta.ctx.store.forOrg(other.orgId).audit.record({ type: 'login.success', at: at('2026-03-31T08:00:00Z') });
    const u1 = await store.users.create({ email: 'a@chartco.example' });
    await store.users.create({ email: 'b@chartco.example' });
    await store.users.create({ email: 'c@chartco.example' });
    await store.users.create({ email: 'd@chartco.example' });
    await store.totp.savePending(u1.id, { secretEnc: 'x', algorithm: 'SHA1', digits: 6, period: 30 });
    await store.totp.activate(u1.id, ta.clock.now());

    const page = (await admin.get('/admin')).body;
    t.match(
      page,
      /signed in \(5\)/,
      "5 sign-ins in the 30 days (not the one 31 days ago, not the other organisation's)",
    );
    t.match(page, /refused \(1\)/);
    t.match(page, /second factor failed \(2\)/);
    t.match(page, /<tr><td>2026-03-31<\/td><td>3<\/td><td>1<\/td><td>0<\/td><\/tr>/, 'today by UTC day');
    t.match(page, /<tr><td>2026-03-30<\/td><td>1<\/td><td>0<\/td><td>2<\/td><\/tr>/, '23:59:59 belongs to its own day');
    t.match(page, /<tr><td>2026-03-02<\/td><td>1<\/td><td>0<\/td><td>0<\/td><\/tr>/, 'the first of the 30 days');
    t.notMatch(page, /<td>2026-03-01<\/td>/, 'the 31st day back is not shown');
    t.equal((page.match(/<rect class="bar-/g) ?? []).length, 5, 'one bar segment per outcome and day that has any');
    t.match(page, /busiest day: 4/);
    t.match(
      page,
      /<th scope="row">Okta<\/th><td><meter min="0" max="100" value="100"><\/meter> 4<\/td>/,
      'by IdP, the busiest as the full bar',
    );
    t.match(page, /<th scope="row">WSO2<\/th><td><meter min="0" max="100" value="25"><\/meter> 1<\/td>/);
    t.match(page, /<th scope="row">Jira portal<\/th>/);
    t.match(page, /<strong>25 %<\/strong> of users have an authenticator enrolled \(1 of 4\)/);
    t.match(
      page,
      /<a href="\/admin\/audit\?code=mfa_invalid_code"><code>mfa_invalid_code<\/code><\/a> × 2/,
      'most frequent error first, linked to the audit log',
    );

    const filtered = (await admin.get('/admin/audit?code=mfa_invalid_code')).body;
    t.equal(
      (filtered.match(/mfa\.verify_failed/g) ?? []).length >= 2,
      true,
      'the audit log filtered by code shows those lines',
    );
    t.notMatch(filtered, /policy_denied/, 'and not the others');
    const api = await ta.request('chartco', {
      method: 'GET',
      url: '/api/audit?code=policy_denied',
      headers: { authorization: `Bearer ${await admin.apiToken()}` },
    });
    t.equal(api.statusCode, 200);
    t.same(
      api.json().events.map((e: { type: string }) => e.type),
      ['login.denied'],
      'the API filters by code too',
    );

    const empty = (await other.get('/admin')).body;
    t.match(empty, /No refusals in the last 30 days/);
  });
}
