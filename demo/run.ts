// `npm run demo`: the broker with a demo organisation, a demo upstream IdP and a demo app, wired together, so a
// newcomer can click through a complete brokered login. Everything lives in ./data/demo (delete it to start over);
// the demo peers' registrations follow the ports of each run (PORT, DEMO_IDP_PORT, DEMO_APP_PORT).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.ts';
import { bootstrap } from '../src/bootstrap.ts';
import { loadConfig } from '../src/config/config.ts';
import { orgUrls } from '../src/orgs/urls.ts';
import { saveApplication, saveIdentityProvider } from '../src/orgs/remote/registrations.ts';
import { generateSigningCredential, type GeneratedCredential } from '../src/saml/certificates.ts';
import { demoIdpEntityId, startDemoIdp } from './peers/demo-idp.ts';
import { demoAppAcs, demoAppEntityId, startDemoApp } from './peers/demo-app.ts';

const port = Number(process.env.PORT ?? 3000);
const idpPort = Number(process.env.DEMO_IDP_PORT ?? port + 1);
const appPort = Number(process.env.DEMO_APP_PORT ?? port + 2);
const dataDir = resolve(process.env.DEMO_DATA_DIR ?? 'data/demo');

/** Whether something already listens on the port (checked before anything is written, so a failed start leaves
 *  nothing behind). */
const taken = (p: number) =>
  new Promise<boolean>((done) => {
    const probe = createServer()
      .once('error', () => done(true))
      .listen(p, '127.0.0.1', () => probe.close(() => done(false)));
  });
const busy = [];
for (const [what, p] of [
  ['the broker (PORT)', port],
  ['the demo IdP (DEMO_IDP_PORT)', idpPort],
  ['the demo app (DEMO_APP_PORT)', appPort],
] as const) {
  if (await taken(p)) busy.push(`  port ${p}, for ${what}`);
}
if (busy.length) {
  console.error(
    `The demo cannot start: these ports are in use (is \`npm start\` or another demo running?):\n${busy.join('\n')}\n\nStop what uses them, or run the demo on other ports, for example: PORT=4000 npm run demo`,
  );
  process.exit(1);
}
mkdirSync(dataDir, { recursive: true });

function persisted<T>(file: string, make: () => T): T {
  const path = join(dataDir, file);
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const value = make();
  writeFileSync(path, JSON.stringify(value), { mode: 0o600 });
  return value;
}

const masterKey = persisted('master-key.json', () => randomBytes(32).toString('base64'));
const idpCredential = persisted<GeneratedCredential>('demo-idp.json', () => generateSigningCredential('demo-idp'));
const config = loadConfig({
  ...process.env,
  PORT: String(port),
  BASE_DOMAIN: `localhost:${port}`,
  DATABASE_URL: `file:${join(dataDir, 'broker.db')}`,
  MASTER_KEY: masterKey,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});
const { ctx } = await bootstrap(config);
const urls = orgUrls(config, 'demo');

let org = await ctx.store.organizations.findBySlug('demo');
if (!org) {
  const created = await ctx.organizations.create(
    { slug: 'demo', name: 'Demo Org', adminEmail: 'admin@demo.example', adminPassword: 'demo-admin-password' },
    'demo',
  );
  org = (await ctx.store.organizations.findById(created.org.id))!;
  await ctx.store.organizations.update(org.id, {
    jitProvisioning: true,
    loginMessage: 'This is a demo: the identity provider below signs in whoever you say you are.',
  });
  const store = ctx.store.forOrg(org.id);
  const idp = await saveIdentityProvider(store, {
    name: 'Demo IdP (stands in for Okta)',
    entityId: demoIdpEntityId(idpPort),
    ssoUrl: `http://localhost:${idpPort}/sso`,
    certificates: [idpCredential.certificatePem],
    mappingPreset: 'okta',
  });
  await saveApplication(store, {
    name: 'Demo App (stands in for Jira)',
    entityId: demoAppEntityId(appPort),
    acsUrls: [demoAppAcs(appPort)],
    primaryIdpId: idp.id,
  });
}
const store = ctx.store.forOrg(org.id);
// An earlier run may have used other ports: the demo peers' addresses follow this run's.
const [demoIdp] = (await store.identityProviders.list()).filter((i) => i.name.startsWith('Demo IdP'));
const [demoApp] = (await store.applications.list()).filter((a) => a.name.startsWith('Demo App'));
if (demoIdp && demoIdp.entityId !== demoIdpEntityId(idpPort))
  await saveIdentityProvider(
    store,
    { entityId: demoIdpEntityId(idpPort), ssoUrl: `http://localhost:${idpPort}/sso` },
    demoIdp.id,
  );
if (demoApp && demoApp.entityId !== demoAppEntityId(appPort))
  await saveApplication(store, { entityId: demoAppEntityId(appPort), acsUrls: [demoAppAcs(appPort)] }, demoApp.id);
const brokerCert = (await store.signingKeys.active())!.certificatePem;

const broker = await buildApp(ctx);
await broker.listen({ host: '127.0.0.1', port });
await startDemoIdp({
  port: idpPort,
  credential: idpCredential,
  brokerAcs: urls.spAcs,
  brokerSpEntityId: urls.spEntityId,
});
await startDemoApp({
  port: appPort,
  brokerSso: urls.idpSso,
  brokerIdpCert: brokerCert,
  appName: 'Demo App (stands in for Jira)',
});

console.log(`
  SAML broker demo is running.

  Open this in your browser and click "Sign in with SSO":

      http://localhost:${appPort}/

  What you will pass through: the demo app → the broker (${urls.idpSso}) → the demo IdP →
  the broker's ACS → back to the app with a signed response.
  Admin console: ${urls.admin}  (admin@demo.example / demo-admin-password)
  Stop with Ctrl-C. Data: ${dataDir}
`);

const stop = async () => {
  await broker.close();
  await ctx.store.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
