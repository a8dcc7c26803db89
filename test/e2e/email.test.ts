// E-mail against a real SMTP server (aiosmtpd, started here): the admin invitation (the link in both parts opens the
// invitation), "your second factor was reset", and "new sign-in from a new device" with what does and does not count
// as new; a relay that is down fails nothing (the console shows the link, the login completes) and is audited; and
// without SMTP_URL nothing is sent and the console says so.
import t from 'tap';
import { createServer } from 'node:net';
import { RememberedDevices } from '../../src/mfa/remembered-devices.ts';
import { signedInAdmin } from '../helpers/admin.ts';
import { createTestApp } from '../helpers/app.ts';
import { Browser } from '../helpers/browser.ts';
import { startSmtpSink, type SunkMessage } from '../helpers/smtp-sink.ts';
import { appReceives, createWorld, idpAnswers, type World } from '../helpers/sso-world.ts';
import type { SAML } from '@node-saml/node-saml';
import type { FakeIdp } from '../helpers/fake-idp.ts';

const linkIn = (text: string) => /(http:\/\/[^\s"<]+\/admin\/invite\/[A-Za-z0-9_-]+)/.exec(text)?.[1];

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function auditWait(list: () => Promise<{ type: string }[]>, type: string) {
  for (let i = 0; i < 300; i++) {
    const found = (await list()).filter((e) => e.type === type);
    if (found.length) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${type} audit line`);
}

t.test('admin invitation and second-factor reset, by e-mail', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const ta = await createTestApp({ env: { SMTP_URL: sink.url, SMTP_FROM: 'Sign-in <no-reply@broker.test>' } });
  t.teardown(ta.cleanup);
  const admin = await signedInAdmin(ta, 'acme', { name: 'Acme & Co' });
  await ta.ctx.store.organizations.update(admin.orgId, { primaryColor: '#aa3300' });

  await t.test(
    'the invitation goes to the invited address with the same one-time link the console shows',
    async (t) => {
      const form = await admin.get('/admin/admins');
      t.match(form.body, /name="sendEmail"/, 'the invite form offers e-mail');
      const posted = await admin.post('/admin/admins/invite', {
        email: 'new.admin@acme.example',
        role: 'helpdesk',
        sendEmail: 'yes',
      });
      t.equal(posted.statusCode, 303);
      const res = await admin.get(String(posted.headers.location));
      t.equal(res.statusCode, 200);
      t.match(res.body, /sent by e-mail to new\.admin@acme\.example/);
      const shown = /id="link" type="text" readonly value="([^"]+)"/.exec(res.body)![1];
      const mail: SunkMessage = await sink.waitFor((m) => m.rcptTos.includes('new.admin@acme.example'));
      t.equal(mail.subject, 'You are invited to administer Acme & Co');
      t.equal(mail.from, 'Sign-in <no-reply@broker.test>');
      t.equal(mail.contentType, 'multipart/alternative', 'HTML and plain text');
      t.equal(linkIn(mail.text!), shown, 'plain text carries the link');
      t.match(mail.text!, /Acme & Co/, 'plain text is not HTML-escaped');
      t.match(mail.text!, /as helpdesk/);
      t.match(
        mail.html!,
        new RegExp(`href="${shown.replace(/[.?*+^$[\]\\(){}|-]/g, '\\$&')}"`),
        'HTML carries the link as a button',
      );
      t.match(mail.html!, /Acme &amp; Co/, 'HTML escapes the name');
      t.match(mail.html!, /#aa3300/, "in the organisation's colour");
      const opened = await ta.request('acme', { method: 'GET', url: new URL(shown).pathname });
      t.equal(opened.statusCode, 200, 'the link opens the invitation');
      t.match(opened.body, /new\.admin@acme\.example/);
      const sent = (await ta.ctx.store.forOrg(admin.orgId).audit.list({ type: 'email.sent' }))[0];
      t.match(sent, { actor: admin.email, details: { template: 'admin-invite', to: 'new.admin@acme.example' } });
    },
  );

  await t.test('without the box ticked, nothing is sent and the link is to copy', async (t) => {
    const before = sink.messages().length;
    const posted = await admin.post('/admin/admins/invite', { email: 'quiet@acme.example', role: 'viewer' });
    t.equal(posted.statusCode, 303);
    const res = await admin.get(String(posted.headers.location));
    t.equal(res.statusCode, 200);
    t.match(res.body, /Copy this link now and send it to quiet@acme\.example/);
    t.notMatch(res.body, /sent by e-mail/);
    t.equal(sink.messages().length, before);
  });

  await t.test('a reset second factor is told to its user', async (t) => {
    const store = ta.ctx.store.forOrg(admin.orgId);
    const user = await store.users.create({ email: 'ann@acme.example', firstName: 'Ann' });
    const res = await admin.post(`/admin/users/${user.id}/reset-totp`);
    t.equal(res.statusCode, 303, 'the reset itself answers at once');
    const mail = await sink.waitFor((m) => m.rcptTos.includes('ann@acme.example'));
    t.equal(mail.subject, 'Your second factor for Acme & Co was reset');
    t.match(mail.text!, /Hello Ann,/);
    t.match(mail.text!, /http:\/\/acme\.broker\.test\/login/);
    t.match(mail.html!, /If you did not ask for this/);
    const [line] = await auditWait(() => store.audit.list({ userId: user.id }), 'email.sent');
    t.match(line, { actor: admin.email, userId: user.id, details: { template: 'mfa-reset' } });
  });
});

t.test(
  'a relay that is down: the console shows the link and says so; the reset is done and the failure audited',
  async (t) => {
    const ta = await createTestApp({
      env: { SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, SMTP_TIMEOUT_MS: '2000' },
    });
    t.teardown(ta.cleanup);
    const admin = await signedInAdmin(ta, 'acme');
    const posted = await admin.post('/admin/admins/invite', {
      email: 'new.admin@acme.example',
      role: 'admin',
      sendEmail: 'yes',
    });
    t.equal(posted.statusCode, 303, 'the invitation exists all the same');
    const res = await admin.get(String(posted.headers.location));
    t.equal(res.statusCode, 200);
    t.match(res.body, /could not be sent/);
    t.match(res.body, /\/admin\/invite\/inv_/, 'the link is shown to copy');
    const store = ta.ctx.store.forOrg(admin.orgId);
    const [failed] = await store.audit.list({ type: 'email.failed' });
    t.match(failed, {
      outcome: 'failure',
      code: 'email_failed',
      details: { template: 'admin-invite', to: 'new.admin@acme.example' },
    });
    t.ok((failed.details as { error: string }).error, 'with the SMTP error');

    const user = await store.users.create({ email: 'ann@acme.example' });
    t.equal((await admin.post(`/admin/users/${user.id}/reset-totp`)).statusCode, 303);
    t.ok((await store.audit.list({ userId: user.id, type: 'mfa.reset' })).length, 'the reset happened');
    const [resetFailed] = await auditWait(() => store.audit.list({ userId: user.id }), 'email.failed');
    t.match(resetFailed, { details: { template: 'mfa-reset' } });
  },
);

t.test('without SMTP_URL: nothing to send, the console says so and shows the link', async (t) => {
  const ta = await createTestApp();
  t.teardown(ta.cleanup);
  t.equal(ta.ctx.mailer.enabled, false);
  const admin = await signedInAdmin(ta, 'acme');
  const form = await admin.get('/admin/admins');
  t.notMatch(form.body, /name="sendEmail"/);
  t.match(form.body, /E-mail is not set up on this server/);
  const posted = await admin.post('/admin/admins/invite', {
    email: 'new.admin@acme.example',
    role: 'admin',
    sendEmail: 'yes',
  });
  t.equal(posted.statusCode, 303);
  const res = await admin.get(String(posted.headers.location));
  t.equal(res.statusCode, 200);
  t.match(res.body, /Copy this link now and send it to new\.admin@acme\.example/);
  const user = await ta.ctx.store.forOrg(admin.orgId).users.create({ email: 'ann@acme.example' });
  t.equal((await admin.post(`/admin/users/${user.id}/reset-totp`)).statusCode, 303);
  const settings = await admin.get('/admin/organization');
  t.match(settings.body, /name="notifyNewDevice"/);
  t.equal(
    (await ta.ctx.store.forOrg(admin.orgId).audit.list()).filter((e) => e.type.startsWith('email.')).length,
    0,
    'no e-mail was attempted',
  );
});

/** A whole login from `browser`, straight to the app (no second factor in these apps' policies). */
async function login(w: World, browser: Browser, sp: SAML, fake: FakeIdp) {
  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const location = String(start.headers.location);
  if (!location.startsWith('https://')) {
    // served by the broker session: straight on to the continue step
    const next = await browser.get(`${w.base}${location}`);
    return appReceives(sp, next);
  }
  const acs = await idpAnswers(w, browser, fake, location);
  return appReceives(sp, await browser.get(`${w.base}${acs.res.headers.location}`));
}

t.test('new sign-in from a new device', async (t) => {
  const sink = await startSmtpSink();
  t.teardown(() => sink.stop());
  const w = await createWorld('piedpipers', undefined, { env: { SMTP_URL: sink.url } });
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');
  const { sp: wiki } = await w.addApp('Wiki');
  const user = await w.org.store.users.create({ email: 'ann@customer.example', firstName: 'Ann' });
  const newDevice = () => sink.messages().filter((m) => m.subject.startsWith('New sign-in'));

  // What must not send (checked first; the one login that must send comes last, and its message is awaited).
  t.equal(
    (await login(w, new Browser(w.ta), sp, fake)).profile.nameID,
    'ann@customer.example',
    'switch off: login as usual',
  );
  await w.ta.ctx.store.organizations.update(w.org.org.id, { notifyNewDevice: true });
  const known = new Browser(w.ta);
  const { cookie } = await new RememberedDevices(w.org.store, w.ta.ctx.deviceKey, w.ta.clock).remember(
    user.id,
    30,
    'laptop',
  );
  (known as unknown as { jar: Map<string, Map<string, string>> }).jar.set(
    new URL(w.base).host,
    new Map([['broker_device', cookie]]),
  );
  await login(w, known, sp, fake);
  t.equal(
    (await login(w, known, wiki, fake)).profile.nameID,
    'ann@customer.example',
    'single sign-on to a second app from the open session',
  );

  const fresh = new Browser(w.ta);
  t.equal(
    (await login(w, fresh, sp, fake)).profile.nameID,
    'ann@customer.example',
    'the login completes without waiting for the relay',
  );
  const mail = await sink.waitFor((m) => m.subject === 'New sign-in to Jira (Pied Pipers)');
  t.same(mail.rcptTos, ['ann@customer.example']);
  t.match(mail.text!, /Hello Ann,/);
  t.match(mail.text!, /Signed in through: Okta/);
  t.match(mail.html!, /<strong>Jira<\/strong>/);
  // Every earlier login finished before this one started: their messages, had there been any, were sent first.
  t.equal(newDevice().length, 1, 'only the browser without a remembered device counted as new');
  const [line] = await auditWait(() => w.org.store.audit.list({ userId: user.id }), 'email.sent');
  t.match(line, { details: { template: 'new-device', to: 'ann@customer.example' } });
});

t.test('new-device e-mail with the relay down: the login completes, the failure is audited', async (t) => {
  const w = await createWorld('piedpipers', undefined, {
    env: { SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, SMTP_TIMEOUT_MS: '2000' },
  });
  t.teardown(w.ta.cleanup);
  const { fake } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira');
  const user = await w.org.store.users.create({ email: 'ann@customer.example' });
  await w.ta.ctx.store.organizations.update(w.org.org.id, { notifyNewDevice: true });
  t.equal((await login(w, new Browser(w.ta), sp, fake)).profile.nameID, 'ann@customer.example');
  const [failed] = await auditWait(() => w.org.store.audit.list({ userId: user.id }), 'email.failed');
  t.match(failed, { outcome: 'failure', code: 'email_failed', details: { template: 'new-device' } });
});
