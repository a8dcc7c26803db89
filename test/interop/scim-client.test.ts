// Interop: SCIM provisioning driven from outside, over real HTTP. The requests are the conversations Okta's and Entra
// ID's connectors hold, recorded from their vendors' documentation in test/fixtures/scim/*.json (we write no request
// here), sent by Node's built-in fetch to a broker listening on a port, with the base URL and token an admin gets
// from the admin API, as each vendor's setup asks. SCIMMY, a SCIM library we did not write, checks both sides: each
// PATCH the client sends parses as a PatchOp, each User and Group we answer coerces against its RFC 7643 schema, each
// list parses as a ListResponse and each error as an Error message. After every step the organisation's directory is
// read back: status, link, groups, what the app login policy decides, and what deactivation ended. On SQLite and
// PostgreSQL. (No SCIM *client* package exists on the npm registry: see docs/scim.md, "Testing a connector".)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import SCIMMY from 'scimmy';
import t from 'tap';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { saveApplication } from '../../src/orgs/remote/registrations.ts';
import { evaluatePolicy } from '../../src/policy/engine.ts';
import { storedRules } from '../../src/policy/rules.ts';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';

interface Step {
  note: string;
  given?: 'signed-in';
  request: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; body?: unknown };
  response: { status: number; body?: Record<string, unknown>; capture?: Record<string, string> };
  directory: {
    user: 'absent' | 'active' | 'disabled' | 'deleted';
    email?: string;
    firstName?: string;
    lastName?: string;
    nameId?: string;
    groups?: string[];
    login?: 'allow' | 'deny';
  };
}
interface Conversation {
  client: string;
  idp: { name: string; emailDomains: string[] };
  app: { name: string; allowGroups: string[] };
  steps: Step[];
}

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
SCIMMY.Schemas.User.extend(SCIMMY.Schemas.EnterpriseUser as never); // typed as taking an instance; at run time it takes the schema class

const conversation = (name: string): Conversation =>
  JSON.parse(readFileSync(new URL(`../fixtures/scim/${name}.json`, import.meta.url), 'utf8'));
/** `{{name}}` in the recorded paths and bodies, filled with what earlier answers captured. */
const fill = <T>(value: T, captured: Record<string, string>): T =>
  JSON.parse(
    JSON.stringify(value).replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
      if (!(k in captured)) throw new Error(`nothing captured as ${k} yet`);
      return captured[k];
    }),
  );

/** What SCIMMY makes of an answer: throws where it is not a valid SCIM message or resource. */
function scimmyReads(status: number, body: Record<string, unknown>) {
  const schemas = body.schemas as string[];
  if (schemas.includes(ERROR)) {
    try {
      new SCIMMY.Messages.ErrorResponse(body);
    } catch (err) {
      if (err instanceof SCIMMY.Types.Error && Number(err.status) === status) return 'Error';
      throw err;
    }
    throw new Error('SCIMMY did not read an error');
  }
  const resource = (r: Record<string, unknown>) =>
    ((r.schemas as string[]).some((s) => s.endsWith(':Group'))
      ? SCIMMY.Schemas.Group
      : SCIMMY.Schemas.User
    ).definition.coerce(r);
  if (schemas.includes(LIST)) {
    const list = new SCIMMY.Messages.ListResponse(body as never);
    (body.Resources as Record<string, unknown>[]).forEach(resource);
    return `ListResponse of ${list.totalResults}`;
  }
  resource(body);
  return 'resource';
}

for (const provider of testProviders()) {
  for (const name of ['okta', 'entra']) {
    t.test(`${name} conversation, sent over HTTP, on ${provider}`, async (t) => {
      const c = conversation(name);
      // The broker behind a reverse proxy on this machine: the proxy's X-Forwarded-Host names the organisation.
      const ta = await createTestApp({ provider, env: { TRUST_PROXY: '127.0.0.1' } });
      t.teardown(ta.cleanup);
      const org = await createOrg(ta.ctx, 'piedpipers');
      const idp = await org.store.identityProviders.create({
        name: c.idp.name,
        entityId: `https://${name}.idp.example/saml`,
        ssoUrl: `https://${name}.idp.example/sso`,
        emailDomains: c.idp.emailDomains,
        linkingMode: 'verified-domains',
      });
      const app = await saveApplication(org.store, {
        name: c.app.name,
        entityId: 'https://jira.example/sp',
        acsUrls: ['https://jira.example/acs'],
      });
      await org.store.applications.update(app.id, {
        policy: [
          { id: 'members', action: 'allow', conditions: { groups: c.app.allowGroups } },
          { id: 'others', action: 'deny', conditions: {}, message: 'Members only.' },
        ],
      });
      await ta.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (ta.app.server.address() as AddressInfo).port;

      const send = (url: string, init: { method: string; headers?: Record<string, string>; body?: string }) => {
        const u = new URL(url);
        return fetch(`http://127.0.0.1:${port}${u.pathname}${u.search}`, {
          ...init,
          headers: { 'x-forwarded-host': u.host, 'x-forwarded-proto': u.protocol.slice(0, -1), ...init.headers },
        });
      };
      // The admin's side: an API token, then the IdP's SCIM base URL and token from the admin API.
      const { token: apiToken } = await createApiToken(org.store, ta.clock, 'automation', 'test');
      const issued = await send(`${org.urls.base}/api/idps/${idp.id}/scim-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${c.client} provisioning` }),
      });
      t.equal(issued.status, 201);
      const { baseUrl, token } = (await issued.json()) as { baseUrl: string; token: string };
      t.equal(baseUrl, `${org.urls.base}/scim/v2/${idp.id}`);

      const captured: Record<string, string> = {};
      for (const [index, recorded] of c.steps.entries()) {
        const step = `${index + 1}. ${recorded.note}`;
        if (recorded.given === 'signed-in') {
          // A sign-in leaves a broker session, a remembered device and a second factor behind.
          const later = new Date(ta.clock.now().getTime() + 86_400_000);
          const user = (await org.store.users.findById(captured.userId))!;
          await org.store.sessions.create({
            id: randomBytes(16).toString('hex'),
            userId: user.id,
            idpId: idp.id,
            nameId: (await org.store.users.identities(user.id))[0].nameId,
            expiresAt: later,
          });
          await org.store.devices.create({ userId: user.id, label: 'Firefox on Linux', expiresAt: later });
          await org.store.totp.savePending(user.id, { secretEnc: 'sealed', algorithm: 'SHA1', digits: 6, period: 30 });
        }
        const { method, path, body } = fill(recorded.request, captured);
        if (method === 'PATCH')
          t.doesNotThrow(
            () => new SCIMMY.Messages.PatchOp(body as never),
            `${step}: SCIMMY reads the request as a PatchOp`,
          );
        const res = await send(`${baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/scim+json',
            ...(body !== undefined && { 'content-type': 'application/scim+json' }),
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        t.equal(
          res.status,
          recorded.response.status,
          `${step}: ${method} ${recorded.request.path.split('?')[0]} → ${res.status} ${res.status >= 400 ? text.slice(0, 300) : ''}`,
        );
        if (res.status === 204) t.equal(text, '', `${step}: no body`);
        else {
          t.match(res.headers.get('content-type'), /^application\/scim\+json/, `${step}: content type`);
          const answer = JSON.parse(text);
          t.doesNotThrow(() => scimmyReads(res.status, answer), `${step}: SCIMMY reads the answer`);
          if (recorded.response.body) t.match(answer, fill(recorded.response.body, captured), `${step}: the answer`);
          for (const [as, field] of Object.entries(recorded.response.capture ?? {})) captured[as] = answer[field];
          if (answer.meta?.version) t.equal(res.headers.get('etag'), answer.meta.version, `${step}: ETag`);
        }

        // The directory after the step.
        const want = recorded.directory;
        if (want.user === 'absent') {
          t.equal(
            await ta.ctx.store.db.user.count({ where: { orgId: org.org.id } }),
            0,
            `${step}: nobody in the directory yet`,
          );
          continue;
        }
        const user = captured.userId ? await org.store.users.findById(captured.userId) : null;
        t.ok(user, `${step}: the user is in the directory`);
        if (!user) continue;
        const links = (await org.store.users.identities(user.id)).filter((l) => l.idpId === idp.id);
        if (want.user === 'deleted') {
          t.equal(user.status, 'disabled', `${step}: kept, disabled`);
          t.same(links, [], `${step}: no longer linked to the IdP`);
        } else {
          t.equal(user.status, want.user, `${step}: status ${want.user}`);
          t.equal(links.length, 1, `${step}: linked to the IdP`);
        }
        if (want.email) t.equal(user.email.toLowerCase(), want.email.toLowerCase(), `${step}: email`);
        if (want.firstName) t.equal(user.firstName, want.firstName, `${step}: first name`);
        if (want.lastName) t.equal(user.lastName, want.lastName, `${step}: last name`);
        if (want.nameId) t.equal(links[0]?.nameId, want.nameId, `${step}: the link's NameID is the userName`);
        if (want.groups) t.same([...user.groups].sort(), [...want.groups].sort(), `${step}: groups`);
        if (want.login) {
          const rules = storedRules((await org.store.applications.findById(app.id))!.policy);
          const decision = evaluatePolicy(rules, {
            user: { status: user.status, email: user.email, groups: user.groups },
            idpId: idp.id,
            profileGroups: [],
          });
          t.equal(decision.action, want.login, `${step}: ${c.app.name}'s login policy says ${want.login}`);
        }
        if (want.user === 'disabled' && recorded.given === 'signed-in') {
          const sessions = await ta.ctx.store.db.brokerSession.findMany({ where: { userId: user.id } });
          t.ok(sessions.length === 1 && sessions.every((s) => s.endedAt), `${step}: the broker session has ended`);
          const devices = await ta.ctx.store.db.rememberedDevice.findMany({ where: { userId: user.id } });
          t.ok(devices.length === 1 && devices.every((d) => d.revokedAt), `${step}: the remembered device is revoked`);
        }
        if (
          Object.keys(captured).includes('userId') &&
          c.steps.slice(0, index + 1).some((s) => s.given === 'signed-in')
        ) {
          t.ok(await org.store.totp.find(user.id), `${step}: the second factor is kept`);
        }
      }

      const events = (
        await ta.ctx.store.db.auditEvent.findMany({ where: { idpId: idp.id }, orderBy: { at: 'asc' } })
      ).map((e) => e.type);
      t.ok(
        events.includes('scim.user_created') && events.includes('scim.user_deactivated'),
        'the provisioning events are audited',
      );
    });
  }
}
