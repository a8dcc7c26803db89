// The README's test command stands alone (scripts/test-all.sh): on a machine without the Debian tools it stops at
// once with the exact install line, and without PostgreSQL or Redis at the configured URLs it starts throw-away
// servers for the run and stops them afterwards. TEST_SETUP_CHECK_ONLY=1 stops after the set-up, so the suite does not
// run inside itself.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const root = join(import.meta.dirname, '..', '..');
const script = join(root, 'scripts', 'test-all.sh');
const DEAD_PG = 'postgresql://postgres@127.0.0.1:1/test';
const DEAD_REDIS = 'redis://127.0.0.1:1/0';

const portAnswers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

t.test('without the Debian tools on PATH it stops at once with the exact apt-get line', async (t) => {
  // A PATH with only what the script itself runs: no xmlsec1, oathtool, xmllint or docker-compose.
  const bare = mkdtempSync(join(tmpdir(), 'bare-path-'));
  t.teardown(() => rmSync(bare, { recursive: true, force: true }));
  for (const bin of [
    'node',
    'bash',
    'env',
    'id',
    'mktemp',
    'rm',
    'seq',
    'sleep',
    'cat',
    'kill',
    'chown',
    'ls',
    'sort',
    'tail',
    'dirname',
  ]) {
    const found = spawnSync('bash', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bare, bin));
  }
  const r = spawnSync(join(bare, 'bash'), [script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: bare,
      HOME: process.env.HOME ?? '/root',
      TEST_SETUP_INSTALL: '0',
      TEST_PG_URL: DEAD_PG,
      TEST_REDIS_URL: DEAD_REDIS,
    },
  });
  t.equal(r.status, 1, 'stops with a failure');
  // redis-server is not on this PATH either, and nothing answers at TEST_REDIS_URL: it is needed too. PostgreSQL's
  // binaries are found where Debian puts them, outside PATH.
  t.match(r.stderr, /not installed: xmlsec1 oathtool libxml2-utils docker-compose redis-server\n/);
  t.match(
    r.stderr,
    /\n {2}(sudo )?apt-get install -y --no-install-recommends xmlsec1 oathtool libxml2-utils docker-compose redis-server\n/,
    'the exact line to run',
  );
  t.match(r.stderr, /npm run test:sqlite/, 'names the part that needs no server');
  t.notMatch(r.stdout + r.stderr, /starting a throw-away/, 'nothing was started before stopping');
});

t.test(
  'without servers at the configured URLs it starts throw-away PostgreSQL and Redis, and stops them',
  async (t) => {
    const r = spawnSync('bash', [script], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, TEST_SETUP_CHECK_ONLY: '1', TEST_PG_URL: DEAD_PG, TEST_REDIS_URL: DEAD_REDIS },
    });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /PostgreSQL at .* does not answer: starting a throw-away server/);
    t.match(r.stdout, /Redis at .* does not answer: starting a throw-away server/);
    t.match(r.stdout, /both answer/, 'both throw-away servers answered');
    const pgPort = Number(/TEST_PG_URL=postgresql:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(r.stdout)?.[1]);
    const redisPort = Number(/TEST_REDIS_URL=redis:\/\/127\.0\.0\.1:(\d+)\//.exec(r.stdout)?.[1]);
    t.ok(pgPort > 1 && redisPort > 1, 'on ports of their own');
    t.notOk(await portAnswers(pgPort), 'PostgreSQL stopped after the run');
    t.notOk(await portAnswers(redisPort), 'Redis stopped after the run');
  },
);

t.test('servers that answer are used as they are', async (t) => {
  const r = spawnSync('bash', [script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TEST_SETUP_CHECK_ONLY: '1' },
  });
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stdout, /throw-away/);
  t.match(r.stdout, /both answer/);
});
