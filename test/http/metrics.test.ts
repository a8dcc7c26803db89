// /metrics reports logins, per-hop latency, TOTP failures and upstream errors; it can require a bearer token.
import t from 'tap';
import { Browser } from '../helpers/browser.ts';
import { appReceives, createWorld, idpAnswers } from '../helpers/sso-world.ts';
import { createTestApp } from '../helpers/app.ts';

t.test('metrics after real logins', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);
  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
  await appReceives(sp, (await browser.follow(acs.res, w.base)).res);
  await browser.post(
    w.org.urls.spAcs,
    { SAMLResponse: acs.samlResponse, RelayState: acs.relayState },
    { crossSite: true },
  );

  const res = await w.ta.app.inject({ method: 'GET', url: '/metrics', headers: { host: '10.0.0.1:3000' } });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/plain/);
  t.match(res.body, /broker_logins_total\{org="piedpipers",outcome="success"\} 1/);
  t.match(res.body, /broker_stage_duration_seconds_count\{stage="POST \/saml\/sp\/acs"\} 2/);
  t.match(res.body, /broker_stage_duration_seconds_count\{stage="GET \/saml\/idp\/sso"\} 1/);
  // The same Response again names a flow that has completed: refused as a re-post (the Back button's case).
  t.match(res.body, /broker_upstream_errors_total\{org="piedpipers",code="flow_already_used"\} 1/);
});

t.test('METRICS_TOKEN protects /metrics', async (t) => {
  const ta = await createTestApp({ env: { METRICS_TOKEN: 'a-long-metrics-token-123' } });
  t.teardown(ta.cleanup);
  t.equal((await ta.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
  t.equal(
    (await ta.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong-token-xxxxxxxx' } }))
      .statusCode,
    401,
  );
  t.equal(
    (
      await ta.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer a-long-metrics-token-123' },
      })
    ).statusCode,
    200,
  );
});
