// Admins and roles in the console: an owner invites by one-time link (shown once, stored hashed); the invited
// person opens it, chooses a password and enrols TOTP with a code computed here, and is signed in with the role.
// Expired, reused and other-organisation links are refused. Role changes and removals are audited; the last owner
// can be neither demoted nor removed (409); nobody raises their own role; navigation follows the role.
import t from 'tap';
import { generateSync } from 'otplib';
import type { LightMyRequestResponse } from 'fastify';
import { sha256 } from '../../src/crypto/hash.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { adminWithRole, csrfIn, signedInAdmin, signInClient } from '../helpers/admin.ts';
import { changeAdminRole } from '../../src/admin/team.ts';

const keyIn = (html: string) => /id="manual-key"[^>]*>([A-Z2-7]+)<\/code>/.exec(html)?.[1] ?? '';
const setupIn = (html: string) => /name="setup" value="([^"]+)"/.exec(html)?.[1] ?? '';
const linkIn = (html: string) => /value="(https?:\/\/[^"]+\/admin\/invite\/(inv_[A-Za-z0-9_-]{43}))"/.exec(html);
const NEW_PASSWORD = 'a brand new passphrase';

/** A browser without a session opening an invitation link: its own cookie jar. */
function visitor(ta: TestApp, slug: string) {
  const jar: Record<string, string> = {};
  const keep = (res: LightMyRequestResponse) => {
    for (const c of res.cookies as { name: string; value: string }[]) jar[c.name] = c.value;
    return res;
  };
  const cookie = () =>
    Object.entries(jar)
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  return {
    jar,
    get: async (url: string) => keep(await ta.request(slug, { method: 'GET', url, headers: { cookie: cookie() } })),
    post: async (url: string, form: Record<string, string>) =>
      keep(await ta.request(slug, { method: 'POST', url, headers: { cookie: cookie() }, payload: form })),
  };
}

t.test('admins and roles', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  const owner = await signedInAdmin(ta, 'piedpipers');
  const hooli = await signedInAdmin(ta, 'hooli');
  const store = ta.ctx.store.forOrg(owner.orgId);
  const codeFor = (secret: string) => generateSync({ secret, epoch: Math.floor(ta.clock.now().getTime() / 1000) });
  const audit = (type: string) => store.audit.list({ type });
  const invite = async (email: string, role: string) => {
    const posted = await owner.post('/admin/admins/invite', { email, role });
    t.equal(posted.statusCode, 303, `invitation for ${email} created, then POST-redirect-GET`);
    t.match(posted.headers.location, /^\/admin\/admins\/invited\/[^/]+$/);
    t.notOk(linkIn(posted.body), 'the answer to the POST carries no link');
    const res = await owner.get(String(posted.headers.location));
    t.equal(res.statusCode, 200);
    const m = linkIn(res.body);
    if (!m) throw new Error('no link on the page');
    return { res, shownAt: String(posted.headers.location), link: m[1], path: `/admin/invite/${m[2]}`, token: m[2] };
  };

  t.test('the existing admin is an owner; the Admins page lists them with role and last sign-in', async (t) => {
    const [me] = await store.admins.list();
    t.equal(me.role, 'owner');
    const page = await owner.get('/admin/admins');
    t.equal(page.statusCode, 200);
    t.match(page.body, /admin@piedpipers\.example <span class="hint">\(you\)<\/span>/);
    t.match(page.body, /<option value="owner" selected>owner<\/option>/);
    t.match(page.body, /2026-01-15 10:00 UTC/, 'last sign-in shown');
    t.match(page.body, /href="\/admin\/admins"/, 'owners see Admins in the navigation');
  });

  t.test('invite: validation, then the link shown once, stored hashed, audited', async (t) => {
    const bad = await owner.post('/admin/admins/invite', { email: 'not an email', role: 'boss' });
    t.equal(bad.statusCode, 400);
    t.match(bad.body, /Email is not a valid email address/);
    t.match(bad.body, /Role must be one of/);
    t.equal(
      (await owner.post('/admin/admins/invite', { email: 'ADMIN@piedpipers.example', role: 'viewer' })).statusCode,
      400,
      'an existing admin cannot be invited',
    );
    const { res, link, token } = await invite('Dinesh@PiedPipers.example', 'helpdesk');
    t.equal(res.headers['cache-control'], 'no-store');
    t.match(link, /^http:\/\/piedpipers\.broker\.test(:\d+)?\/admin\/invite\/inv_/);
    t.match(res.body, /shown only this\s+once/);
    const [pending] = await store.admins.pendingInvites(ta.clock.now());
    t.equal(pending.tokenHash, sha256(token), 'only the hash is stored');
    t.equal(pending.role, 'helpdesk');
    t.notOk((await owner.get('/admin/admins')).body.includes(token), 'the list never shows the link again');
    const [event] = await audit('admin.invited');
    t.match(event, { actor: owner.email, details: { email: 'Dinesh@PiedPipers.example', role: 'helpdesk' } });
  });

  t.test('the link page shows the link once: a reload says it was shown, creates nothing, shows no link', async (t) => {
    const before = (await store.admins.pendingInvites(ta.clock.now())).length;
    const { shownAt, token } = await invite('bighead@piedpipers.example', 'viewer');
    const again = await owner.get(shownAt);
    t.equal(again.statusCode, 200);
    t.equal(again.headers['cache-control'], 'no-store');
    t.notOk(linkIn(again.body), 'no link the second time');
    t.notOk(again.body.includes(token), 'nor the token anywhere on the page');
    t.match(again.body, /already shown, once/);
    t.match(again.body, /bighead@piedpipers\.example/);
    t.equal((await store.admins.pendingInvites(ta.clock.now())).length, before + 1, 'one invitation, not two');
    // Another session (the same owner signed in on another browser) finds nothing kept for it either.
    const other = await signInClient(ta, owner.slug, owner.orgId, owner.email);
    const theirs = await owner.post('/admin/admins/invite', { email: 'monica@piedpipers.example', role: 'viewer' });
    const seen = await other.get(String(theirs.headers.location));
    t.equal(seen.statusCode, 200);
    t.notOk(linkIn(seen.body), 'another session never sees the link kept for this one');
    t.ok(linkIn((await owner.get(String(theirs.headers.location))).body), 'while this session still gets it, once');
    t.equal((await owner.get('/admin/admins/invited/no-such-invite')).headers.location, '/admin/admins');
  });

  t.test('invite happy path: open the link, password + TOTP, signed in with the role', async (t) => {
    const { path } = await invite('gilfoyle@piedpipers.example', 'helpdesk');
    const v = visitor(ta, 'piedpipers');
    const form = await v.get(path);
    t.equal(form.statusCode, 200);
    t.match(form.body, /Join piedpipers as helpdesk/);
    t.match(form.body, /gilfoyle@piedpipers\.example/);
    const secret = keyIn(form.body);
    const setup = setupIn(form.body);
    t.ok(secret && setup, 'a TOTP setup is shown');
    const csrf = csrfIn(form.body);
    t.equal(
      (
        await v.post(path, {
          _csrf: 'forged',
          password: NEW_PASSWORD,
          confirm: NEW_PASSWORD,
          setup,
          code: codeFor(secret),
        })
      ).statusCode,
      403,
      'CSRF checked',
    );
    const short = await v.post(path, {
      _csrf: csrf,
      password: 'short',
      confirm: 'short',
      setup,
      code: codeFor(secret),
    });
    t.equal(short.statusCode, 400);
    t.match(short.body, /Password must be at least 12 characters/, 'the same password rules as everywhere');
    const wrong = await v.post(path, {
      _csrf: csrf,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
      setup,
      code: codeFor(secret) === '000000' ? '111111' : '000000',
    });
    t.equal(wrong.statusCode, 400);
    t.match(wrong.body, /The code is not right/);
    t.equal(keyIn(wrong.body), secret, 'the same setup is kept after a wrong code');
    t.notOk(await store.admins.findByEmail('gilfoyle@piedpipers.example'), 'nothing created yet');
    const ok = await v.post(path, {
      _csrf: csrf,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
      setup,
      code: codeFor(secret),
    });
    t.equal(ok.statusCode, 303);
    t.equal(ok.headers.location, '/admin');
    t.ok(v.jar.broker_admin, 'a session cookie');
    const home = await v.get('/admin');
    t.equal(home.statusCode, 200, 'signed in');
    t.match(home.body, /gilfoyle@piedpipers\.example \(helpdesk\)/);
    t.notMatch(
      home.body,
      /href="\/admin\/tokens"|href="\/admin\/admins"/,
      'navigation hides what a helpdesk cannot use',
    );
    t.match(home.body, /href="\/admin\/users"/);
    const created = await store.admins.findByEmail('gilfoyle@piedpipers.example');
    t.equal(created?.role, 'helpdesk');
    t.ok(created?.totpSecretEnc, 'two-factor sign-in is on');
    t.equal((await v.get('/admin/admins')).statusCode, 403, 'a helpdesk cannot open Admins');
    t.match(await audit('admin.invite_accepted'), [
      { actor: 'gilfoyle@piedpipers.example', details: { role: 'helpdesk', invitedBy: owner.email } },
    ]);

    t.test('the link works once', async (t) => {
      const again = visitor(ta, 'piedpipers');
      const res = await again.get(path);
      t.equal(res.statusCode, 410);
      t.match(res.body, /already used/);
      t.equal(
        (
          await again.post(path, {
            _csrf: csrf,
            password: NEW_PASSWORD,
            confirm: NEW_PASSWORD,
            setup,
            code: codeFor(secret),
          })
        ).statusCode,
        403,
        'no CSRF cookie: refused before anything',
      );
    });

    t.test('the new admin signs in with the password and a TOTP code', async (t) => {
      ta.clock.advance(60_000);
      const b = visitor(ta, 'piedpipers');
      const login = await b.get('/admin/login');
      const step1 = await b.post('/admin/login', {
        _csrf: csrfIn(login.body),
        email: 'gilfoyle@piedpipers.example',
        password: NEW_PASSWORD,
      });
      t.equal(step1.headers.location, '/admin/login/totp');
      const step2 = await b.post('/admin/login/totp', { _csrf: csrfIn(login.body), code: codeFor(secret) });
      t.equal(step2.headers.location, '/admin');
    });
  });

  t.test('an expired link is refused', async (t) => {
    const { path, token } = await invite('richard@piedpipers.example', 'admin');
    const row = await store.admins.findInvite(sha256(token));
    t.equal(row!.expiresAt.getTime() - ta.clock.now().getTime(), 72 * 3600_000, 'ADMIN_INVITE_HOURS (72 by default)');
    // As if 72 hours had passed (moving the clock would also end the owner's console session).
    await ta.ctx.store.db.adminInvite.updateMany({
      where: { id: row!.id },
      data: { expiresAt: new Date(ta.clock.now().getTime() - 1000) },
    });
    const res = await visitor(ta, 'piedpipers').get(path);
    t.equal(res.statusCode, 410);
    t.match(res.body, /has expired/);
  });

  t.test("a link opened on another organisation's host is not found", async (t) => {
    const { path } = await invite('jared@piedpipers.example', 'viewer');
    const res = await visitor(ta, 'hooli').get(path);
    t.equal(res.statusCode, 404);
    t.match(res.body, /not valid here/);
    t.equal((await visitor(ta, 'piedpipers').get('/admin/invite/inv_made-up')).statusCode, 404);
    t.equal((await hooli.get('/admin/admins')).body.includes('jared'), false, 'nor listed there');
  });

  t.test('a withdrawn invitation stops working', async (t) => {
    const { path } = await invite('erlich@piedpipers.example', 'viewer');
    const pending = (await store.admins.pendingInvites(ta.clock.now())).find(
      (i) => i.email === 'erlich@piedpipers.example',
    );
    t.equal(
      (await owner.post(`/admin/admins/invites/${pending?.id}/withdraw`)).headers.location,
      '/admin/admins?done=invite-revoked',
    );
    t.equal((await visitor(ta, 'piedpipers').get(path)).statusCode, 404);
  });

  t.test('role changes are audited; the last owner cannot be demoted or removed', async (t) => {
    const [me] = await store.admins.list();
    const demote = await owner.post(`/admin/admins/${me.id}/role`, { role: 'admin' });
    t.equal(demote.statusCode, 409);
    t.match(demote.body, /last owner/);
    const remove = await owner.post(`/admin/admins/${me.id}/remove`);
    t.equal(remove.statusCode, 409);
    t.match(remove.body, /admin_last_owner/);
    t.equal((await store.admins.findById(me.id))?.role, 'owner');

    const gilfoyle = await store.admins.findByEmail('gilfoyle@piedpipers.example');
    const change = await owner.post(`/admin/admins/${gilfoyle?.id}/role`, { role: 'owner' });
    t.equal(change.headers.location, '/admin/admins?done=role-changed');
    t.match(await audit('admin.role_changed'), [
      { actor: owner.email, details: { adminId: gilfoyle?.id, from: 'helpdesk', to: 'owner' } },
    ]);
    // With a second owner, the first may step down.
    t.equal((await owner.post(`/admin/admins/${me.id}/role`, { role: 'admin' })).statusCode, 303);
    t.equal((await owner.get('/admin/admins')).statusCode, 403, 'the change applies at once: no longer an owner');
    t.match((await owner.get('/admin/admins')).body, /forbidden_role/);
    t.notMatch((await owner.get('/admin')).body, /href="\/admin\/admins"/, 'Admins left the navigation');
    await store.admins.setRole(me.id, 'owner');
  });

  t.test('nobody raises their own role', async (t) => {
    const viewer = await adminWithRole(ta, owner, 'viewer');
    const row = await store.admins.findByEmail(viewer.email);
    const raised = await changeAdminRole(ta.ctx, store, row!.id, 'admin', {
      id: row!.id,
      email: viewer.email,
      role: 'viewer',
    }).catch((err) => err);
    t.match(raised, { status: 403, code: 'forbidden_role' }, "giving a role above one's own is refused");
    const own = await changeAdminRole(ta.ctx, store, row!.id, 'admin', {
      id: row!.id,
      email: viewer.email,
      role: 'owner',
    }).catch((err) => err);
    t.match(own, { status: 403, code: 'admin_own_role' }, "and so is raising one's own role");
    t.equal(
      (await viewer.post(`/admin/admins/${row!.id}/role`, { role: 'owner' })).statusCode,
      403,
      'and the console route is for owners',
    );
    t.equal((await store.admins.findById(row!.id))?.role, 'viewer');
  });

  t.test("remove: audited, the removed admin's session ends", async (t) => {
    const helper = await adminWithRole(ta, owner, 'helpdesk', 'monica@piedpipers.example');
    t.equal((await helper.get('/admin/users')).statusCode, 200);
    const row = await store.admins.findByEmail(helper.email);
    const res = await owner.post(`/admin/admins/${row!.id}/remove`);
    t.equal(res.headers.location, '/admin/admins?done=admin-removed');
    t.equal(
      (await helper.get('/admin/users')).headers.location,
      '/admin/login?expired',
      'signed out: the sign-in page says the session ended',
    );
    t.notOk(await store.admins.findById(row!.id));
    t.match(await audit('admin.removed'), [
      { actor: owner.email, details: { email: 'monica@piedpipers.example', role: 'helpdesk' } },
    ]);
    t.equal((await owner.post(`/admin/admins/${row!.id}/remove`)).statusCode, 404);
    const other = (await ta.ctx.store.forOrg(hooli.orgId).admins.list())[0];
    t.equal(
      (await owner.post(`/admin/admins/${other.id}/remove`)).statusCode,
      404,
      "another organisation's admin is not found",
    );
  });

  t.test('a viewer reads but changes nothing; the forbidden answer names the role', async (t) => {
    const viewer = await adminWithRole(ta, owner, 'viewer', 'viewer2@piedpipers.example');
    t.equal((await viewer.get('/admin/idps')).statusCode, 200);
    const res = await viewer.post('/admin/users', { email: 'x@piedpipers.example' });
    t.equal(res.statusCode, 403);
    t.match(res.body, /Not allowed/);
    t.match(res.body, /needs the admin role/);
  });
});
