// The CLI's registration settings as real processes: `idp add` with email domains and a linking mode (requests
// signed by default, --sign-requests still accepted, --unsigned-requests to opt out), a claimed domain refused with
// the holder's name, `idp update` and `app update` changing only what they are given through the same validation
// as the API (a refused update changes nothing), every change audited with actor "cli", usage errors exit 64.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { idpMetadata, spMetadata } from '../../src/saml/metadata.ts';

const root = new URL('../..', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');
const dir = mkdtempSync(join(tmpdir(), 'broker-cli-reg-'));
const dbFile = join(dir, 'broker.db');
const env = {
  PATH: process.env.PATH!,
  DATABASE_URL: `file:${dbFile}`,
  MASTER_KEY: Buffer.alloc(32, 6).toString('base64'),
  LOG_LEVEL: 'warn',
};
const cli = (...args: string[]) => spawnSync(tsx, ['src/cli/index.ts', ...args], { cwd: root, env, encoding: 'utf8' });
const json = (r: ReturnType<typeof cli>) => JSON.parse(r.stdout);
/** What the CLI stored, read straight from the database file. */
const query = <T>(sql: string, ...params: unknown[]) => {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
};

t.test('CLI: IdP and app settings on add and update', async (t) => {
  const key = generateSigningCredential('cli-idp');
  writeFileSync(join(dir, 'idp.pem'), key.certificatePem);
  writeFileSync(
    join(dir, 'entra.xml'),
    idpMetadata({
      entityId: 'https://entra.example/x',
      ssoUrl: 'https://entra.example/sso',
      sloUrl: 'https://entra.example/slo',
      certificates: [key.certificatePem],
      organizationName: 'E',
      organizationUrl: 'https://entra.example',
      wantAuthnRequestsSigned: false,
    }),
  );
  writeFileSync(
    join(dir, 'sp.xml'),
    spMetadata({
      entityId: 'https://legacy.example',
      acsUrl: 'https://legacy.example/acs',
      sloUrl: 'https://legacy.example/slo',
      certificates: [key.certificatePem],
      authnRequestsSigned: true,
      wantAssertionsSigned: false,
      organizationName: 'L',
      organizationUrl: 'https://legacy.example',
    }),
  );
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

  // add: domains normalised, linking chosen, requests signed by default.
  const okta = cli(
    'idp',
    'add',
    '--org',
    'acme',
    '--name',
    'Okta (Acme)',
    '--entity-id',
    'https://okta.example/acme',
    '--sso-url',
    'https://okta.example/sso',
    '--cert-file',
    join(dir, 'idp.pem'),
    '--domain',
    'ACME.example',
    '--domain',
    '*.acme.example,acme-corp.example',
    '--linking',
    'never',
    '--json',
  );
  t.equal(okta.status, 0, okta.stderr);
  t.match(json(okta), {
    name: 'Okta (Acme)',
    signRequests: true,
    emailDomains: ['acme.example', '*.acme.example', 'acme-corp.example'],
    linkingMode: 'never',
  });
  const oktaId = json(okta).id;

  // A claimed domain: refused, the holder named; --sign-requests still accepted; contradicting switches are usage errors.
  const taken = cli(
    'idp',
    'add',
    '--org',
    'acme',
    '--name',
    'Entra',
    '--metadata-file',
    join(dir, 'entra.xml'),
    '--sign-requests',
    '--domain',
    'eu.acme.example',
  );
  t.equal(taken.status, 1);
  t.match(taken.stderr, 'eu.acme.example is already claimed by identity provider "Okta (Acme)" (as *.acme.example)');
  const contradiction = cli(
    'idp',
    'add',
    '--org',
    'acme',
    '--name',
    'Entra',
    '--metadata-file',
    join(dir, 'entra.xml'),
    '--sign-requests',
    '--unsigned-requests',
  );
  t.equal(contradiction.status, 64);
  t.match(contradiction.stderr, /--sign-requests and --unsigned-requests contradict each other/);
  const entra = cli(
    'idp',
    'add',
    '--org',
    'acme',
    '--name',
    'Entra',
    '--metadata-file',
    join(dir, 'entra.xml'),
    '--sign-requests',
    '--accept-unsigned-logout-response',
    '--send-login-hint',
    '--domain',
    'entra.example',
    '--json',
  );
  t.equal(entra.status, 0, entra.stderr);
  t.match(
    json(entra),
    { signRequests: true, sendLoginHint: true, emailDomains: ['entra.example'] },
    'metadata with WantAuthnRequestsSigned="false" leaves signing on',
  );

  // update by name: only the options given change; any-email warns and is audited.
  const updated = cli(
    'idp',
    'update',
    '--org',
    'acme',
    '--idp',
    'okta (acme)',
    '--linking',
    'any-email',
    '--unsigned-requests',
    '--map',
    'email=mail',
  );
  t.equal(updated.status, 0, updated.stderr);
  t.match(
    updated.stdout,
    `Updated identity provider "Okta (Acme)" (${oktaId}): signRequests, linkingMode, attributeMapping`,
  );
  t.match(updated.stderr, /WARNING: "Okta \(Acme\)" can now sign in as any user/);
  const [row] = query<Record<string, unknown>>('SELECT * FROM "IdentityProvider" WHERE "id" = ?', oktaId);
  t.match(row, {
    name: 'Okta (Acme)',
    linkingMode: 'any-email',
    signRequests: 0,
    ssoUrl: 'https://okta.example/sso',
    emailDomains: JSON.stringify(['acme.example', '*.acme.example', 'acme-corp.example']),
    attributeMapping: JSON.stringify({ email: 'mail' }),
  });

  // A refused update (invalid domain) changes nothing, not even the --disable given with it.
  const refused = cli(
    'idp',
    'update',
    '--org',
    'acme',
    '--idp',
    'https://okta.example/acme',
    '--disable',
    '--domain',
    'not a domain',
  );
  t.equal(refused.status, 1);
  t.match(refused.stderr, /emailDomains contains "not a domain", which is not a domain/);
  t.equal(query<{ enabled: number }>('SELECT "enabled" FROM "IdentityProvider" WHERE "id" = ?', oktaId)[0].enabled, 1);
  const unknown = cli('idp', 'update', '--org', 'acme', '--idp', 'Nope', '--disable');
  t.equal(unknown.status, 64);
  t.match(unknown.stderr, /no identity provider "Nope" in acme/);

  // apps: --allow-sha1 on add, --primary-idp by name; update by name.
  const app = cli(
    'app',
    'add',
    '--org',
    'acme',
    '--name',
    'Legacy',
    '--metadata-file',
    join(dir, 'sp.xml'),
    '--allow-sha1',
    '--primary-idp',
    'Entra',
    '--json',
  );
  t.equal(app.status, 0, app.stderr);
  const appId = json(app).id;
  const appUpdate = cli(
    'app',
    'update',
    '--org',
    'acme',
    '--app',
    'Legacy',
    '--no-allow-sha1',
    '--relay-state',
    '/portal',
    '--disable',
  );
  t.equal(appUpdate.status, 0, appUpdate.stderr);
  t.match(appUpdate.stdout, `Updated app "Legacy" (${appId}): allowSha1, defaultRelayState, enabled`);
  const listed = json(cli('app', 'list', '--org', 'acme', '--json'));
  t.match(listed, [{ id: appId, allowSha1: false, enabled: false, wantAuthnRequestsSigned: true }]);

  const audit = query<{ type: string; actor: string; details: string }>(
    'SELECT "type", "actor", "details" FROM "AuditEvent" WHERE "type" LIKE \'idp.%\' OR "type" LIKE \'app.%\' ORDER BY "at", "id"',
  );
  t.same(
    audit.map((a) => a.type),
    [
      'idp.created',
      'idp.created',
      'idp.updated',
      'idp.linking_any_email',
      'app.created',
      'app.updated',
      'app.disabled',
    ],
  );
  t.ok(
    audit.every((a) => a.actor === 'cli'),
    'actor cli throughout',
  );
  t.match(JSON.parse(audit[2].details), {
    changes: { linkingMode: { from: 'never', to: 'any-email' }, signRequests: { from: true, to: false } },
  });
  t.match(JSON.parse(audit[4].details), { allowSha1: true, source: 'metadata', signedRequestsRequiredBy: 'metadata' });
  t.match(JSON.parse(audit[5].details), { changes: { allowSha1: { from: true, to: false } } });
});
