import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config/config.ts';
import { loadMasterKey } from '../../src/crypto/master-key.ts';

t.test('defaults give a working local setup', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 3000);
  t.equal(c.baseDomain, 'localhost:3000');
  t.equal(c.databaseUrl, 'file:./data/broker.db');
  t.equal(c.clockSkewSeconds, 60);
  t.equal(c.trustProxy, false);
});

t.test('BASE_DOMAIN follows PORT unless set, and is lowercased', async (t) => {
  t.equal(loadConfig({ PORT: '8080' }).baseDomain, 'localhost:8080');
  t.equal(loadConfig({ BASE_DOMAIN: 'Broker.Example.COM' }).baseDomain, 'broker.example.com');
});

t.test('a bad value names the variable', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ BASE_DOMAIN: 'https://x.com' }, 'BASE_DOMAIN'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ CLOCK_SKEW_SECONDS: '-1' }, 'CLOCK_SKEW_SECONDS'],
    [{ PUBLIC_SCHEME: 'ftp' }, 'PUBLIC_SCHEME'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
    [{ REDIS_KEY_PREFIX: 'a b' }, 'REDIS_KEY_PREFIX'],
  ];
  for (const [env, name] of cases) {
    const err = t.throws(() => loadConfig(env)) as ConfigError;
    t.ok(err instanceof ConfigError, `${name} gives a ConfigError`);
    t.match(err.message, new RegExp(`^\\s+- ${name}:`, 'm'), `message names ${name}`);
  }
});

t.test('REDIS_URL is optional; redis:// and rediss:// are accepted', async (t) => {
  t.equal(loadConfig({}).redisUrl, undefined, 'unset: the database keeps the flows');
  t.equal(
    loadConfig({ REDIS_URL: 'rediss://user:pw@cache.example:6380/2' }).redisUrl,
    'rediss://user:pw@cache.example:6380/2',
  );
  t.equal(loadConfig({}).redisKeyPrefix, 'saml-broker:');
});

t.test('several problems are reported together', async (t) => {
  const err = t.throws(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })) as ConfigError;
  t.equal(err.problems.length, 2);
});

t.test('TRUST_PROXY accepts true/false or an address list', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.equal(loadConfig({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy, '10.0.0.0/8,127.0.0.1');
});

t.test('master key: from env (hex or base64), bad length refused, required in production', async (t) => {
  const hex = 'ab'.repeat(32);
  t.equal(loadMasterKey(loadConfig({ MASTER_KEY: hex })).key.toString('hex'), hex);
  const b64 = Buffer.alloc(32, 1).toString('base64');
  t.same(loadMasterKey(loadConfig({ MASTER_KEY: b64 })).key, Buffer.alloc(32, 1));
  t.throws(() => loadMasterKey(loadConfig({ MASTER_KEY: 'short' })), /MASTER_KEY: the master key must be 32 bytes/);
  t.throws(() => loadMasterKey(loadConfig({ NODE_ENV: 'production' })), /MASTER_KEY: required in production/);
});

t.test('master key: a development key is generated once, with a warning', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'mk-')), 'data', 'master.key');
  const first = loadMasterKey(loadConfig({}), path);
  t.match(first.warning, /DEVELOPMENT master key/);
  const again = loadMasterKey(loadConfig({}), path);
  t.same(again.key, first.key, 'the same key is reused on the next start');
  t.equal(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64').length, 32);
});

t.test('MASTER_KEY_FILE is read', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'mk-')), 'key');
  writeFileSync(file, Buffer.alloc(32, 9).toString('base64'));
  t.same(loadMasterKey(loadConfig({ MASTER_KEY_FILE: file })).key, Buffer.alloc(32, 9));
});

t.test('.env.example documents exactly the variables the server reads, and its values are valid', async (t) => {
  const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
  const entries = Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  t.same(Object.keys(entries).sort(), [...CONFIG_VARIABLES].sort());
  t.doesNotThrow(() => loadConfig(entries));
  for (const name of CONFIG_VARIABLES)
    t.match(text, new RegExp(`#[^\\n]*\\n(#[^\\n]*\\n)*${name}=`), `${name} has a comment above it`);
});

t.test('docs/configuration.md has a row for every variable the server reads', async (t) => {
  const text = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const documented = new Set([...text.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
  t.same(
    [...CONFIG_VARIABLES].filter((name) => !documented.has(name)),
    [],
    'none missing',
  );
  t.same(
    [...documented].filter((name) => !CONFIG_VARIABLES.includes(name)),
    [],
    'none that the server does not read',
  );
});

t.test('dependency timeouts: defaults, and out-of-range values name the variable', async (t) => {
  const c = loadConfig({});
  t.same(
    [c.databaseConnectTimeoutMs, c.databaseStatementTimeoutMs, c.redisConnectTimeoutMs, c.redisCommandTimeoutMs],
    [5000, 10000, 5000, 2000],
  );
  t.equal(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '1500' }).databaseStatementTimeoutMs, 1500);
  for (const name of [
    'DATABASE_CONNECT_TIMEOUT_MS',
    'DATABASE_STATEMENT_TIMEOUT_MS',
    'REDIS_CONNECT_TIMEOUT_MS',
    'REDIS_COMMAND_TIMEOUT_MS',
  ]) {
    t.match(
      (t.throws(() => loadConfig({ [name]: '0' })) as Error).message,
      new RegExp(`- ${name}:`),
      `${name}=0 is refused`,
    );
  }
});

t.test('shutdown drain: within SHUTDOWN_TIMEOUT_MS; import heartbeat and staleness', async (t) => {
  t.equal(loadConfig({}).shutdownDrainMs, 5000, 'default 5 s');
  t.equal(loadConfig({ SHUTDOWN_TIMEOUT_MS: '4000' }).shutdownDrainMs, 2000, 'unset: at most half of the timeout');
  t.equal(loadConfig({ SHUTDOWN_TIMEOUT_MS: '1500' }).shutdownDrainMs, 0, 'a timeout too short for a drain: none');
  t.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '0' }).shutdownDrainMs, 0, '0 allowed');
  t.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '8', SHUTDOWN_TIMEOUT_MS: '20000' }).shutdownDrainMs, 8000);
  t.throws(() => loadConfig({ SHUTDOWN_DRAIN_SECONDS: '10' }), {
    message: /SHUTDOWN_DRAIN_SECONDS: .*shorter than SHUTDOWN_TIMEOUT_MS \(10000 ms\)/,
  });
  const c = loadConfig({});
  t.same([c.importHeartbeatSeconds, c.importStaleAfterSeconds], [5, 30]);
  t.throws(() => loadConfig({ IMPORT_HEARTBEAT_SECONDS: '10', IMPORT_STALE_AFTER_SECONDS: '15' }), {
    message: /IMPORT_STALE_AFTER_SECONDS: must be at least twice/,
  });
  t.throws(() => loadConfig({ IMPORT_STALE_AFTER_SECONDS: '1' }), ConfigError);
});
