// The console shows each admin only the buttons and forms their role may use (src/admin/roles.ts canUse, read from
// the same route rules the server enforces): a viewer sees no create, edit or delete control; helpdesk sees only
// reset second factor, unlock, revoke devices and remove a passkey (and reads the audit log); an admin sees no
// owner-only action (the admins page, deleting the organisation). For every control a role does not see, the server
// still refuses the route with 403 forbidden_role. And no page offers any role a control the server would refuse.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { adminWithRole, signedInAdmin, type AdminClient } from '../helpers/admin.ts';
import { canUse, ROLES, type AdminRole } from '../../src/admin/roles.ts';

t.test('buttons and forms by role', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const owner = await signedInAdmin(ta, 'rolebuttons');
  const clients: Record<AdminRole, AdminClient> = {
    owner,
    admin: await adminWithRole(ta, owner, 'admin'),
    helpdesk: await adminWithRole(ta, owner, 'helpdesk'),
    viewer: await adminWithRole(ta, owner, 'viewer'),
  };

  // Something to act on: an app, an identity provider, a user with a second factor that failed, a passkey, a
  // remembered device and a linked identity.
  const store = ta.ctx.store.forOrg(owner.orgId);
  const now = ta.clock.now();
  const app = await store.applications.create({
    name: 'Jira',
    entityId: 'https://jira.example/sp',
    acsUrls: ['https://jira.example/acs'],
  });
  const idp = await store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://okta.example/idp',
    ssoUrl: 'https://okta.example/sso',
    certificates: [],
  });
  const user = await store.users.create({ email: 'ann@customer.example' });
  await store.users.link(user.id, idp.id, 'ann@customer.example');
  await store.totp.saveConfirmed(user.id, { secretEnc: 'x', algorithm: 'SHA1', digits: 6, period: 30 }, 1, now);
  await store.totp.recordFailure(user.id);
  const passkey = await store.webauthn.create({
    userId: user.id,
    credentialId: 'cred-ann',
    publicKey: 'pk',
    counter: 0,
    transports: ['usb'],
    deviceType: 'singleDevice',
    backedUp: false,
    name: 'Blue key',
  });
  await store.devices.create({ userId: user.id, label: 'laptop', expiresAt: new Date(now.getTime() + 86_400_000) });
  const [link] = await store.users.identities(user.id);

  const pages = [
    '/admin',
    '/admin/apps',
    `/admin/apps/${app.id}`,
    '/admin/idps',
    `/admin/idps/${idp.id}`,
    '/admin/users',
    `/admin/users/${user.id}`,
    '/admin/policies',
    `/admin/policies/${app.id}`,
    '/admin/organization',
    '/admin/organization/keys',
    '/admin/audit',
  ];

  /** Every control of a page: the forms that post ("POST /path") and the console links styled as buttons ("GET /path"). */
  async function controlsOf(client: AdminClient, url: string) {
    const res = await client.get(url);
    t.equal(res.statusCode, 200, `${client.email}: ${url} opens`);
    const posts = [...res.body.matchAll(/<form method="post" action="([^"]+)"/g)].map(
      (m) => `POST ${m[1].replaceAll('&amp;', '&')}`,
    );
    const buttons = [...res.body.matchAll(/<a class="button[^"]*" href="(\/admin[^"?#]*)[^"]*"/g)].map(
      (m) => `GET ${m[1]}`,
    );
    return new Set([...posts, ...buttons].filter((c) => c !== 'POST /admin/logout'));
  }

  const seen = {} as Record<AdminRole, Set<string>>;
  for (const role of ROLES) {
    seen[role] = new Set();
    for (const url of pages) for (const c of await controlsOf(clients[role], url)) seen[role].add(c);
  }

  t.test('no page offers a control the server would refuse', async (t) => {
    for (const role of ROLES) {
      for (const control of seen[role]) {
        const [method, path] = control.split(' ');
        t.ok(canUse(ta.app.registeredRoutes, role, method, path), `${role}: ${control} is allowed`);
      }
    }
  });

  const u = `/admin/users/${user.id}`;
  const helpdeskActions = [
    `POST ${u}/reset-totp`,
    `POST ${u}/unlock`,
    `POST ${u}/revoke-devices`,
    `POST ${u}/passkeys/${passkey!.id}/remove`,
  ];
  const adminActions = [
    'GET /admin/apps/new',
    `POST /admin/apps/${app.id}`,
    `POST /admin/apps/${app.id}/enabled`,
    `GET /admin/apps/${app.id}/delete`,
    'GET /admin/idps/new',
    `POST /admin/idps/${idp.id}`,
    `POST /admin/idps/${idp.id}/enabled`,
    `POST /admin/idps/${idp.id}/test`,
    `GET /admin/idps/${idp.id}/delete`,
    `POST /admin/idps/${idp.id}/scim-tokens`,
    'GET /admin/users/new',
    'GET /admin/users/import',
    `POST ${u}`,
    `POST ${u}/disable`,
    `POST ${u}/identities`,
    `POST ${u}/identities/${link.id}/unlink`,
    `GET ${u}/delete`,
    `POST /admin/policies/${app.id}/two-factor`,
    `POST /admin/policies/${app.id}/rules`,
    `POST /admin/policies/${app.id}/rules/add`,
    'POST /admin/organization',
    'POST /admin/organization/logo',
    'POST /admin/organization/keys/next',
  ];
  const ownerActions = ['GET /admin/organization/delete'];
  const shown: Record<AdminRole, string[]> = {
    viewer: [],
    helpdesk: helpdeskActions,
    admin: [...helpdeskActions, ...adminActions],
    owner: [...helpdeskActions, ...adminActions, ...ownerActions],
  };
  const all = [...helpdeskActions, ...adminActions, ...ownerActions];

  for (const role of ROLES) {
    t.test(`${role}: sees exactly what the role may do, and the server refuses the rest`, async (t) => {
      for (const control of all) {
        const expected = shown[role].includes(control);
        t.equal(seen[role].has(control), expected, `${role}: ${control} is ${expected ? 'shown' : 'hidden'}`);
        if (expected) continue;
        const [method, path] = control.split(' ');
        const res = method === 'GET' ? await clients[role].get(path) : await clients[role].post(path);
        t.equal(res.statusCode, 403, `${role}: ${control} is refused by the server`);
        t.match(res.body, /forbidden_role|needs the \w+ role/, `${role}: ${control} refused for the role`);
      }
      if (role !== 'owner') {
        t.notOk(seen[role].has('GET /admin/admins'), `${role}: no admins page`);
        t.notMatch(
          (await clients[role].get('/admin')).body,
          /href="\/admin\/admins"/,
          `${role}: the navigation has no Admins entry`,
        );
        t.equal((await clients[role].get('/admin/admins')).statusCode, 403, `${role}: the admins page is refused`);
      }
    });
  }

  t.test('read-only roles still see the settings, in a disabled fieldset without a Save button', async (t) => {
    const page = (await clients.viewer.get(`/admin/apps/${app.id}`)).body;
    t.match(page, /<fieldset class="read-only" disabled>/);
    t.match(page, /Read only: changing this needs the admin role \(you have the viewer role\)/);
    t.notMatch(page, />Save</);
    const policies = (await clients.helpdesk.get(`/admin/policies/${app.id}`)).body;
    t.notMatch(policies, />(Save rules|Add rule|Remove|Move up|Move down)</, 'helpdesk: no rule controls');
    t.match((await clients.viewer.get('/admin/policies')).body, />View</, 'the policy list says View to a viewer');
    t.match((await clients.admin.get('/admin/policies')).body, />Edit</, 'and Edit to an admin');
  });

  t.test('canUse refuses to guess about a route that does not exist', async (t) => {
    t.throws(() => canUse(ta.app.registeredRoutes, 'owner', 'POST', '/admin/no/such/route'), /no route POST/);
    t.equal(
      canUse(ta.app.registeredRoutes, 'admin', 'GET', '/admin/apps/new'),
      true,
      'a static segment wins over /admin/apps/:id',
    );
    t.equal(canUse(ta.app.registeredRoutes, 'viewer', 'GET', '/admin/apps/new'), false);
    t.equal(canUse(ta.app.registeredRoutes, 'viewer', 'GET', `/admin/apps/${app.id}`), true);
  });
});
