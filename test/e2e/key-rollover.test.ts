// Signing-key rollover: next key published before use, promotion, grace period, retirement; apps that refreshed
// their metadata never see a failed login.
import t from 'tap';
import { SAML } from '@node-saml/node-saml';
import { Browser } from '../helpers/browser.ts';
import { appReceives, createWorld, idpAnswers } from '../helpers/sso-world.ts';
import { parseIdpMetadata } from '../../src/orgs/remote/metadata-import.ts';
import { createNextKey, promoteNextKey, retirePreviousKeys } from '../../src/orgs/hosted/key-rollover.ts';
import { AppError } from '../../src/errors.ts';

t.test('key rollover', async (t) => {
  const w = await createWorld();
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { app } = await w.addApp('Jira');
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const tenant = {
    org: (await w.ta.ctx.store.organizations.findById(w.org.org.id))!,
    store: w.org.store,
    urls: w.org.urls,
  };
  const metadataCerts = async () =>
    parseIdpMetadata((await w.ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' })).body)
      .certificates;
  const appTrusting = (certs: string[]) =>
    new SAML({ ...(w.nodeSaml(app, 'never') as unknown as { options: object }).options, idpCert: certs } as never);
  async function login(sp: SAML) {
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const acs = await idpAnswers(w, browser, fake, String(start.headers.location));
    return (await browser.follow(acs.res, w.base)).res;
  }
  const oldCerts = await metadataCerts();
  t.equal(oldCerts.length, 1);

  await t.test('a next key is published but does not sign yet', async (t) => {
    await createNextKey(w.ta.ctx, tenant, 'test');
    const certs = await metadataCerts();
    t.equal(certs.length, 2, 'both keys in the metadata');
    t.equal(certs[0], oldCerts[0], 'the active key first');
    const { profile } = await appReceives(appTrusting(oldCerts), await login(appTrusting(oldCerts)));
    t.equal(profile.nameID, 'ann@customer.example', 'an app that still has the old metadata keeps working');
    await t.rejects(createNextKey(w.ta.ctx, tenant, 'test'), { code: 'next_key_exists' });
  });

  let refreshed: string[] = [];
  await t.test('promotion: the new key signs; the old one stays published for the grace period', async (t) => {
    refreshed = await metadataCerts(); // an app that refreshed after the next key appeared
    await promoteNextKey(w.ta.ctx, tenant, 'test');
    const certs = await metadataCerts();
    t.equal(certs.length, 2);
    t.not(certs[0], oldCerts[0], 'the new key is now first');
    const page = await login(appTrusting(refreshed));
    const { profile } = await appReceives(appTrusting(refreshed), page);
    t.equal(profile.nameID, 'ann@customer.example', 'an app that refreshed its metadata never sees a failed login');
    await t.rejects(
      appTrusting(oldCerts).validatePostResponseAsync({
        SAMLResponse: /name="SAMLResponse" value="([^"]+)"/.exec(page.body)![1],
      }),
      'responses are no longer signed by the old key',
    );
  });

  await t.test('retirement removes the previous key from the metadata', async (t) => {
    t.equal(await retirePreviousKeys(w.ta.ctx, tenant, 'test'), 1);
    const certs = await metadataCerts();
    t.equal(certs.length, 1);
    t.notOk(certs.includes(oldCerts[0]));
    const err = (await promoteNextKey(w.ta.ctx, tenant, 'test').catch((e) => e)) as AppError;
    t.equal(err.code, 'no_next_key');
    const audit = (await w.org.store.audit.list()).map((e) => e.type);
    for (const type of ['key.next_created', 'key.promoted', 'key.retired']) t.ok(audit.includes(type), type);
  });
});
