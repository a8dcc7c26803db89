// Issue 22: what the SCIM service refuses, each with a SCIM error body (RFC 7644 3.12) and nothing changed: missing,
// wrong and revoked tokens, one IdP's token on another's URL and users, another organisation's resource ids,
// malformed JSON, an unknown schema URN, an oversized body, a stale If-Match, and filters that try to escape the grammar or name
// attributes outside the schema. On both databases.
import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { createOrg, testProviders } from '../helpers/context.ts';
import { createScimToken } from '../../src/scim/tokens.ts';

const SCIM = 'application/scim+json';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

for (const provider of testProviders()) {
  t.test(`SCIM refusals on ${provider}`, async (t) => {
    const ta = await createTestApp({ provider, env: { BODY_LIMIT_BYTES: String(64 * 1024) } });
    t.teardown(ta.cleanup);
    const pp = await createOrg(ta.ctx, 'piedpipers');
    const hooli = await createOrg(ta.ctx, 'hooli');
    const a = await pp.store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/a',
      ssoUrl: 'https://a.example/sso',
      linkingMode: 'any-email',
    });
    const b = await pp.store.identityProviders.create({
      name: 'Entra',
      entityId: 'https://sts.windows.net/b/',
      ssoUrl: 'https://b.example/sso',
      linkingMode: 'any-email',
    });
    const h = await hooli.store.identityProviders.create({
      name: 'Okta',
      entityId: 'http://www.okta.com/h',
      ssoUrl: 'https://h.example/sso',
      linkingMode: 'any-email',
    });
    const tokenA = (await createScimToken(pp.store, ta.clock, a.id, 'a', 'test')).token;
    const tokenB = (await createScimToken(pp.store, ta.clock, b.id, 'b', 'test')).token;
    const tokenH = (await createScimToken(hooli.store, ta.clock, h.id, 'h', 'test')).token;
    const revoked = await createScimToken(pp.store, ta.clock, a.id, 'old', 'test');
    await pp.store.scimTokens.revoke(a.id, revoked.id, ta.clock.now());

    const call = (
      slug: string,
      idpId: string,
      auth: string | null,
      method: string,
      path: string,
      payload?: string,
      contentType = SCIM,
    ) =>
      ta.request(slug, {
        method: method as 'GET',
        url: `/scim/v2/${idpId}${path}`,
        headers: {
          ...(auth !== null && { authorization: auth }),
          ...(payload !== undefined && { 'content-type': contentType }),
        },
        ...(payload !== undefined && { payload }),
      });
    const asA = (method: string, path: string, body?: unknown) =>
      call('piedpipers', a.id, `Bearer ${tokenA}`, method, path, body === undefined ? undefined : JSON.stringify(body));
    const asB = (method: string, path: string, body?: unknown) =>
      call('piedpipers', b.id, `Bearer ${tokenB}`, method, path, body === undefined ? undefined : JSON.stringify(body));

    const userA = (
      await asA('POST', '/Users', { schemas: [USER], userName: 'ann@a.example', emails: [{ value: 'ann@a.example' }] })
    ).json();
    const userB = (
      await asB('POST', '/Users', { schemas: [USER], userName: 'bob@b.example', emails: [{ value: 'bob@b.example' }] })
    ).json();
    const groupA = (
      await asA('POST', '/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'eng',
        members: [{ value: userA.id }],
      })
    ).json();
    t.ok(userA.id && userB.id && groupA.id);

    const snapshot = async () =>
      JSON.stringify({
        users: await ta.ctx.store.db.user.findMany({ orderBy: { id: 'asc' } }),
        links: await ta.ctx.store.db.userIdentity.findMany({ orderBy: { id: 'asc' } }),
        groups: await ta.ctx.store.db.scimGroup.findMany({ orderBy: { id: 'asc' } }),
        members: await ta.ctx.store.db.scimGroupMember.findMany({ orderBy: [{ groupId: 'asc' }, { userId: 'asc' }] }),
      });
    const before = await snapshot();

    const refused = (
      res: { statusCode: number; headers: Record<string, unknown>; json(): Record<string, unknown> },
      status: number,
      scimType: string | undefined,
      what: string,
    ) => {
      t.equal(res.statusCode, status, what);
      t.match(res.headers['content-type'], /application\/scim\+json/, `${what}: content type`);
      const body = res.json();
      t.same(body.schemas, [ERROR], `${what}: schemas`);
      t.equal(body.status, String(status), `${what}: status as a string`);
      t.equal(body.scimType, scimType, `${what}: scimType`);
      t.type(body.detail, 'string', `${what}: detail`);
    };

    // tokens
    const body = JSON.stringify({ schemas: [USER], userName: 'eve@a.example', emails: [{ value: 'eve@a.example' }] });
    refused(await call('piedpipers', a.id, null, 'POST', '/Users', body), 401, undefined, 'no token');
    refused(
      await call('piedpipers', a.id, 'Bearer scim_wrong', 'POST', '/Users', body),
      401,
      undefined,
      'a wrong token',
    );
    refused(
      await call('piedpipers', a.id, `Basic ${Buffer.from(`x:${tokenA}`).toString('base64')}`, 'POST', '/Users', body),
      401,
      undefined,
      'the token as Basic',
    );
    refused(
      await call('piedpipers', a.id, `Bearer ${revoked.token}`, 'POST', '/Users', body),
      401,
      undefined,
      'a revoked token',
    );
    refused(
      await call('piedpipers', b.id, `Bearer ${tokenA}`, 'GET', `/Users/${userB.id}`),
      401,
      undefined,
      "IdP A's token on IdP B's URL",
    );
    refused(
      await call('piedpipers', b.id, `Bearer ${tokenA}`, 'DELETE', `/Users/${userB.id}`),
      401,
      undefined,
      "IdP A's token deleting on IdP B's URL",
    );
    refused(
      await call('hooli', a.id, `Bearer ${tokenA}`, 'GET', `/Users/${userA.id}`),
      401,
      undefined,
      "a token on another organisation's host",
    );
    refused(
      await call('piedpipers', a.id, `Bearer ${tokenH}`, 'GET', `/Users/${userA.id}`),
      401,
      undefined,
      "another organisation's token",
    );

    // another IdP's and another organisation's resource ids
    refused(await asA('GET', `/Users/${userB.id}`), 404, undefined, "B's user on A's URL");
    refused(
      await asA('PATCH', `/Users/${userB.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
      404,
      undefined,
      "patching B's user on A's URL",
    );
    refused(
      await asA('PUT', `/Users/${userB.id}`, {
        schemas: [USER],
        userName: 'bob@b.example',
        emails: [{ value: 'bob@b.example' }],
      }),
      404,
      undefined,
      "replacing B's user on A's URL",
    );
    refused(await asA('DELETE', `/Users/${userB.id}`), 404, undefined, "deleting B's user on A's URL");
    refused(await asB('GET', `/Groups/${groupA.id}`), 404, undefined, "A's group on B's URL");
    refused(
      await asB('PATCH', `/Groups/${groupA.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: userB.id }] }],
      }),
      404,
      undefined,
      "patching A's group on B's URL",
    );
    refused(
      await asA('PATCH', `/Groups/${groupA.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: userB.id }] }],
      }),
      400,
      'invalidValue',
      "adding B's user to A's group",
    );
    const asH = (method: string, path: string, payload?: unknown) =>
      call(
        'hooli',
        h.id,
        `Bearer ${tokenH}`,
        method,
        path,
        payload === undefined ? undefined : JSON.stringify(payload),
      );
    refused(await asH('GET', `/Users/${userA.id}`), 404, undefined, "another organisation's user id");
    refused(await asH('DELETE', `/Users/${userA.id}`), 404, undefined, "deleting another organisation's user id");
    refused(await asH('DELETE', `/Groups/${groupA.id}`), 404, undefined, "deleting another organisation's group id");

    // bodies
    refused(
      await call('piedpipers', a.id, `Bearer ${tokenA}`, 'POST', '/Users', '{"schemas":["' + USER + '"],"userName":'),
      400,
      'invalidSyntax',
      'malformed JSON (scim+json)',
    );
    refused(
      await call(
        'piedpipers',
        a.id,
        `Bearer ${tokenA}`,
        'POST',
        '/Users',
        '{"userName": "x@a.example",}',
        'application/json',
      ),
      400,
      'invalidSyntax',
      'malformed JSON (application/json)',
    );
    refused(
      await call('piedpipers', a.id, `Bearer ${tokenA}`, 'PATCH', `/Users/${userA.id}`, '[{"op":"replace"'),
      400,
      'invalidSyntax',
      'malformed JSON in a PATCH',
    );
    refused(
      await asA('POST', '/Users', {
        schemas: ['urn:example:params:scim:schemas:bogus:2.0:User'],
        userName: 'eve@a.example',
        emails: [{ value: 'eve@a.example' }],
      }),
      400,
      'invalidValue',
      'an unknown schema URN',
    );
    refused(
      await asA('POST', '/Users', {
        schemas: [USER, 'urn:example:bogus'],
        userName: 'eve@a.example',
        emails: [{ value: 'eve@a.example' }],
      }),
      400,
      'invalidValue',
      'an unknown schema URN beside the core one',
    );
    refused(
      await asA('PATCH', `/Users/${userA.id}`, {
        schemas: ['urn:example:bogus'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
      400,
      'invalidValue',
      'a PATCH with an unknown schema URN',
    );
    const big = JSON.stringify({
      schemas: [USER],
      userName: 'eve@a.example',
      emails: [{ value: 'eve@a.example' }],
      nickName: 'x'.repeat(100 * 1024),
    });
    refused(
      await call('piedpipers', a.id, `Bearer ${tokenA}`, 'POST', '/Users', big),
      413,
      undefined,
      'a body over the limit',
    );
    refused(
      await call(
        'piedpipers',
        a.id,
        `Bearer ${tokenA}`,
        'PATCH',
        `/Users/${userA.id}`,
        JSON.stringify({
          schemas: [PATCH],
          Operations: [{ op: 'replace', value: { nickName: 'x'.repeat(100 * 1024) } }],
        }),
      ),
      413,
      undefined,
      'a PATCH over the limit',
    );

    // filters
    const filter = (f: string) => asA('GET', `/Users?filter=${encodeURIComponent(f)}`);
    refused(await filter('userName eq "ann@a.example'), 400, 'invalidFilter', 'an unbalanced quote');
    refused(await filter('userName eq "ann@a.example" or (1 eq 1'), 400, 'invalidFilter', 'an unbalanced parenthesis');
    refused(await filter('userName eq "x" or 1 eq 1'), 400, 'invalidFilter', '`or 1 eq 1`');
    refused(await filter('userName eq "x" or userName ne ""; DROP TABLE "User"'), 400, 'invalidFilter', 'trailing SQL');
    refused(await filter('password pr'), 400, 'invalidFilter', 'an attribute not in the schema');
    refused(await filter('name.nosuch eq "x"'), 400, 'invalidFilter', 'a sub-attribute not in the schema');
    refused(await filter('emails[nosuch eq "x"]'), 400, 'invalidFilter', 'a value filter on an unknown sub-attribute');
    refused(
      await filter('urn:example:bogus:User:userName eq "x"'),
      400,
      'invalidFilter',
      'an unknown schema URN in a filter',
    );
    refused(await filter(`userName eq "${'a'.repeat(5000)}"`), 400, 'invalidFilter', 'a very long filter');
    refused(
      await filter(Array.from({ length: 300 }, (_, i) => `userName eq "u${i}"`).join(' or ')),
      400,
      'invalidFilter',
      'a filter of 300 branches (over the length limit)',
    );
    refused(
      await asA('GET', `/Groups?filter=${encodeURIComponent('userName eq "x"')}`),
      400,
      'invalidFilter',
      'a User attribute in a Group filter',
    );

    // a stale If-Match (RFC 7644 3.14): 412 on every method that changes, users and groups alike
    const stale = (method: string, path: string, payload?: unknown) =>
      ta.request('piedpipers', {
        method: method as 'GET',
        url: `/scim/v2/${a.id}${path}`,
        headers: {
          authorization: `Bearer ${tokenA}`,
          'if-match': 'W/"an-old-version"',
          ...(payload !== undefined && { 'content-type': SCIM }),
        },
        ...(payload !== undefined && { payload: JSON.stringify(payload) }),
      });
    refused(
      await stale('PATCH', `/Users/${userA.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
      412,
      undefined,
      'PATCH of a user with a stale If-Match',
    );
    refused(
      await stale('PUT', `/Users/${userA.id}`, {
        schemas: [USER],
        userName: 'ann@a.example',
        emails: [{ value: 'ann@a.example' }],
        active: false,
      }),
      412,
      undefined,
      'PUT of a user with a stale If-Match',
    );
    refused(await stale('DELETE', `/Users/${userA.id}`), 412, undefined, 'DELETE of a user with a stale If-Match');
    refused(
      await stale('PATCH', `/Groups/${groupA.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'remove', path: 'members' }],
      }),
      412,
      undefined,
      'PATCH of a group with a stale If-Match',
    );
    refused(
      await stale('PUT', `/Groups/${groupA.id}`, {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'renamed',
      }),
      412,
      undefined,
      'PUT of a group with a stale If-Match',
    );
    refused(await stale('DELETE', `/Groups/${groupA.id}`), 412, undefined, 'DELETE of a group with a stale If-Match');

    t.equal(await snapshot(), before, 'nothing changed');
    t.equal(
      (
        await asA(
          'GET',
          `/Users?filter=${encodeURIComponent('userName eq "ann@a.example" and name.givenName pr or title pr')}`,
        )
      ).statusCode,
      200,
      'a filter of schema attributes still works',
    );
  });
}
