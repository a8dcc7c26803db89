// `npm run demo` on ports that are taken says which, and writes nothing; a later run on other ports, with the same
// data folder, moves the demo peers' registrations to its ports (an app login reaches the demo IdP, not
// saml_unknown_app).
import { spawn, spawnSync } from 'node:child_process';
import { get } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../helpers/own-services.ts';

const root = join(import.meta.dirname, '..', '..');
const tsx = join(root, 'node_modules/.bin/tsx');

/** Three consecutive free ports (broker, demo IdP, demo app). */
async function threePorts(): Promise<number> {
  for (;;) {
    const p = await freePort();
    const free = await Promise.all(
      [p + 1, p + 2].map(
        (q) =>
          new Promise<boolean>((done) => {
            const s = createServer()
              .once('error', () => done(false))
              .listen(q, '127.0.0.1', () => s.close(() => done(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return p;
  }
}

async function runDemo(t: Tap, port: number, dataDir: string) {
  const demo = spawn(tsx, ['demo/run.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), DEMO_DATA_DIR: dataDir, CONFIG_CACHE_SECONDS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout.on('data', (d) => (out += d));
  demo.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => demo.once('exit', () => r()));
  t.teardown(async () => {
    demo.kill('SIGTERM');
    await exited;
  });
  for (let i = 0; i < 600 && !out.includes('demo is running') && demo.exitCode === null; i++)
    await new Promise((r) => setTimeout(r, 100));
  return {
    out: () => out,
    stop: async () => {
      demo.kill('SIGTERM');
      await exited;
    },
  };
}
type Tap = { teardown(fn: () => unknown): void };

/** GET without following redirects; `*.localhost` names are sent to 127.0.0.1 (as browsers do) with their Host. */
function getManual(url: string): Promise<{ status: number; location?: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: u.port, path: u.pathname + u.search, headers: { host: u.host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    }).on('error', reject);
  });
}

t.test('a taken port is named, and nothing is written', async (t) => {
  const port = await threePorts();
  const blocker = createServer().listen(port + 1, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  t.teardown(() => blocker.close());
  const dataDir = join(mkdtempSync(join(tmpdir(), 'demo-ports-')), 'data');
  t.teardown(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));
  const r = spawnSync(tsx, ['demo/run.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), DEMO_DATA_DIR: dataDir },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 1, 'exits with 1');
  t.match(r.stderr, `port ${port + 1}, for the demo IdP (DEMO_IDP_PORT)`, 'names the port and what it was for');
  t.match(r.stderr, 'PORT=4000 npm run demo', 'says how to use other ports');
  t.notMatch(r.stderr, /EADDRINUSE|at .*\.ts:\d+/, 'no raw error trace');
  t.notOk(existsSync(dataDir), 'no data folder was created');
});

t.test('a second run on other ports moves the demo peers to them', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'demo-ports-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await threePorts();
  const run1 = await runDemo(t, first, dataDir);
  t.match(run1.out(), 'demo is running', 'the first run starts');
  await run1.stop();

  const second = await threePorts();
  t.not(second, first);
  const run2 = await runDemo(t, second, dataDir);
  t.match(run2.out(), 'demo is running', 'the second run starts on other ports');
  // The demo app's login redirects to the broker with its AuthnRequest; the broker must know the app at its new port
  // and send the browser on to the demo IdP at its new port.
  const toBroker = await getManual(`http://localhost:${second + 2}/login`);
  t.equal(toBroker.status, 302);
  const atBroker = await getManual(toBroker.location!);
  t.equal(atBroker.status, 302, 'the broker accepts the app at its new port');
  t.match(
    String(atBroker.location),
    `http://localhost:${second + 1}/sso`,
    'and sends the browser to the demo IdP at its new port',
  );
});
