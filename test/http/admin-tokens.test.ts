// API tokens in the console: created with the token shown once (stored hashed), usable as a bearer token on the
// API, listed without the token, revoked (audited) so that it stops working; CSRF and other organisations' ids.
import t from 'tap';
import { sha256 } from '../../src/crypto/hash.ts';
import { createTestApp } from '../helpers/app.ts';
import { signedInAdmin } from '../helpers/admin.ts';

t.test('API tokens page', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const pp = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const users = (slug: string, token: string) =>
    ta.request(slug, { method: 'GET', url: '/api/users', headers: { authorization: `Bearer ${token}` } });

  t.test('an empty list, then a name is required (error next to the field, nothing created)', async (t) => {
    const list = await pp.get('/admin/tokens');
    t.equal(list.statusCode, 200);
    t.match(list.body, /No tokens yet/);
    const res = await pp.post('/admin/tokens', { name: '   ' });
    t.equal(res.statusCode, 400);
    t.match(res.body, /id="name" name="name"[^>]*aria-describedby="name-error" aria-invalid="true"/);
    t.match(res.body, /<div class="field-error" id="name-error">Name must be 1-100 characters<\/div>/);
    t.equal((await ta.ctx.store.forOrg(pp.orgId).apiTokens.list()).length, 0);
  });

  t.test('a POST without the CSRF token is refused', async (t) => {
    t.equal((await pp.post('/admin/tokens', { name: 'sneaky', _csrf: 'forged' })).statusCode, 403);
    t.equal((await ta.ctx.store.forOrg(pp.orgId).apiTokens.list()).length, 0);
  });

  let token = '';
  let tokenId = '';
  t.test('create: shown once with a warning, stored hashed, works on the API, audited', async (t) => {
    const posted = await pp.post('/admin/tokens', { name: 'nightly <sync>' });
    t.equal(posted.statusCode, 303, 'POST-redirect-GET: a reload never creates another token');
    t.match(posted.headers.location, /^\/admin\/tokens\/created\/[0-9a-f-]+$/);
    t.notMatch(
      JSON.stringify(posted.headers),
      /brk_[A-Za-z0-9_-]{43}/,
      'the token is not readable in the redirect (sealed in the cookie)',
    );
    const res = await pp.get(posted.headers.location!);
    t.equal(res.statusCode, 200);
    t.equal(res.headers['cache-control'], 'no-store');
    token = /value="(brk_[A-Za-z0-9_-]{43})"/.exec(res.body)?.[1] ?? '';
    t.ok(token, 'the token is on the page');
    t.match(res.body, new RegExp(`data-copy="${token}"`), 'with a copy button');
    t.match(res.body, /shown only this once/);
    t.match(res.body, /nightly &lt;sync&gt;/, 'the name is escaped');
    const reload = await pp.get(posted.headers.location!);
    t.notOk(reload.body.includes(token), 'a reload does not show the token again');
    t.match(reload.body, /its secret was shown once/);
    t.equal((await ta.ctx.store.forOrg(pp.orgId).apiTokens.list()).length, 1, 'and created nothing');
    const [row] = await ta.ctx.store.forOrg(pp.orgId).apiTokens.list();
    tokenId = row.id;
    t.equal(row.tokenHash, sha256(token));
    t.equal(row.prefix, token.slice(0, 10));
    const list = await pp.get('/admin/tokens');
    t.notOk(list.body.includes(token), 'the list never shows the token again');
    t.match(list.body, new RegExp(`<code>${token.slice(0, 10)}…</code>`));
    t.match(list.body, /never/);
    t.equal((await users('piedpipers', token)).statusCode, 200);
    t.match(
      (await pp.get('/admin/tokens')).body,
      /2026-01-15 10:00 UTC<\/td>\s*<td><span class="badge ok">active/,
      'last use is shown',
    );
    t.equal((await users('hooli', token)).statusCode, 401, 'not valid on another organisation');
    const [event] = await ta.ctx.store.forOrg(pp.orgId).audit.list({ type: 'api_token.created' });
    t.match(event, { actor: pp.email, details: { tokenId, name: 'nightly <sync>' } });
  });

  t.test("another organisation's admin cannot revoke it", async (t) => {
    const res = await hooli.post(`/admin/tokens/${tokenId}/revoke`);
    t.equal(res.statusCode, 404);
    t.equal((await users('piedpipers', token)).statusCode, 200);
    t.match((await hooli.get('/admin/tokens')).body, /No tokens yet/, 'nor see it');
  });

  t.test('revoke: audited, the token stops working, the list says so', async (t) => {
    t.equal((await pp.post(`/admin/tokens/${tokenId}/revoke`, { _csrf: '' })).statusCode, 403, 'CSRF checked');
    t.equal((await users('piedpipers', token)).statusCode, 200);
    const res = await pp.post(`/admin/tokens/${tokenId}/revoke`);
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/admin/tokens?done=token-revoked');
    const after = await users('piedpipers', token);
    t.equal(after.statusCode, 401);
    t.equal(after.json().error.code, 'api_unauthorized');
    const list = await pp.get('/admin/tokens?done=token-revoked');
    t.match(list.body, /The token was revoked/);
    t.match(list.body, /badge off">revoked/);
    t.notMatch(list.body, /\/revoke"/, 'no revoke button for a revoked token');
    t.equal((await pp.post(`/admin/tokens/${tokenId}/revoke`)).statusCode, 404, 'revoking twice is not found');
    const events = await ta.ctx.store.forOrg(pp.orgId).audit.list({ type: 'api_token.revoked' });
    t.equal(events.length, 1);
    t.match(events[0], { actor: pp.email, details: { tokenId } });
  });
});
