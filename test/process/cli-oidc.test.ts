// `idp add-oidc` as a real process: an OpenID Connect IdP from a discovery document file, the secret read from a file
// and sealed (never in the database as given), the redirect URI printed, the audit line with actor "cli"; usage errors.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const root = new URL('../..', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');
const dir = mkdtempSync(join(tmpdir(), 'broker-cli-oidc-'));
const dbFile = join(dir, 'broker.db');
const env = {
  PATH: process.env.PATH!,
  DATABASE_URL: `file:${dbFile}`,
  MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  LOG_LEVEL: 'warn',
};
const cli = (...args: string[]) => spawnSync(tsx, ['src/cli/index.ts', ...args], { cwd: root, env, encoding: 'utf8' });

t.test('CLI: idp add-oidc', async (t) => {
  const issuer = 'https://login.microsoftonline.com/tenant-1/v2.0';
  writeFileSync(
    join(dir, 'discovery.json'),
    JSON.stringify({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/keys`,
      end_session_endpoint: `${issuer}/logout`,
      response_types_supported: ['code', 'id_token'],
    }),
  );
  writeFileSync(join(dir, 'secret'), 'entra-secret-value\n');
  t.equal(
    cli(
      'org',
      'create',
      '--slug',
      'acme',
      '--name',
      'Acme',
      '--admin-email',
      'admin@acme.example',
      '--admin-password',
      'a long admin password',
    ).status,
    0,
  );
  const added = cli(
    'idp',
    'add-oidc',
    '--org',
    'acme',
    '--name',
    'Entra ID',
    '--discovery-file',
    join(dir, 'discovery.json'),
    '--client-id',
    'app-1',
    '--client-secret-file',
    join(dir, 'secret'),
    '--preset',
    'oidc-entra',
    '--domain',
    'acme.example',
    '--json',
  );
  t.equal(added.status, 0, added.stderr);
  t.match(JSON.parse(added.stdout), {
    protocol: 'oidc',
    issuer,
    name: 'Entra ID',
    redirectUri: /^https?:\/\/acme\.[^/]+\/oidc\/callback$/,
    emailDomains: ['acme.example'],
  });
  const db = new Database(dbFile, { readonly: true });
  t.teardown(() => db.close());
  const row = db
    .prepare('SELECT protocol, oidcClientId, oidcClientSecret, sloUrl, mappingPreset FROM IdentityProvider')
    .get() as Record<string, string>;
  t.match(row, { protocol: 'oidc', oidcClientId: 'app-1', sloUrl: null, mappingPreset: 'oidc-entra' });
  t.notMatch(row.oidcClientSecret, /entra-secret-value/, 'the secret is sealed');
  t.match(db.prepare("SELECT actor, details FROM AuditEvent WHERE type = 'idp.created'").get(), {
    actor: 'cli',
    details: /"protocol":"oidc"/,
  });

  const noSecret = cli(
    'idp',
    'add-oidc',
    '--org',
    'acme',
    '--name',
    'X',
    '--issuer',
    'https://x.example',
    '--client-id',
    'c',
  );
  t.equal(noSecret.status, 64);
  t.match(noSecret.stderr, /client-secret-file/);
  const both = cli(
    'idp',
    'add-oidc',
    '--org',
    'acme',
    '--name',
    'X',
    '--issuer',
    'https://x.example',
    '--discovery-file',
    join(dir, 'discovery.json'),
    '--client-id',
    'c',
    '--client-secret-file',
    join(dir, 'secret'),
  );
  t.equal(both.status, 64);
});
