// Entra ID's groups overage: a real OP (oidc-provider) adds _claim_names/_claim_sources to its signed ID token
// (distributed claims), as Entra ID does for a user with too many groups. The broker reads the groups from Microsoft
// Graph (a fake Graph on loopback, GRAPH_BASE_URL) with the sign-in's access token, so the app's login policy group
// conditions apply; the endpoint the token names (another loopback server here) is never called, a redirect from
// Graph is not followed, and when Graph fails the sign-in stops with oidc_groups_unavailable, nothing issued.
// Test connection shows the overage and the groups read.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { oidcIdpInput } from '../../src/orgs/remote/oidc-registration.ts';
import { adminWithRole } from '../helpers/admin.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { startOidcProvider } from '../helpers/oidc-op.ts';
import { appReceives, createWorld } from '../helpers/sso-world.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const OID = '6f1c2b4e-0d3a-4c5b-9e8f-112233445566';
const ADMINS = 'a1b2c3d4-0000-4000-8000-00000000000a';
const OTHER = 'a1b2c3d4-0000-4000-8000-00000000000b';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

/** A loopback HTTP server recording what it receives and answering with `answer`. */
async function recorder(answer: (req: IncomingMessage, res: import('node:http').ServerResponse) => void) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

t.test('groups overage: the groups read from Microsoft Graph, the policy applied on them', async (t) => {
  // Where the token says the groups are: hostile input, never to be called.
  const named = await recorder((_req, res) => res.end('{"value":[]}'));
  t.teardown(named.close);
  // The fake Microsoft Graph, whose answer each test sets.
  let graphAnswer: (res: import('node:http').ServerResponse) => void = () => undefined;
  const graph = await recorder((_req, res) => graphAnswer(res));
  t.teardown(graph.close);
  const groups = (ids: string[]) => (res: import('node:http').ServerResponse) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ '@odata.context': 'https://graph/$metadata#Collection(Edm.String)', value: ids }));
  };

  const w = await createWorld('overpipers', undefined, {
    env: { METADATA_ALLOW_PRIVATE: 'true', GRAPH_BASE_URL: graph.origin },
  });
  t.teardown(w.ta.cleanup);
  const source = `${named.origin}/v1.0/users/${OID}/getMemberObjects`;
  const op = await startOidcProvider({
    clientId: 'broker',
    clientSecret: 'broker-secret',
    redirectUri: w.org.urls.oidcCallback,
    // Distributed claims (OpenID Connect Core 5.6.2), which oidc-provider puts into the ID token it signs.
    claims: () => ({
      tid: 'tenant-1',
      oid: OID,
      preferred_username: 'ann@contoso.example',
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: `${source}?secret=no` } },
    }),
  });
  t.teardown(op.close);
  const input = await oidcIdpInput(
    { issuer: op.issuer, clientId: 'broker', clientSecret: 'broker-secret', preset: 'oidc-entra' },
    {
      orgId: w.org.org.id,
      box: w.ta.ctx.box,
      now: w.ta.clock.now(),
      allowPrivate: true,
      timeoutMs: 5000,
      refreshSeconds: 86400,
    },
  );
  const idp = await saveIdentityProvider(w.org.store, {
    ...input,
    name: 'Entra ID',
    emailDomains: ['contoso.example'],
  });
  const { app, sp } = await w.addApp('Jira', { attributeRelease: ['email', 'groups'] } as never);
  // Only members of the admins group may sign in to Jira.
  await w.org.store.applications.update(app.id, {
    policy: [
      { id: 'admins', conditions: { groups: [ADMINS] }, action: 'allow' },
      { id: 'others', conditions: {}, action: 'deny', message: 'Jira is for admins.' },
    ],
  });
  await w.org.store.users.create({ email: 'ann@contoso.example' });

  /** One sign-in through the real OP; the page the browser ends on. */
  async function signIn() {
    const browser = new Browser(w.ta);
    const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const callback = await op.login(String(start.headers.location), 'pairwise-sub');
    const answer = await browser.get(callback);
    if (answer.statusCode !== 302 && answer.statusCode !== 303) return answer;
    return (await browser.follow(answer, w.base)).res;
  }

  await t.test('in the policy group per Graph: signed in, the groups released', async (t) => {
    graphAnswer = groups([OTHER, ADMINS]);
    const before = graph.seen.length;
    const { profile } = await appReceives(sp, await signIn());
    t.equal(profile.nameID, 'ann@contoso.example', 'the login goes on');
    t.same([(profile as Record<string, unknown>).groups].flat().sort(), [ADMINS, OTHER], 'the groups from Graph');
    t.equal(graph.seen.length, before + 1, 'Graph asked once');
    const call = graph.seen.at(-1)!;
    t.equal(call.method, 'POST');
    t.equal(call.url, `/v1.0/users/${OID}/getMemberObjects`, 'the user of the signed oid');
    t.match(call.authorization, /^Bearer \S{20,}$/, "the sign-in's access token");
    t.same(JSON.parse(call.body), { securityEnabledOnly: false });
    t.equal(named.seen.length, 0, 'the endpoint the token names is never called');
    const [event] = await w.org.store.audit.list({ type: 'login.groups_overage' });
    t.equal(event.idpId, idp.id);
    t.same(event.details, { source, groupsFromGraph: 2 }, 'audited: the source without its query, the count');
  });

  await t.test('not in the policy group per Graph: denied by the policy, nothing issued', async (t) => {
    graphAnswer = groups([OTHER]);
    const page = await signIn();
    t.equal(codeOf(page.body), 'policy_denied');
    t.match(page.body, /Jira is for admins\./);
    t.notOk(formIn(page.body)?.fields.SAMLResponse, 'nothing issued downstream');
  });

  const refusals: Array<[string, (res: import('node:http').ServerResponse) => void]> = [
    ['Graph down (the connection dropped)', (res) => res.socket?.destroy()],
    [
      'Graph refuses the access token (permission missing)',
      (res) => {
        res.statusCode = 403;
        res.setHeader('content-type', 'application/json');
        res.end('{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}');
      },
    ],
    [
      'Graph redirects elsewhere: not followed, the token goes nowhere else',
      (res) => {
        res.statusCode = 307;
        res.setHeader('location', `${named.origin}/steal`);
        res.end();
      },
    ],
    ['an answer that is not a list of group ids', (res) => res.end('{"value":[{"id":"x"}]}')],
    ['an answer over the size limit', (res) => res.end(`{"value":["${'a'.repeat(2 * 1024 * 1024)}"]}`)],
  ];
  for (const [name, answer] of refusals) {
    await t.test(`${name}: oidc_groups_unavailable, nothing issued`, async (t) => {
      graphAnswer = answer;
      const page = await signIn();
      t.equal(page.statusCode, 400);
      t.equal(codeOf(page.body), 'oidc_groups_unavailable');
      t.notOk(formIn(page.body)?.fields.SAMLResponse, 'nothing issued downstream');
      t.equal(named.seen.length, 0, 'nothing sent to the endpoint the token names, nor where Graph points');
    });
  }

  await t.test('more groups per Graph than a sign-in carries: upstream_too_many_groups, never cut short', async (t) => {
    // 501 distinct object ids: one more than a profile holds (MAX_PROFILE_GROUPS); the same rule as for any IdP.
    const many = Array.from({ length: 501 }, (_, i) => `a1b2c3d4-0000-4000-8000-${String(i).padStart(12, '0')}`);
    graphAnswer = groups([ADMINS, ...many]);
    const page = await signIn();
    t.equal(codeOf(page.body), 'upstream_too_many_groups');
    t.notOk(formIn(page.body)?.fields.SAMLResponse, 'nothing issued downstream');
  });

  await t.test('Test connection shows the overage and the groups read, or the refusal', async (t) => {
    const admin = await adminWithRole(w.ta, { slug: 'overpipers', orgId: w.org.org.id }, 'admin');
    async function runTest() {
      const start = await admin.post(`/admin/idps/${idp.id}/test`);
      t.equal(start.statusCode, 302, 'the browser goes to the OP');
      const callback = new URL(await op.login(String(start.headers.location), 'pairwise-sub'));
      const cb = await w.ta.request('overpipers', {
        method: 'GET',
        url: `${callback.pathname}${callback.search}`,
      });
      t.equal(cb.statusCode, 303);
      return admin.get(String(cb.headers.location));
    }
    graphAnswer = groups([ADMINS, OTHER, '0f0f0f0f-0000-4000-8000-000000000003']);
    const ok = await runTest();
    t.match(ok.body, /Test connection: success/);
    t.match(ok.body, /id="groups-overage"><strong>Groups overage: 3 groups read from Microsoft Graph\.<\/strong>/);
    t.match(ok.body, `Source named: <code>${source}</code>`);
    t.match(ok.body, ADMINS, 'the groups shown');

    graphAnswer = (res) => res.socket?.destroy();
    const failed = await runTest();
    t.match(failed.body, /Test connection failed/);
    t.match(failed.body, /oidc_groups_unavailable/);
    t.equal(named.seen.length, 0);
  });
});
