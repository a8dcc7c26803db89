// The operator view at the bare BASE_DOMAIN, through HTTP: sign-in (password, then TOTP from oathtool), the list with
// each organisation's numbers, create, suspend (pages answer "suspended", the app gets a SAML error Response, the
// console says so), resume, delete (with the slug typed); the owner's own "delete this organisation"; and what must
// not work (no session, another host, no CSRF token, an admin below owner).
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { createOperator } from '../../src/orgs/operators.ts';
import { adminWithRole, csrfIn, signInClient } from '../helpers/admin.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { oathtool } from '../helpers/oathtool.ts';
import { createWorld } from '../helpers/sso-world.ts';
import { createTestApp } from '../helpers/app.ts';
import { completeSecondStep, signIn } from '../../src/admin/admin-auth.ts';

const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];

t.test('operator view', async (t) => {
  const w = await createWorld('piedpipers');
  t.teardown(w.ta.cleanup);
  const { ta } = w;
  const { idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');
  const user = await w.org.store.users.create({ email: 'ann@customer.example' });
  await w.org.store.audit.record({ type: 'login.success', userId: user.id, idpId: idp.id, at: ta.clock.now() });
  await w.org.store.audit.record({
    type: 'login.success',
    userId: user.id,
    at: new Date(ta.clock.now().getTime() - 8 * 86400_000),
  });
  const op = await createOperator(ta.ctx, 'op@platform.example', 'test');

  const jar: Record<string, string> = {};
  const keep = (res: LightMyRequestResponse) => {
    for (const c of res.cookies as { name: string; value: string }[])
      if (c.value) jar[c.name] = c.value;
      else delete jar[c.name];
    return res;
  };
  const cookie = () =>
    Object.entries(jar)
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  const root = async (method: 'GET' | 'POST', url: string, form?: Record<string, string>) =>
    keep(
      await ta.request(null, {
        method,
        url,
        headers: { cookie: cookie(), ...(form && { 'content-type': 'application/x-www-form-urlencoded' }) },
        ...(form && { payload: new URLSearchParams(form).toString() }),
      }),
    );

  await t.test("no session: the sign-in; on an organisation's host the view does not exist", async (t) => {
    const res = await root('GET', '/operator');
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, '/operator/login');
    t.equal((await ta.request('piedpipers', { method: 'GET', url: '/operator/login' })).statusCode, 404);
  });

  let csrf = '';
  await t.test('sign-in: password, then a TOTP code; a wrong code is refused', async (t) => {
    const form = await root('GET', '/operator/login');
    t.match(form.body, /Operator sign-in/);
    const bad = await root('POST', '/operator/login', {
      _csrf: csrfIn(form.body),
      email: 'op@platform.example',
      password: 'not it',
    });
    t.equal(bad.statusCode, 401);
    const pw = await root('POST', '/operator/login', {
      _csrf: csrfIn(form.body),
      email: 'op@platform.example',
      password: op.password,
    });
    t.equal(pw.statusCode, 303);
    t.equal(pw.headers.location, '/operator/login/totp');
    t.equal((await root('GET', '/operator')).statusCode, 303, 'the password alone opens nothing');
    const codePage = await root('GET', '/operator/login/totp');
    const right = oathtool(op.totpSecret, ta.clock.now());
    const wrong = await root('POST', '/operator/login/totp', {
      _csrf: csrfIn(codePage.body),
      code: right === '000000' ? '111111' : '000000',
    });
    t.equal(wrong.statusCode, 401);
    const ok = await root('POST', '/operator/login/totp', { _csrf: csrfIn(codePage.body), code: right });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/operator');
    const home = await root('GET', '/operator');
    t.equal(home.statusCode, 200);
    csrf = csrfIn(home.body);
    t.ok(csrf);
    t.ok(
      (await ta.ctx.store.platform.audit.list()).some(
        (e) => e.type === 'admin.login' && e.actor === 'op@platform.example',
      ),
      'the sign-in is in the platform audit',
    );
  });

  await t.test('the list shows each organisation with its numbers', async (t) => {
    const home = await root('GET', '/operator');
    const row = /<tr>\s*<td><strong>Pied Pipers<\/strong>[\s\S]*?<\/tr>/.exec(home.body)![0];
    t.match(
      row,
      /<td>1<\/td><td>1<\/td><td>1<\/td><td>1<\/td>/,
      'users 1, logins in 7 days 1 (not the older one), IdPs 1, apps 1',
    );
    t.match(row, /badge ok">active/);
  });

  await t.test("create: the first owner's one-time password is shown; refusals keep the form", async (t) => {
    const bad = await root('POST', '/operator/organizations', {
      _csrf: csrf,
      name: 'Hooli',
      slug: 'piedpipers',
      adminEmail: 'gavin@hooli.example',
    });
    t.equal(bad.statusCode, 409);
    t.match(bad.body, /Address name is already taken/);
    t.equal(
      (
        await root('POST', '/operator/organizations', {
          name: 'Hooli',
          slug: 'hooli',
          adminEmail: 'gavin@hooli.example',
        })
      ).statusCode,
      403,
      'no CSRF token, no change',
    );
    const res = await root('POST', '/operator/organizations', {
      _csrf: csrf,
      name: 'Hooli',
      slug: 'hooli',
      adminEmail: 'gavin@hooli.example',
    });
    t.equal(res.statusCode, 201);
    t.match(res.body, /Hooli was created/);
    t.match(res.body, /<code class="secret">[^<]{12,}<\/code>/, 'one-time password shown');
    t.ok(await ta.ctx.store.organizations.findBySlug('hooli'));
    t.match((await ta.ctx.store.platform.audit.list())[0], {
      type: 'organization.created',
      orgSlug: 'hooli',
      actor: 'op@platform.example',
    });
  });

  await t.test('suspend: pages say so, the app gets a SAML error Response; resume restores it', async (t) => {
    const orgId = w.org.org.id;
    t.equal((await root('POST', `/operator/organizations/${orgId}/suspend`, { _csrf: csrf })).statusCode, 303);
    t.match((await root('GET', '/operator?done=suspended')).body, /badge off">suspended/);
    for (const url of ['/login', '/admin/login', '/admin']) {
      const res = await ta.request('piedpipers', { method: 'GET', url });
      t.equal(res.statusCode, 403, `${url}: 403`);
      t.equal(codeOf(res.body), 'organization_suspended');
      t.match(res.body, /Pied Pipers is suspended/);
    }
    const api = await ta.request('piedpipers', {
      method: 'GET',
      url: '/api/organization',
      headers: { authorization: 'Bearer brk_anything' },
    });
    t.equal(api.statusCode, 403);
    t.equal(api.json().error.code, 'organization_suspended', 'the API answers JSON with the code');
    const browser = new Browser(ta);
    const answer = await browser.get(await sp.getAuthorizeUrlAsync('relay-x', undefined, {}));
    t.equal(answer.statusCode, 200, 'an auto-POST back to the app, not a page of ours');
    const samlResponse = formIn(answer.body)!.fields.SAMLResponse;
    t.match(Buffer.from(samlResponse, 'base64').toString(), /status:RequestDenied/);
    const err = (await t.rejects(sp.validatePostResponseAsync({ SAMLResponse: samlResponse }))) as Error;
    t.match(err.message, /suspended/);
    t.equal(
      (await root('POST', `/operator/organizations/${orgId}/suspend`, { _csrf: csrf })).statusCode,
      409,
      'suspended already',
    );

    t.equal((await root('POST', `/operator/organizations/${orgId}/resume`, { _csrf: csrf })).statusCode, 303);
    const back = await ta.request('piedpipers', { method: 'GET', url: '/admin/login' });
    t.equal(back.statusCode, 200, 'the console answers again');
    const again = await new Browser(ta).get(await sp.getAuthorizeUrlAsync('relay-y', undefined, {}));
    t.equal(again.statusCode, 302);
    t.match(String(again.headers.location), new RegExp(`^https://okta\\.idp\\.example/sso`), 'on to the IdP again');
    t.same(
      (await ta.ctx.store.platform.audit.list()).slice(0, 2).map((e) => e.type),
      ['organization.resumed', 'organization.suspended'],
    );
    t.ok(
      (await w.org.store.audit.list({ type: 'organization.suspended' })).length,
      "also in the organisation's own log",
    );
  });

  await t.test('delete: the slug must be typed; then the organisation is gone, its deletion recorded', async (t) => {
    const hooli = (await ta.ctx.store.organizations.findBySlug('hooli'))!;
    const confirm = await root('GET', `/operator/organizations/${hooli.id}/delete`);
    t.equal(confirm.statusCode, 200);
    t.match(confirm.body, /Type <code>hooli<\/code> to confirm/);
    const wrong = await root('POST', `/operator/organizations/${hooli.id}/delete`, {
      _csrf: csrf,
      confirm: 'piedpipers',
    });
    t.equal(wrong.statusCode, 400);
    t.ok(await ta.ctx.store.organizations.findBySlug('hooli'), 'still there');
    const ok = await root('POST', `/operator/organizations/${hooli.id}/delete`, { _csrf: csrf, confirm: 'hooli' });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/operator?done=deleted');
    t.equal(await ta.ctx.store.organizations.findBySlug('hooli'), null);
    t.equal(codeOf((await ta.request('hooli', { method: 'GET', url: '/login' })).body), 'unknown_organization');
    t.match((await ta.ctx.store.platform.audit.list())[0], {
      type: 'organization.deleted',
      orgSlug: 'hooli',
      details: { by: 'operator' },
    });
  });

  await t.test('the owner deletes their own organisation from the console; an admin cannot', async (t) => {
    const created = await ta.ctx.organizations.create(
      { slug: 'acme', name: 'Acme', adminEmail: 'owner@acme.example', adminPassword: 'correct horse battery staple' },
      'test',
    );
    const owner = await signInClient(ta, 'acme', created.org.id, 'owner@acme.example');
    const admin = await adminWithRole(ta, { slug: 'acme', orgId: created.org.id }, 'admin');
    t.match((await owner.get('/admin/organization')).body, /Delete this organisation/);
    t.notMatch((await admin.get('/admin/organization')).body, /Delete this organisation/);
    t.equal((await admin.post('/admin/organization/delete', { confirm: 'acme' })).statusCode, 403);
    t.equal((await owner.get('/admin/organization/delete')).statusCode, 200);
    t.equal((await owner.post('/admin/organization/delete', { confirm: 'nope' })).statusCode, 400);
    const res = await owner.post('/admin/organization/delete', { confirm: 'acme' });
    t.equal(res.statusCode, 303);
    t.equal(res.headers.location, `http://${ta.config.baseDomain}/`);
    t.equal(await ta.ctx.store.organizations.findBySlug('acme'), null);
    t.match((await ta.ctx.store.platform.audit.list())[0], {
      type: 'organization.deleted',
      orgSlug: 'acme',
      actor: 'owner@acme.example',
      details: { by: 'owner' },
    });
  });

  await t.test('sign out ends the session', async (t) => {
    t.equal((await root('POST', '/operator/logout', { _csrf: csrf })).statusCode, 303);
    t.equal((await root('GET', '/operator')).statusCode, 303);
  });
});

t.test('the first operator on the welcome page, with the first organisation', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const res = await ta.request(null, {
    method: 'POST',
    url: '/',
    remoteAddress: '127.0.0.1',
    payload: { name: 'Pied Pipers', slug: 'piedpipers', adminEmail: 'richard@pp.example', operator: 'yes' },
  });
  t.equal(res.statusCode, 200);
  t.match(res.body, /richard@pp\.example<\/strong> is the platform operator/);
  const password = /password <span class="secret">([^<]+)<\/span>/.exec(res.body)![1];
  const key = /authenticator app:\s*<span class="secret">([A-Z2-7]+)<\/span>/.exec(res.body)![1];
  t.match(res.body, /<img src="data:image\/png;base64,/);
  const platform = ta.ctx.store.platform;
  const step = await signIn(ta.ctx, platform, 'richard@pp.example', password);
  t.equal(step.kind, 'second_step');
  if (step.kind === 'second_step')
    t.ok(
      await completeSecondStep(ta.ctx, platform, step.ticket, oathtool(key, ta.clock.now())),
      'the key shown signs in',
    );
  t.equal(await platform.admins.count(), 1);
});
