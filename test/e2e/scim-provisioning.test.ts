// SCIM provisioning acting on real sign-ins (docs/scim.md): a group pushed by the IdP's SCIM client decides an app
// policy's group condition at the next sign-in; deactivation ends the user's broker session, so the next app
// login is refused instead of riding on it, and a fresh login through the IdP is refused too.
import t from 'tap';
import { Browser, formIn } from '../helpers/browser.ts';
import { testProviders } from '../helpers/context.ts';
import { appReceives, createWorld, idpAnswers } from '../helpers/sso-world.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

for (const provider of testProviders()) {
  t.test(`SCIM deprovisioning and groups reach sign-ins (${provider})`, async (t) => {
    const w = await createWorld('piedpipers', provider);
    t.teardown(w.ta.cleanup);
    const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
    const { app, sp } = await w.addApp('Jira', { primaryIdpId: idp.id });
    const { sp: wiki } = await w.addApp('Wiki', { primaryIdpId: idp.id });
    // Jira: members of the SCIM group "Sales" only.
    await w.org.store.applications.update(app.id, {
      policy: [
        { id: 'sales', action: 'allow', conditions: { groups: ['Sales'] } },
        { id: 'others', action: 'deny', conditions: {}, message: 'Sales only.' },
      ],
    });
    const { token } = await createScimToken(w.org.store, w.ta.clock, idp.id, 'okta', 'test');
    const scim = (method: string, path: string, body?: unknown) =>
      w.ta.request('piedpipers', {
        method: method as 'GET',
        url: `/scim/v2/${idp.id}${path}`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
    const ann = (
      await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'ann@customer.example',
        emails: [{ value: 'ann@customer.example', primary: true }],
        name: { givenName: 'Ann', familyName: 'Lee' },
        active: true,
      })
    ).json();
    const sales = (
      await scim('POST', '/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'Sales',
        members: [],
      })
    ).json();
    const user = { email: 'ann@customer.example', attributes: { Email: ['ann@customer.example'] } };

    /** A sign-in to `target` through the IdP in a fresh browser: the page the browser ends on. */
    const freshLogin = async (target = sp) => {
      const browser = new Browser(w.ta);
      const start = await browser.get(await target.getAuthorizeUrlAsync('', undefined, {}));
      const acs = await idpAnswers(w, browser, fake, String(start.headers.location), user);
      return { browser, res: (await browser.follow(acs.res, w.base)).res };
    };

    const denied = await freshLogin();
    t.equal(codeOf(denied.res.body), 'policy_denied', 'not in Sales yet: Jira refuses');

    t.equal(
      (
        await scim('PATCH', `/Groups/${sales.id}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value: ann.id }] }],
        })
      ).statusCode,
      200,
    );
    const allowed = await freshLogin();
    const { profile } = await appReceives(sp, allowed.res);
    t.equal(profile.nameID, 'ann@customer.example', 'in Sales: Jira lets her in at the next sign-in');
    t.same([profile.groups].flat(), ['Sales'], 'the group is released with the directory groups');
    t.match(
      await w.org.store.users.findByIdentity(idp.id, 'ann@customer.example'),
      { id: ann.id },
      'the sign-in found the provisioned link',
    );

    // Riding on the broker session works before deprovisioning…
    const ride = await allowed.browser.get(await wiki.getAuthorizeUrlAsync('', undefined, {}));
    t.match(String(ride.headers.location), /^\/flow\/[^/]+\/continue$/, 'the session carries her to a second app');
    await appReceives(wiki, (await allowed.browser.follow(ride, w.base)).res);

    const off = await scim('PATCH', `/Users/${ann.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    t.equal(off.json().active, false);
    const sessions = await w.ta.ctx.store.db.brokerSession.findMany({ where: { userId: ann.id } });
    t.ok(sessions.length >= 1 && sessions.every((s) => s.endedAt), 'every broker session of hers has ended');
    const event = (await w.org.store.audit.list({ type: 'scim.user_deactivated' }))[0];
    t.match(event, { userId: ann.id, idpId: idp.id });

    // …and not after: the next app request goes to the IdP again, and the IdP's answer is refused.
    const after = await allowed.browser.get(await wiki.getAuthorizeUrlAsync('', undefined, {}));
    t.equal(after.statusCode, 302, 'no session to ride on: off to the IdP');
    t.match(String(after.headers.location), /^https:\/\/okta\.idp\.example\/sso/);
    const acs = await idpAnswers(w, allowed.browser, fake, String(after.headers.location), user);
    const refused = (await allowed.browser.follow(acs.res, w.base)).res;
    t.equal(codeOf(refused.body), 'user_disabled', 'a login after deactivation is refused');
    t.notOk(formIn(refused.body)?.fields.SAMLResponse, 'no assertion');

    t.equal((await scim('DELETE', `/Users/${ann.id}`)).statusCode, 204);
    t.equal(codeOf((await freshLogin()).res.body), 'user_disabled', 'a deleted user cannot sign in either');
    t.same((await w.org.store.users.findById(ann.id))!.groups, [], 'and leaves her SCIM groups');
  });
}
