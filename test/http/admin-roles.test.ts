// Every console and API route × every role, table-driven: the routes are those the app registered (enumerated by
// its onRoute record, src/admin/roles.ts), so a new /admin or /api route without a rule, or with a rule this table
// does not expect, fails here. Then each rule is enforced: a role below it gets 403 forbidden_role naming the role
// needed (console and API alike); a role at or above it gets past the check. SQLite for the full table; the API
// table again on PostgreSQL.
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { ROLES, roleAllows, type AdminRole, type RouteAccess } from '../../src/admin/roles.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { adminWithRole, signedInAdmin, type AdminClient } from '../helpers/admin.ts';
import { testProviders } from '../helpers/context.ts';

/** The expected rule of every console and API route ("METHOD url"). */
const EXPECTED: Record<string, RouteAccess> = {
  // sign-in and invitations: no session yet
  'GET /admin/login': 'public',
  'POST /admin/login': 'public',
  'GET /admin/login/totp': 'public',
  'POST /admin/login/totp': 'public',
  'GET /admin/invite/:token': 'public',
  'POST /admin/invite/:token': 'public',
  'GET /api/openapi.json': 'public',
  // one's own session
  'POST /admin/logout': 'viewer',
  'GET /admin/password': 'viewer',
  'POST /admin/password': 'viewer',
  'GET /admin/security': 'viewer',
  'POST /admin/security/totp': 'viewer',
  'POST /admin/security/totp/remove': 'viewer',
  // reading
  'GET /admin': 'viewer',
  'GET /admin/organization': 'viewer',
  'GET /admin/organization/keys': 'viewer',
  'GET /admin/idps': 'viewer',
  'GET /admin/idps/:id': 'viewer',
  'GET /admin/apps': 'viewer',
  'GET /admin/apps/:id': 'viewer',
  'GET /admin/apps/:id/metadata.xml': 'viewer',
  'GET /admin/policies': 'viewer',
  'GET /admin/policies/:appId': 'viewer',
  'GET /admin/users': 'viewer',
  'GET /admin/users/:id': 'viewer',
  'GET /admin/users/export.csv': 'viewer',
  'GET /admin/users/import/:jobId': 'viewer',
  'GET /admin/audit': 'viewer',
  'GET /admin/audit/export.csv': 'viewer',
  'GET /api/organization': 'viewer',
  'GET /api/keys': 'viewer',
  'GET /api/idps': 'viewer',
  'GET /api/idps/:id': 'viewer',
  'GET /api/apps': 'viewer',
  'GET /api/apps/:id': 'viewer',
  'GET /api/apps/:id/metadata': 'viewer',
  'GET /api/apps/:id/policy': 'viewer',
  'GET /api/users': 'viewer',
  'GET /api/users/:id': 'viewer',
  'GET /api/users/:id/identities': 'viewer',
  'GET /api/users/:id/sessions': 'viewer',
  'GET /api/users/export': 'viewer',
  'GET /api/users/import/:jobId': 'viewer',
  'GET /api/audit': 'viewer',
  'GET /api/audit/export': 'viewer',
  // helpdesk
  'POST /admin/users/:id/unlock': 'helpdesk',
  'POST /admin/users/:id/reset-totp': 'helpdesk',
  'POST /admin/users/:id/revoke-devices': 'helpdesk',
  'POST /api/users/:id/unlock': 'helpdesk',
  'POST /api/users/:id/reset-totp': 'helpdesk',
  'POST /api/users/:id/revoke-devices': 'helpdesk',
  'POST /admin/users/:id/passkeys/:passkeyId/remove': 'helpdesk',
  'DELETE /api/users/:id/passkeys/:passkeyId': 'helpdesk',
  'POST /admin/users/:id/sessions/revoke': 'helpdesk',
  'POST /api/users/:id/sessions/revoke': 'helpdesk',
  // bulk actions: the confirmation page passes every role at the gate, then refuses by the rule of the action's POST
  // route (users-bulk-and-filters.test.ts); each action's route needs what its single-user action needs
  'GET /admin/users/bulk': 'viewer',
  'POST /admin/users/bulk/reset-totp': 'helpdesk',
  'POST /api/users/bulk/reset-totp': 'helpdesk',
  'POST /admin/users/bulk/disable': 'admin',
  'POST /api/users/bulk/disable': 'admin',
  // configuration and users
  'POST /admin/organization': 'admin',
  'POST /admin/organization/logo': 'admin',
  'POST /admin/organization/logo/remove': 'admin',
  'POST /admin/organization/keys/next': 'admin',
  'POST /admin/organization/keys/promote': 'admin',
  'POST /admin/organization/keys/retire': 'admin',
  'POST /admin/organization/keys/promote-at': 'admin',
  'GET /admin/idps/new': 'admin',
  'POST /admin/idps/new/url': 'admin',
  'POST /admin/idps/new/file': 'admin',
  'POST /admin/idps/new/manual': 'admin',
  'POST /admin/idps/new/oidc': 'admin',
  'POST /admin/idps/:id': 'admin',
  'POST /admin/idps/:id/enabled': 'admin',
  'GET /admin/idps/:id/delete': 'admin',
  'POST /admin/idps/:id/delete': 'admin',
  'POST /admin/idps/:id/refresh': 'admin',
  'POST /admin/idps/:id/test': 'admin',
  'GET /admin/apps/new': 'admin',
  'POST /admin/apps/new': 'admin',
  'POST /admin/apps/new/metadata': 'admin',
  'POST /admin/apps/:id': 'admin',
  'POST /admin/apps/:id/enabled': 'admin',
  'GET /admin/apps/:id/delete': 'admin',
  'POST /admin/apps/:id/delete': 'admin',
  'POST /admin/policies/:appId/two-factor': 'admin',
  'POST /admin/policies/:appId/rules': 'admin',
  'POST /admin/policies/:appId/rules/add': 'admin',
  'GET /admin/users/new': 'admin',
  'POST /admin/users': 'admin',
  'GET /admin/users/import': 'admin',
  'POST /admin/users/import': 'admin',
  'POST /admin/users/:id': 'admin',
  'POST /admin/users/:id/disable': 'admin',
  'POST /admin/users/:id/enable': 'admin',
  'POST /admin/users/:id/identities': 'admin',
  'POST /admin/users/:id/identities/:linkId/unlink': 'admin',
  'GET /admin/users/:id/delete': 'admin',
  'POST /admin/users/:id/delete': 'admin',
  'GET /admin/tokens': 'admin',
  'POST /admin/tokens': 'admin',
  'POST /admin/tokens/:id/revoke': 'admin',
  'GET /admin/tokens/created/:id': 'admin',
  'POST /admin/idps/:id/scim-tokens': 'admin',
  'GET /admin/idps/:id/scim-tokens/created/:tokenId': 'admin',
  'POST /admin/idps/:id/scim-tokens/:tokenId/revoke': 'admin',
  'PATCH /api/organization': 'admin',
  'POST /api/keys/next': 'admin',
  'POST /api/keys/promote': 'admin',
  'POST /api/keys/retire': 'admin',
  'PUT /api/keys/next/promote-at': 'admin',
  'POST /api/idps': 'admin',
  'POST /api/idps/oidc': 'admin',
  'PATCH /api/idps/:id': 'admin',
  'POST /api/idps/:id/enable': 'admin',
  'POST /api/idps/:id/disable': 'admin',
  'POST /api/idps/:id/refresh-metadata': 'admin',
  'DELETE /api/idps/:id': 'admin',
  'POST /api/apps': 'admin',
  'PATCH /api/apps/:id': 'admin',
  'DELETE /api/apps/:id': 'admin',
  'PUT /api/apps/:id/policy': 'admin',
  'POST /api/apps/:id/policy/two-factor': 'admin',
  'POST /api/users': 'admin',
  'PATCH /api/users/:id': 'admin',
  'DELETE /api/users/:id': 'admin',
  'POST /api/users/:id/disable': 'admin',
  'POST /api/users/:id/enable': 'admin',
  'POST /api/users/:id/identities': 'admin',
  'DELETE /api/users/:id/identities/:linkId': 'admin',
  'POST /api/users/import': 'admin',
  'GET /api/tokens': 'admin',
  'POST /api/tokens': 'admin',
  'DELETE /api/tokens/:id': 'admin',
  'GET /api/idps/:id/scim-tokens': 'admin',
  'POST /api/idps/:id/scim-tokens': 'admin',
  'DELETE /api/idps/:id/scim-tokens/:tokenId': 'admin',
  // owners
  'GET /admin/admins': 'owner',
  'POST /admin/admins/invite': 'owner',
  'GET /admin/admins/invited/:id': 'owner',
  'POST /admin/admins/:id/role': 'owner',
  'POST /admin/admins/:id/remove': 'owner',
  'POST /admin/admins/invites/:id/withdraw': 'owner',
  'GET /admin/organization/delete': 'owner',
  'POST /admin/organization/delete': 'owner',
  // the operator view at the bare BASE_DOMAIN (a platform operator's session; no admin role opens it)
  'GET /operator/login': 'public',
  'POST /operator/login': 'public',
  'GET /operator/login/totp': 'public',
  'POST /operator/login/totp': 'public',
  'POST /operator/logout': 'operator',
  'GET /operator': 'operator',
  'POST /operator/organizations': 'operator',
  'POST /operator/organizations/:id/suspend': 'operator',
  'POST /operator/organizations/:id/resume': 'operator',
  'GET /operator/organizations/:id/delete': 'operator',
  'POST /operator/organizations/:id/delete': 'operator',
};

/** Allowed requests really run: these would end the caller's session or start background work, so only their refusals are checked. */
const NOT_RUN_WHEN_ALLOWED = new Set(['POST /admin/logout', 'POST /admin/users/import', 'POST /api/users/import']);

const consoleOrApi = (url: string) =>
  url === '/admin' ||
  url.startsWith('/admin/') ||
  url.startsWith('/api/') ||
  url === '/operator' ||
  url.startsWith('/operator/');
const routesOf = (ta: TestApp) =>
  ta.app.registeredRoutes
    .filter((r) => r.method !== 'HEAD' && consoleOrApi(r.url))
    .map((r) => ({ key: `${r.method} ${r.url}`, ...r }));
const concrete = (url: string) => url.replace(/:[A-Za-z]+/g, 'no-such-id');

function checkAnswer(
  t: Pick<typeof import('tap').default, 'ok' | 'notOk' | 'match'>,
  res: LightMyRequestResponse,
  role: AdminRole,
  needed: AdminRole,
  what: string,
) {
  const refused = res.statusCode === 403 && /forbidden_role/.test(res.body);
  if (roleAllows(role, needed)) {
    t.notOk(refused, `${role}: ${what} is allowed (got ${res.statusCode})`);
  } else {
    t.ok(refused, `${role}: ${what} is refused with 403 forbidden_role (got ${res.statusCode})`);
    t.match(res.body, new RegExp(`needs the ${needed} role`), `${role}: ${what} names the role needed`);
  }
}

t.test('every console and API route declares the rule this table expects', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const routes = routesOf(ta);
  t.ok(routes.length > 100, `the routes are enumerated (${routes.length})`);
  const missing = routes.filter((r) => r.role === null).map((r) => r.key);
  t.same(missing, [], 'no console or API route without an access rule');
  const declared = Object.fromEntries(routes.map((r) => [r.key, r.role]));
  const unexpected = Object.keys(declared).filter((k) => !(k in EXPECTED));
  t.same(unexpected, [], 'no route missing from the expected table (add it with the role it needs)');
  for (const [key, role] of Object.entries(EXPECTED)) t.equal(declared[key], role, `${key}: ${role}`);
});

t.test('console: every route × role on SQLite', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const owner = await signedInAdmin(ta, 'piedpipers');
  const clients: Record<AdminRole, AdminClient> = {
    owner,
    admin: await adminWithRole(ta, owner, 'admin'),
    helpdesk: await adminWithRole(ta, owner, 'helpdesk'),
    viewer: await adminWithRole(ta, owner, 'viewer'),
  };
  const routes = routesOf(ta).filter((r) => r.url.startsWith('/admin') && r.role && r.role !== 'public');
  for (const role of ROLES) {
    for (const r of routes) {
      const needed = r.role as AdminRole;
      if (roleAllows(role, needed) && NOT_RUN_WHEN_ALLOWED.has(r.key)) continue;
      const url = concrete(r.url);
      const res = r.method === 'GET' ? await clients[role].get(url) : await clients[role].post(url);
      checkAnswer(t, res, role, needed, r.key);
    }
  }
  t.match(
    (await clients.viewer.get('/admin/admins')).body,
    /This needs the owner role \(or higher\); you have the viewer role/,
    'the console says it plainly',
  );
});

for (const provider of testProviders()) {
  t.test(`API: every route × token role on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider });
    t.teardown(ta.cleanup);
    const owner = await signedInAdmin(ta, 'piedpipers');
    const store = ta.ctx.store.forOrg(owner.orgId);
    const tokens = {} as Record<AdminRole, string>;
    for (const role of ROLES)
      tokens[role] = (await createApiToken(store, ta.clock, `${role} token`, 'test', { role })).token;
    const routes = routesOf(ta).filter((r) => r.url.startsWith('/api/') && r.role && r.role !== 'public');
    for (const role of ROLES) {
      for (const r of routes) {
        const needed = r.role as AdminRole;
        if (roleAllows(role, needed) && NOT_RUN_WHEN_ALLOWED.has(r.key)) continue;
        const res = await ta.request('piedpipers', {
          method: r.method as 'GET',
          url: concrete(r.url),
          headers: { authorization: `Bearer ${tokens[role]}` },
          ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }),
        });
        checkAnswer(t, res, role, needed, r.key);
        if (res.statusCode === 403 && !roleAllows(role, needed))
          t.match(res.json(), { error: { code: 'forbidden_role', details: { required: needed, role } } });
      }
    }
  });
}
