// `npm run bench [-- --pg] [--redis] [--sources] [--nodes 2 | --compare <checkout> | --compare-redis] [--workers 2] [--seconds 8] [--warmup 10] [--concurrency 1,4,16,32]`: complete brokered logins with TOTP
// against real broker processes on loopback. Per login: app AuthnRequest → broker SSO → (fake IdP signs a real
// response) → broker ACS → continue → TOTP code → signed Response, whose signature, audience and NameID are
// checked here (after each level, every one of them). Every user is distinct per login, so no TOTP time step is ever
// reused. Figures, never assertions.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign, verify, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSync } from 'otplib';
import { SignedXml } from 'xml-crypto';
import { bootstrap } from '../src/bootstrap.ts';
import { configFrom } from '../src/config/config.ts';
import { saveApplication, saveIdentityProvider } from '../src/orgs/registrations.ts';
import { setTwoFactor } from '../src/policy/two-factor-toggle.ts';
import { generateSigningCredential } from '../src/saml/certificates.ts';
import { buildLoginResponse } from '../src/saml/downstream/response.ts';
import { freshPostgres } from '../test/helpers/context.ts';
import { freshRedisPrefix } from '../test/helpers/redis.ts';

// All users share one TOTP secret (each is a distinct user, so the per-user step guard still applies).
const { values: args } = parseArgs({ options: { pg: { type: 'boolean' }, redis: { type: 'boolean' }, 'compare-redis': { type: 'boolean' }, sources: { type: 'boolean' }, compare: { type: 'string' }, nodes: { type: 'string', default: '1' }, workers: { type: 'string', default: '1' }, seconds: { type: 'string', default: '8' }, warmup: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '1,4,16,32' } } });
// --compare <checkout>: a second node runs the code of another checkout (a git worktree of an earlier commit, say)
// beside this one, on the same database; logins alternate between the two, each login's hops all on one node, and
// each node's figures are reported apart. The machine's speed drifts between runs (the RSA floor here has moved by
// a factor of three within an hour); side by side, both see the same machine.
// --redis: the nodes keep the login flows in Redis (REDIS_URL, the machine's server). --compare-redis:
// two nodes of this checkout side by side, the second with Redis, the first without.
const COMPARE = args.compare ? new URL(`${args.compare.replace(/\/?$/, '/')}`, `file://${process.cwd()}/`).pathname : args['compare-redis'] ? 'redis' : undefined;
const COMPARE_LABELS = args['compare-redis'] ? ['database only', 'with Redis'] : ['this checkout', args.compare];
const NODES = COMPARE ? 2 : Number(args.nodes);
const REDIS = args.redis || args['compare-redis'] ? freshRedisPrefix() : undefined;
// Hundreds of logins a second from one address, into one organisation: far over any production rate limit.
const RATE_LIMITS_OFF = { RATE_LIMIT_LOGIN_PER_MINUTE: '0', RATE_LIMIT_MFA_PER_MINUTE: '0', RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '0', RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_ORG_PER_MINUTE: '0' };
const redisFor = (node: number) => (REDIS && (args.redis || node === 1) ? REDIS.env : {});
const WORKERS = Number(args.workers);
const SECONDS = Number(args.seconds);
const LEVELS = args.concurrency!.split(',').map(Number);
const BASE_DOMAIN = 'bench.test';
const HOST = `bench.${BASE_DOMAIN}`;
const base = `http://${HOST}`;
const MASTER_KEY = Buffer.alloc(32, 42).toString('base64');
const root = new URL('..', import.meta.url).pathname;
const totpCrypto = new NodeCryptoPlugin();

function rsaFloor() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.alloc(600, 1);
  let t = performance.now();
  let n = 0;
  while (performance.now() - t < 1000) { sign('sha256', data, privateKey); n++; }
  const signsPerSec = n / ((performance.now() - t) / 1000);
  const sig = sign('sha256', data, privateKey);
  t = performance.now(); n = 0;
  while (performance.now() - t < 1000) { verify('sha256', data, publicKey, sig); n++; }
  return { signsPerSec, verifiesPerSec: n / ((performance.now() - t) / 1000) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
type Res = { status: number; location?: string; body: string; cookies: string[]; ms: number };
function send(port: number, method: string, path: string, cookie: string, form?: Record<string, string>): Promise<Res> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers: { host: HOST, ...(cookie && { cookie }), ...(body && { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }) } }, (r) => {
      let data = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (data += d));
      r.on('end', () => resolve({ status: r.statusCode!, location: r.headers.location, body: data, cookies: (r.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]), ms: performance.now() - started }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** CPU time and peak RSS of a broker node: its process and, with WORKERS > 1, its worker processes. */
function cpuAndRss(pid: number) {
  const stat = (p: number) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
  const pids = [pid, ...readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => { try { return Number(stat(p)[1]) === pid; } catch { return false; } })];
  let cpuMs = 0;
  let peakRssMb = 0;
  for (const p of pids) {
    try {
      const s = stat(p);
      cpuMs += ((Number(s[11]) + Number(s[12])) * 1000) / 100;
      peakRssMb = Math.max(peakRssMb, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024);
    } catch { /* exited meanwhile */ }
  }
  return { cpuMs, peakRssMb };
}

/** CPU time of a server's processes (PostgreSQL's or Redis's: they share the cores with the broker on this machine). */
function serverCpuMs(command: 'postgres' | 'redis-server') {
  let ms = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== command) continue;
      const s = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ');
      ms += ((Number(s[11]) + Number(s[12])) * 1000) / 100;
    } catch { /* exited meanwhile */ }
  }
  return ms;
}

const percentile = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0; };

async function main() {
  const floor = rsaFloor();
  let databaseUrl: string;
  let drop = async () => {};
  if (args.pg) { const db = await freshPostgres(); databaseUrl = db.url; drop = db.drop; } else {
    const dir = mkdtempSync(join(tmpdir(), 'bench-sso-'));
    databaseUrl = `file:${join(dir, 'bench.db')}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  }

  // Seed: organisation, a fake IdP, an app with 2FA, and many users with active TOTP factors.
  const { ctx } = await bootstrap(configFrom({ DATABASE_URL: databaseUrl, BASE_DOMAIN, MASTER_KEY, LOG_LEVEL: 'silent' }));
  const created = await ctx.organizations.create({ slug: 'bench', name: 'Bench', adminEmail: 'admin@bench.example', adminPassword: 'bench admin password' }, 'bench');
  const store = ctx.store.forOrg(created.org.id);
  const idpKey = generateSigningCredential('bench-idp');
  const idpEntity = 'https://idp.bench.example';
  const idp = await saveIdentityProvider(store, { name: 'IdP', entityId: idpEntity, ssoUrl: `${idpEntity}/sso`, certificates: [idpKey.certificatePem], emailDomains: ['bench.example'] });
  const app = await saveApplication(store, { name: 'App', entityId: 'https://app.bench.example', acsUrls: ['https://app.bench.example/acs'], primaryIdpId: idp.id, policy: setTwoFactor([], true) });
  const brokerCert = createPublicKey((await store.signingKeys.active())!.certificatePem);
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const USERS = 20000;
  process.stderr.write(`seeding ${USERS} users with TOTP factors…\n`);
  for (let i = 0; i < USERS; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, USERS - i) }, (_, j) => ({ id: randomUUID(), orgId: created.org.id, email: `u${i + j}@bench.example`, emailLower: `u${i + j}@bench.example` }));
    await ctx.store.db.user.createMany({ data: rows });
    await ctx.store.db.totpFactor.createMany({ data: rows.map((r) => ({ orgId: created.org.id, userId: r.id, status: 'active', secretEnc: ctx.box.seal(secret, `totp:${created.org.id}:${r.id}`) })) });
  }
  await ctx.store.close();

  // The compiled server, as production runs it (`npm run build`, then `npm run serve` or the Docker image), built
  // afresh in each checkout; --sources runs src/server.ts through tsx instead (as `npm start` does). A login costs
  // about the same CPU either way (3 % apart side by side), but through tsx a process holds about 190 MB more (its
  // transformed modules, the largest being libxml2's 1 MB of generated JavaScript).
  const checkouts = [root, ...(args.compare ? [COMPARE!] : [])];
  if (!args.sources) for (const dir of checkouts) execFileSync('npm', ['run', '--silent', 'build'], { cwd: dir, stdio: 'inherit' });
  const entry = args.sources ? ['--import', 'tsx', 'src/server.ts'] : ['dist/src/server.js'];
  const nodes: { port: number; proc: ChildProcess }[] = [];
  for (let i = 0; i < NODES; i++) {
    const port = await freePort();
    // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=prof", profiles the broker nodes.
    const proc = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...entry], { cwd: args.compare && i === 1 ? COMPARE : root, env: { ...redisFor(i), PATH: process.env.PATH!, DATABASE_URL: databaseUrl, MASTER_KEY, BASE_DOMAIN, PORT: String(port), WORKERS: String(WORKERS), LOG_LEVEL: 'warn', NODE_ENV: 'production', DATABASE_POOL_SIZE: '16', ...RATE_LIMITS_OFF }, stdio: 'inherit' });
    for (let k = 0; k < 300; k++) { if (await send(port, 'GET', '/healthz', '').then((r) => r.status === 200, () => false)) break; await new Promise((r) => setTimeout(r, 100)); }
    // The first worker answers before the others have booted: give them the time a worker takes to start.
    if (WORKERS > 1) await new Promise((r) => setTimeout(r, 4000));
    nodes.push({ port, proc });
  }

  let nextUser = 0;
  type Hops = Record<'sso' | 'acs' | 'continue' | 'mfa', number[]>;
  const noHops = (): Hops => ({ sso: [], acs: [], continue: [], mfa: [] });
  let hop = noHops();
  // With --compare: per node, and the logins each one completed.
  let hopOf = nodes.map(noHops);
  let countOf = nodes.map(() => 0);

  // Every Response is checked, after its level: the check's CPU (xml-crypto, another implementation than the broker's)
  // then does not compete with the broker for the cores, and a Response that fails it counts as a failed login.
  let received: { samlResponse: string; email: string; reqId: string; node: number }[] = [];

  /** One complete login; resolves with the node it ran on (with --compare). */
  async function login(): Promise<number> {
    const n = nextUser++;
    const email = `u${n}@bench.example`;
    // Without --compare each hop goes to any node (a flow continues wherever the balancer sends it).
    const home = n % nodes.length;
    const port = () => nodes[COMPARE ? home : Math.floor(Math.random() * nodes.length)].port;
    const record = (name: keyof Hops, ms: number) => { hop[name].push(ms); hopOf[home][name].push(ms); };
    const reqId = `_b${randomUUID().replace(/-/g, '')}`;
    const authn = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${reqId}" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${app.acsUrls[0]}"><saml:Issuer>${app.entityId}</saml:Issuer></samlp:AuthnRequest>`;
    const sso = await send(port(), 'GET', `/saml/idp/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(authn).toString('base64'))}&RelayState=r${n}`, '');
    record('sso', sso.ms);
    const cookies = new Map(sso.cookies.map((c) => [c.split('=')[0], c]));
    const up = new URL(sso.location!);
    const upXml = inflateRequest(up.searchParams.get('SAMLRequest')!);
    const upId = /ID="([^"]+)"/.exec(upXml)![1];
    const now = new Date();
    const resp = await buildLoginResponse({ idp: { entityId: idpEntity, signingKeyPem: idpKey.privateKeyPem, certificatePem: idpKey.certificatePem }, app: { entityId: `${base}/saml/sp/metadata`, acsUrl: `${base}/saml/sp/acs`, signResponse: false, signAssertion: true, encryptAssertion: false, nameIdFormat: 'emailAddress' }, inResponseTo: upId, nameId: email, sessionIndex: '_s', attributes: { Email: [email] }, now, authnInstant: now });
    const acs = await send(port(), 'POST', '/saml/sp/acs', '', { SAMLResponse: resp.samlResponse, RelayState: up.searchParams.get('RelayState')! });
    record('acs', acs.ms);
    const jar = () => [...cookies.values()].join('; ');
    const cont = await send(port(), 'GET', acs.location!, jar());
    record('continue', cont.ms);
    if (cont.status !== 303 || !cont.location!.endsWith('/mfa')) throw new Error(`expected the TOTP step, got ${cont.status} ${cont.body.slice(0, 200)}`);
    const code = generateSync({ secret, crypto: totpCrypto });
    const done = await send(port(), 'POST', cont.location!, jar(), { code });
    record('mfa', done.ms);
    const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(done.body)?.[1];
    if (!samlResponse) throw new Error(`no Response: ${done.status} ${done.body.slice(0, 300)}`);
    received.push({ samlResponse, email, reqId, node: home });
    return home;
  }

  function checkResponse(xml: string, email: string, inResponseTo: string) {
    const sig = new SignedXml({ publicCert: brokerCert.export({ type: 'spki', format: 'pem' }).toString(), getCertFromKeyInfo: () => null });
    const signature = /<ds:Signature[\s\S]*?<\/ds:Signature>/.exec(xml)![0];
    sig.loadSignature(signature);
    if (!sig.checkSignature(xml)) throw new Error('bad signature on the downstream Response');
    const signed = sig.getSignedReferences()[0];
    if (!signed.includes(`>${email}</saml:NameID>`) || !signed.includes(`<saml:Audience>${app.entityId}</saml:Audience>`) || !xml.includes(`InResponseTo="${inResponseTo}"`)) throw new Error('wrong Response content');
  }

  // Unmeasured logins first, so that no level pays for the JIT compiler's start, the workers' first requests, or the
  // SQLite WAL file growing to its working size (appends to new file space cost the kernel zeroed pages; once the
  // file is that large, the log restarts within it). 10 s: with 3 s the first level measured about 25 % more CPU.
  const warmupEnd = performance.now() + Number(args.warmup) * 1000;
  await Promise.all(Array.from({ length: 8 }, async () => { while (performance.now() < warmupEnd) await login(); }));
  received = [];

  const rows: string[] = [];
  for (const c of LEVELS) {
    hop = noHops();
    hopOf = nodes.map(noHops);
    countOf = nodes.map(() => 0);
    const before = nodes.map((n) => cpuAndRss(n.proc.pid!));
    const postgresBefore = args.pg ? serverCpuMs('postgres') : 0;
    const redisBefore = REDIS ? serverCpuMs('redis-server') : 0;
    const generatorBefore = process.cpuUsage();
    const started = performance.now();
    let count = 0;
    let failures = 0;
    await Promise.all(Array.from({ length: c }, async () => {
      while (performance.now() - started < SECONDS * 1000) {
        if (nextUser >= USERS) break;
        try { countOf[await login()]++; count++; } catch (err) { failures++; if (failures < 3) process.stderr.write(`login failed: ${(err as Error).message}\n`); }
      }
    }));
    const secs = (performance.now() - started) / 1000;
    const after = nodes.map((n) => cpuAndRss(n.proc.pid!));
    const postgres = (args.pg ? ` ${((serverCpuMs('postgres') - postgresBefore) / Math.max(1, count)).toFixed(1)} |` : '') + (REDIS ? ` ${((serverCpuMs('redis-server') - redisBefore) / Math.max(1, count)).toFixed(2)} |` : '');
    const generator = process.cpuUsage(generatorBefore);
    for (const r of received) {
      try {
        checkResponse(Buffer.from(r.samlResponse, 'base64').toString(), r.email, r.reqId);
      } catch (err) {
        count--;
        countOf[r.node]--;
        failures++;
        if (failures < 3) process.stderr.write(`wrong Response: ${(err as Error).message}\n`);
      }
    }
    received = [];
    const cpu = after.reduce((s, a, i) => s + a.cpuMs - before[i].cpuMs, 0);
    const fmt = (xs: number[]) => `${percentile(xs, 50).toFixed(1)} / ${percentile(xs, 95).toFixed(1)} / ${percentile(xs, 99).toFixed(1)}`;
    const row = (label: string, h: Hops, logins: number, cpuMs: number, rssMb: number) =>
      `| ${label} | ${(logins / secs).toFixed(0)} | ${failures} | ${fmt(h.sso)} | ${fmt(h.acs)} | ${fmt(h.continue)} | ${fmt(h.mfa)} | ${(cpuMs / Math.max(1, logins)).toFixed(2)} | ${rssMb.toFixed(0)} | ${((generator.user + generator.system) / 1000 / Math.max(1, count)).toFixed(1)} |${postgres}`;
    if (COMPARE) {
      nodes.forEach((_, i) => rows.push(row(`${c} (${COMPARE_LABELS[i]})`, hopOf[i], countOf[i], after[i].cpuMs - before[i].cpuMs, after[i].peakRssMb)));
    } else {
      rows.push(row(String(c), hop, count, cpu, Math.max(...after.map((a) => a.peakRssMb))));
    }
  }
  console.log(`\nSSO benchmark: ${args.pg ? 'PostgreSQL' : 'SQLite'}${args.redis ? ' with Redis' : ''}, ${NODES} node(s) of ${WORKERS} worker process(es), ${SECONDS} s per level, complete logins with TOTP; hop latencies p50 / p95 / p99 in ms (client-measured on loopback)\n`);
  console.log(`| concurrency | logins/s | failed | SSO | ACS | continue | TOTP | broker CPU ms/login | broker peak RSS MB | load generator CPU ms/login |${args.pg ? ' PostgreSQL CPU ms/login |' : ''}${REDIS ? ' Redis CPU ms/login |' : ''}`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|${args.pg ? '---|' : ''}${REDIS ? '---|' : ''}`);
  for (const r of rows) console.log(r);
  console.log(`\nFloor on this machine (one core, Node crypto, RSA-2048/SHA-256): ${floor.signsPerSec.toFixed(0)} signs/s, ${floor.verifiesPerSec.toFixed(0)} verifies/s. A login costs the broker 1 signature (the Response) and 1 verification (the IdP's assertion).`);
  await Promise.all(nodes.map((n) => new Promise((resolve) => { n.proc.once('exit', resolve); n.proc.kill('SIGTERM'); })));
  agent.destroy();
  await drop();
  await REDIS?.clear();
}

function inflateRequest(b64: string) {
  return inflateRawSync(Buffer.from(b64, 'base64')).toString();
}

await main();
