// The production build (what the Dockerfile runs: `npm run build`, then `node dist/src/server.js`) starts on an empty
// database, applies the migrations and renders pages. Paths to migrations and templates must not depend on where
// the compiled files sit.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

const get = (port: number, path: string, host: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

t.test('the compiled server migrates an empty database and serves pages', async (t) => {
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, encoding: 'utf8' },
  );
  t.equal(build.status, 0, build.stdout + build.stderr);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'built-'));
  const server = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH!,
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: `file:${join(dir, 'broker.db')}`,
      MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
      LOG_LEVEL: 'info',
    },
  });
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  server.stderr.on('data', (d) => (out += d));
  t.teardown(() => {
    server.kill('SIGTERM');
  });
  for (let i = 0; i < 200 && !out.includes('broker ready'); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(out, /database migrations applied/, 'migrations applied at start');
  t.equal((await get(port, '/readyz', `localhost:${port}`)).status, 200, 'migrations current');
  const welcome = await get(port, '/', `localhost:${port}`);
  t.equal(welcome.status, 200);
  t.match(welcome.body, /<form/, 'templates found and rendered');
});
