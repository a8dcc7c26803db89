// The two commands a new user runs, as real processes: the CLI creates an organisation, the server serves its
// metadata over real HTTP, and SIGTERM shuts it down cleanly.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { freePort } from '../helpers/own-services.ts';

/** A GET on a new connection each time (so that a cluster's workers share them out). */
function httpGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

const root = new URL('../..', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');
const dir = mkdtempSync(join(tmpdir(), 'broker-proc-'));
const baseEnv = {
  PATH: process.env.PATH!,
  DATABASE_URL: `file:${join(dir, 'broker.db')}`,
  MASTER_KEY: Buffer.alloc(32, 5).toString('base64'),
  LOG_LEVEL: 'info',
};

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(tsx, ['src/cli/index.ts', ...args], { cwd: root, env: { ...baseEnv, ...env }, encoding: 'utf8' });

t.test('CLI: org create prints the URLs and a one-time password; errors are clear', async (t) => {
  const port = 3999;
  const out = cli(
    ['org', 'create', '--slug', 'piedpipers', '--name', 'Pied Pipers', '--admin-email', 'admin@pp.example'],
    { PORT: String(port) },
  );
  t.equal(out.status, 0, out.stderr);
  t.match(out.stdout, /Created organisation "Pied Pipers" \(piedpipers\)/);
  t.match(out.stdout, /One-time admin password \(shown once.*\): [A-Za-z0-9]{20}/);
  for (const path of ['/login', '/admin', '/saml/idp/metadata', '/saml/sp/metadata'])
    t.match(out.stdout, `http://piedpipers.localhost:${port}${path}`);

  const dup = cli(['org', 'create', '--slug', 'piedpipers', '--name', 'Again', '--admin-email', 'a@pp.example']);
  t.equal(dup.status, 1);
  t.match(dup.stderr, /already exists/);

  const json = cli([
    'org',
    'create',
    '--slug',
    'hooli',
    '--name',
    'Hooli',
    '--admin-email',
    'a@hooli.example',
    '--admin-password',
    'a long admin password',
    '--json',
  ]);
  t.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  t.equal(parsed.org.slug, 'hooli');
  t.equal(parsed.generatedPassword, undefined, 'no password printed when one was given');

  const usage = cli(['org', 'create', '--slug', 'x']);
  t.equal(usage.status, 64);
  t.match(usage.stderr, /needs --slug, --name and --admin-email/);
  const unknown = cli(['frobnicate']);
  t.equal(unknown.status, 64);
  const badConfig = cli(['org', 'list'], { PORT: 'abc' });
  t.equal(badConfig.status, 1);
  t.match(badConfig.stderr, /PORT:/);
  const list = cli(['org', 'list']);
  t.match(list.stdout, /hooli/);
  t.match(list.stdout, /piedpipers/);
});

t.test('CLI: register an IdP by hand and from metadata, and an app from SP metadata', async (t) => {
  const { generateSigningCredential } = await import('../../src/saml/certificates.ts');
  const { idpMetadata, spMetadata } = await import('../../src/saml/metadata.ts');
  const { writeFileSync } = await import('node:fs');
  const idpKey = generateSigningCredential('okta');
  writeFileSync(join(dir, 'okta.pem'), idpKey.certificatePem);
  const byHand = cli([
    'idp',
    'add',
    '--org',
    'piedpipers',
    '--name',
    'Okta',
    '--entity-id',
    'http://www.okta.com/exk1',
    '--sso-url',
    'https://okta.example/sso',
    '--cert-file',
    join(dir, 'okta.pem'),
    '--json',
  ]);
  t.equal(byHand.status, 0, byHand.stderr);
  const okta = JSON.parse(byHand.stdout);
  writeFileSync(
    join(dir, 'wso2.xml'),
    idpMetadata({
      entityId: 'wso2.example',
      ssoUrl: 'https://wso2.example/samlsso',
      sloUrl: 'https://wso2.example/slo',
      certificates: [idpKey.certificatePem],
      organizationName: 'W',
      organizationUrl: 'https://wso2.example',
      wantAuthnRequestsSigned: true,
    }),
  );
  const fromFile = cli([
    'idp',
    'add',
    '--org',
    'piedpipers',
    '--name',
    'WSO2',
    '--metadata-file',
    join(dir, 'wso2.xml'),
    '--preset',
    'wso2',
  ]);
  t.equal(fromFile.status, 0, fromFile.stderr);
  t.match(fromFile.stdout, /Registered identity provider "WSO2"/);
  t.match(fromFile.stdout, /ACS http:\/\/piedpipers\.localhost:3000\/saml\/sp\/acs/);
  const dup = cli(['idp', 'add', '--org', 'piedpipers', '--name', 'Again', '--metadata-file', join(dir, 'wso2.xml')]);
  t.equal(dup.status, 1);
  t.match(dup.stderr, /already registered/);
  const badCert = cli([
    'idp',
    'add',
    '--org',
    'piedpipers',
    '--name',
    'Bad',
    '--entity-id',
    'x',
    '--sso-url',
    'https://x.example',
    '--cert-file',
    join(dir, 'wso2.xml'),
  ]);
  t.equal(badCert.status, 1);
  t.match(badCert.stderr, /certificates/);
  writeFileSync(
    join(dir, 'jira.xml'),
    spMetadata({
      entityId: 'https://jira.example',
      acsUrl: 'https://jira.example/acs',
      sloUrl: 'https://jira.example/slo',
      certificates: [idpKey.certificatePem],
      authnRequestsSigned: false,
      wantAssertionsSigned: false,
      organizationName: 'J',
      organizationUrl: 'https://jira.example',
    }),
  );
  const app = cli([
    'app',
    'add',
    '--org',
    'piedpipers',
    '--name',
    'Jira',
    '--metadata-file',
    join(dir, 'jira.xml'),
    '--primary-idp',
    okta.id,
  ]);
  t.equal(app.status, 0, app.stderr);
  t.match(app.stdout, /Launch link for users: http:\/\/piedpipers\.localhost:3000\/apps\/[0-9a-f-]+\/launch/);
  const list = cli(['app', 'list', '--org', 'piedpipers', '--json']);
  t.same(
    JSON.parse(list.stdout).map((a: { entityId: string }) => a.entityId),
    ['https://jira.example'],
  );
  const settings = cli([
    'org',
    'settings',
    'piedpipers',
    '--jit',
    'on',
    '--totp-digits',
    '8',
    '--primary-color',
    '#112233',
  ]);
  t.equal(settings.status, 0, settings.stderr);
  t.match(settings.stdout, /just-in-time users on, TOTP 8 digits/);
  const badSettings = cli(['org', 'settings', 'piedpipers', '--totp-digits', '7', '--primary-color', 'red']);
  t.equal(badSettings.status, 1);
  t.match(badSettings.stderr, /totpDigits must be 6 or 8/);
  t.match(badSettings.stderr, /primaryColor must be a colour/);
  const counter = cli(['org', 'settings', 'piedpipers', '--webauthn-counter-policy', 'allow-flagged']);
  t.equal(counter.status, 0, counter.stderr);
  t.match(counter.stdout, /security key counter going backwards: allow-flagged\./);
  const badCounter = cli(['org', 'settings', 'piedpipers', '--webauthn-counter-policy', 'ignore']);
  t.equal(badCounter.status, 1);
  t.match(badCounter.stderr, /webauthnCounterPolicy must be refuse or allow-flagged/);
  // The refused value changed nothing: the organisation still has the policy set before it.
  const kept = cli(['org', 'settings', 'piedpipers']);
  t.equal(kept.status, 0, kept.stderr);
  t.match(kept.stdout, /security key counter going backwards: allow-flagged\./);
  const twofa = cli([
    'policy',
    '2fa',
    'on',
    '--org',
    'piedpipers',
    '--app',
    'https://jira.example',
    '--remember-days',
    '14',
  ]);
  t.equal(twofa.status, 0, twofa.stderr);
  const shown = JSON.parse(cli(['policy', 'show', '--org', 'piedpipers', '--app', 'https://jira.example']).stdout);
  t.match(shown, [{ id: 'everyone-totp', action: 'require_totp', rememberDeviceDays: 14 }]);
  writeFileSync(join(dir, 'bad-rules.json'), JSON.stringify([{ id: 'x', action: 'explode' }]));
  const badRules = cli([
    'policy',
    'set',
    '--org',
    'piedpipers',
    '--app',
    'https://jira.example',
    '--file',
    join(dir, 'bad-rules.json'),
  ]);
  t.equal(badRules.status, 1);
  t.match(badRules.stderr, /rules\.0\.action/);
  const noOrg = cli(['idp', 'list', '--org', 'nope']);
  t.equal(noOrg.status, 64);
});

t.test('server: serves the organisation metadata over HTTP and shuts down gracefully on SIGTERM', async (t) => {
  const port = await freePort();
  const server = spawn(tsx, ['src/server.ts'], {
    cwd: root,
    env: { ...baseEnv, PORT: String(port), SHUTDOWN_DRAIN_SECONDS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  server.stdout.on('data', (d) => (logs += d));
  server.stderr.on('data', (d) => (logs += d));
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  const deadline = Date.now() + 30_000;
  while (!/broker ready/.test(logs)) {
    if (Date.now() > deadline || server.exitCode !== null) t.fail(`server did not start: ${logs}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const res = await httpGet(port, '/saml/idp/metadata', `piedpipers.localhost:${port}`);
  t.equal(res.status, 200);
  t.match(res.body, `entityID="http://piedpipers.localhost:${port}/saml/idp/metadata"`);
  const ready = await httpGet(port, '/readyz', `localhost:${port}`);
  t.same(JSON.parse(ready.body), { status: 'ready' });

  const findLine = () => logs.split('\n').find((l) => l.includes('"url":"/readyz"'));
  for (let i = 0; i < 50 && !findLine(); i++) await new Promise((r) => setTimeout(r, 50));
  const line = findLine();
  t.ok(line && JSON.parse(line).reqId, 'logs are JSON lines carrying a request id');

  server.kill('SIGTERM');
  t.equal(await exited, 0, 'graceful shutdown exits 0');
  t.match(logs, /draining for 1 s/);
  t.match(logs, /"msg":"closing/);
});

t.test('server: a bad setting stops it with a message naming the variable', async (t) => {
  const r = spawnSync(tsx, ['src/server.ts'], {
    cwd: root,
    env: { ...baseEnv, DATABASE_URL: 'mysql://nope' },
    encoding: 'utf8',
  });
  t.equal(r.status, 78);
  t.match(r.stderr, /DATABASE_URL:/);
});

t.test(
  'server with WORKERS=2: both processes serve the port, /metrics covers the node, a dead worker is replaced, SIGTERM stops all',
  async (t) => {
    const port = await freePort();
    const server = spawn(tsx, ['src/server.ts'], {
      cwd: root,
      env: { ...baseEnv, PORT: String(port), WORKERS: '2', SHUTDOWN_DRAIN_SECONDS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    server.stdout.on('data', (d) => (logs += d));
    server.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    const pidsServing = () =>
      new Set(
        logs
          .split('\n')
          .filter((l) => l.includes('"msg":"request completed"'))
          .map((l) => JSON.parse(l).pid as number),
      );
    t.teardown(() => {
      for (const pid of pidsServing())
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      if (server.exitCode === null) server.kill('SIGKILL');
    });
    const waitFor = async (what: () => boolean, label: string) => {
      const deadline = Date.now() + 30_000;
      while (!what()) {
        if (Date.now() > deadline || server.exitCode !== null) throw new Error(`${label}: ${logs.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor(() => /"workers":2.*broker ready/.test(logs), 'cluster did not start');
    t.equal(logs.match(/Server listening/g)?.length, 2, 'two workers listen');

    // New connections are handed out among the workers.
    for (let i = 0; i < 10; i++) t.equal((await httpGet(port, '/readyz', `localhost:${port}`)).status, 200);
    await waitFor(() => pidsServing().size === 2, 'both workers should have served');
    const workers = [...pidsServing()];
    t.not(workers[0], server.pid, 'the primary serves no requests');

    // Whichever worker answers, /metrics is the sum over the node: the heap of two processes.
    const heap = (text: string) => Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1]);
    const metrics = await httpGet(port, '/metrics', `localhost:${port}`);
    t.equal(metrics.status, 200);
    t.match(metrics.body, /broker_logins_total/);
    t.ok(heap(metrics.body) > 2 * 20_000_000, 'heap summed over both workers');

    // A worker that dies is replaced; the port keeps answering meanwhile.
    process.kill(workers[0], 'SIGKILL');
    await waitFor(
      () => /broker worker exited; starting another/.test(logs) && (logs.match(/Server listening/g)?.length ?? 0) === 3,
      'a replacement worker should start',
    );
    for (let i = 0; i < 4; i++) t.equal((await httpGet(port, '/readyz', `localhost:${port}`)).status, 200);

    server.kill('SIGTERM');
    // Each worker drains: whichever answers, /readyz says so while requests are still served.
    await waitFor(() => (logs.match(/draining for 1 s/g)?.length ?? 0) === 2, 'both workers should drain');
    for (let i = 0; i < 4; i++)
      t.same(JSON.parse((await httpGet(port, '/readyz', `localhost:${port}`)).body), {
        status: 'not_ready',
        code: 'draining',
      });
    t.equal((await httpGet(port, '/healthz', `localhost:${port}`)).status, 200, 'still served while draining');
    t.equal(await exited, 0, 'graceful shutdown exits 0');
    t.equal(logs.match(/"msg":"closing: no new connections/g)?.length, 2, 'both live workers shut down gracefully');
    for (const pid of pidsServing()) t.throws(() => process.kill(pid, 0), 'no worker outlives the primary');
  },
);
