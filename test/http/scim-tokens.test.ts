// SCIM tokens per IdP: admin API (list/create/revoke) and CLI, shown once, stored hashed, audited, last use recorded,
// revocation effective at once.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg } from '../helpers/context.ts';
import { createApiToken } from '../../src/admin/api-tokens.ts';
import { scimCommand } from '../../src/cli/commands/scim.ts';

t.test('SCIM tokens', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await createOrg(ta.ctx, 'piedpipers');
  const hooli = await createOrg(ta.ctx, 'hooli');
  const okta = await pp.store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/exk1',
    ssoUrl: 'https://pp.okta.example/sso',
  });
  const hooliIdp = await hooli.store.identityProviders.create({
    name: 'Okta',
    entityId: 'http://www.okta.com/hooli',
    ssoUrl: 'https://hooli.okta.example/sso',
  });
  const { token: apiToken } = await createApiToken(pp.store, ta.clock, 'automation', 'test');
  const api = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    ta.request('piedpipers', {
      method,
      url,
      headers: {
        authorization: `Bearer ${apiToken}`,
        ...(payload !== undefined && { 'content-type': 'application/json' }),
      },
      ...(payload !== undefined && { payload: JSON.stringify(payload) }),
    });

  t.test('admin API: create (shown once), list, use, revoke', async (t) => {
    const created = await api('POST', `/api/idps/${okta.id}/scim-tokens`, { name: 'okta provisioning' });
    t.equal(created.statusCode, 201, created.body);
    const { id, token, baseUrl } = created.json();
    t.match(token, /^scim_[A-Za-z0-9_-]{43}$/);
    t.equal(baseUrl, `http://piedpipers.broker.test/scim/v2/${okta.id}`);
    const row = await ta.ctx.store.db.scimToken.findUniqueOrThrow({ where: { id } });
    t.not(row.tokenHash, token);
    t.notMatch(row.tokenHash, /^scim_/);

    const use = await ta.request('piedpipers', {
      method: 'GET',
      url: `/scim/v2/${okta.id}/Users`,
      headers: { authorization: `Bearer ${token}` },
    });
    t.equal(use.statusCode, 200);
    const listed = (await api('GET', `/api/idps/${okta.id}/scim-tokens`)).json();
    t.equal(listed.baseUrl, baseUrl);
    t.equal(listed.tokens.length, 1);
    t.notOk('token' in listed.tokens[0] || 'tokenHash' in listed.tokens[0], 'the token is never listed');
    t.ok(listed.tokens[0].lastUsedAt, 'last use recorded');

    t.equal(
      (
        await ta.request('hooli', {
          method: 'GET',
          url: `/scim/v2/${hooliIdp.id}/Users`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode,
      401,
      'another organisation refuses it',
    );
    t.equal(
      (await api('GET', `/api/idps/${hooliIdp.id}/scim-tokens`)).statusCode,
      404,
      "another organisation's IdP is not found",
    );

    t.equal((await api('DELETE', `/api/idps/${okta.id}/scim-tokens/${id}`)).statusCode, 204);
    t.equal((await api('DELETE', `/api/idps/${okta.id}/scim-tokens/${id}`)).statusCode, 404, 'revoked once');
    t.equal(
      (
        await ta.request('piedpipers', {
          method: 'GET',
          url: `/scim/v2/${okta.id}/Users`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode,
      401,
      'a revoked token stops working at once',
    );
    const audit = await ta.ctx.store.db.auditEvent.findMany({
      where: { orgId: pp.org.id, type: { startsWith: 'scim.token' } },
      orderBy: { at: 'asc' },
    });
    t.match(audit, [
      { type: 'scim.token_created', idpId: okta.id, actor: 'api-token:automation' },
      { type: 'scim.token_revoked', idpId: okta.id },
    ]);
  });

  t.test('CLI: scim token create|list|revoke', async (t) => {
    const cli = async (...argv: string[]) => {
      const lines: string[] = [];
      const log = console.log;
      console.log = (...a: unknown[]) => lines.push(a.join(' '));
      try {
        return { code: await scimCommand(argv, ta.ctx), out: lines.join('\n') };
      } finally {
        console.log = log;
      }
    };
    const created = await cli('token', 'create', '--org', 'piedpipers', '--idp', 'Okta', '--name', 'from cli');
    t.equal(created.code, 0);
    const token = /scim_[A-Za-z0-9_-]{43}/.exec(created.out)![0];
    t.match(created.out, `http://piedpipers.broker.test/scim/v2/${okta.id}`);
    const listed = await cli('token', 'list', '--org', 'piedpipers', '--idp', okta.entityId);
    t.match(listed.out, /from cli/);
    const id = /^(\S+) {2}scim_.*from cli/m.exec(listed.out)![1];
    t.equal(
      (
        await ta.request('piedpipers', {
          method: 'GET',
          url: `/scim/v2/${okta.id}/ServiceProviderConfig`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode,
      200,
    );
    t.equal((await cli('token', 'revoke', '--org', 'piedpipers', '--idp', okta.id, '--id', id)).code, 0);
    t.equal(
      (
        await ta.request('piedpipers', {
          method: 'GET',
          url: `/scim/v2/${okta.id}/ServiceProviderConfig`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode,
      401,
    );
    await t.rejects(
      cli('token', 'create', '--org', 'piedpipers', '--idp', 'Nope', '--name', 'x'),
      /unknown identity provider/,
    );
  });
});
