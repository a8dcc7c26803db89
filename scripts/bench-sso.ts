// `npm run bench [-- --pg] [--redis] [--sources] [--nodes 2 | --compare <checkout> | --compare-redis] [--workers 2] [--seconds 8] [--warmup 10] [--concurrency 1,4,16,32] [--generators N] [--scale 1,2,4,8] [--users 20000]`:
// complete brokered logins with TOTP against real broker processes on loopback. Per login: app AuthnRequest → broker
// SSO → (fake IdP signs a real response) → broker ACS → continue → TOTP code → signed Response, whose signature,
// audience and NameID are checked (after each level, every one of them). Every user is distinct per login, so no
// TOTP time step is ever reused. Figures, never assertions.
//
// The load (fake app, fake IdP signing each upstream Response, the check of every downstream Response) runs in
// --generators child processes of this script, so that one generator process saturating a core does not cap what is
// measured; their CPU is reported apart from the broker's. --scale runs one level per process count (WORKERS on
// SQLite, nodes with --pg) and prints the scaling table with its efficiency.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign, verify, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { generateSync } from 'otplib';
import { SignedXml } from 'xml-crypto';
import { bootstrap } from '../src/bootstrap.ts';
import { configFrom } from '../src/config/config.ts';
import { saveApplication, saveIdentityProvider } from '../src/orgs/remote/registrations.ts';
import { setTwoFactor } from '../src/policy/two-factor-toggle.ts';
import { generateSigningCredential } from '../src/saml/certificates.ts';
import { buildLoginResponse } from '../src/saml/downstream/response.ts';
import { freshPostgres } from '../test/helpers/context.ts';
import { freshRedisPrefix } from '../test/helpers/redis.ts';
import { percentile } from './lib/stats.ts';

// All users share one TOTP secret (each is a distinct user, so the per-user step guard still applies).
const { values: args } = parseArgs({
  options: {
    pg: { type: 'boolean' },
    redis: { type: 'boolean' },
    'compare-redis': { type: 'boolean' },
    sources: { type: 'boolean' },
    compare: { type: 'string' },
    nodes: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,4,16,32' },
    generators: { type: 'string' },
    scale: { type: 'string' },
    users: { type: 'string', default: '20000' },
  },
});
// --compare <checkout>: a second node runs the code of another checkout (a git worktree of an earlier commit, say)
// beside this one, on the same database; logins alternate between the two, each login's hops all on one node, and
// each node's figures are reported apart. The machine's speed drifts between runs (the RSA floor here has moved by
// a factor of three within an hour); side by side, both see the same machine.
// --redis: the nodes keep the login flows in Redis (REDIS_URL, the machine's server). --compare-redis:
// two nodes of this checkout side by side, the second with Redis, the first without.
const COMPARE = args.compare
  ? new URL(`${args.compare.replace(/\/?$/, '/')}`, `file://${process.cwd()}/`).pathname
  : args['compare-redis']
    ? 'redis'
    : undefined;
const words = (text: string | undefined) => text?.split(' ').filter(Boolean) ?? [];
const COMPARE_LABELS = args['compare-redis'] ? ['database only', 'with Redis'] : ['this checkout', args.compare];
const NODES = COMPARE ? 2 : Number(args.nodes);
const REDIS = args.redis || args['compare-redis'] ? freshRedisPrefix() : undefined;
// Hundreds of logins a second from one address, into one organisation: far over any production rate limit.
const RATE_LIMITS_OFF = {
  RATE_LIMIT_LOGIN_PER_MINUTE: '0',
  RATE_LIMIT_MFA_PER_MINUTE: '0',
  RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: '0',
  RATE_LIMIT_API_PER_MINUTE: '0',
  RATE_LIMIT_ORG_PER_MINUTE: '0',
};
const redisFor = (node: number) => (REDIS && (args.redis || node === 1) ? REDIS.env : {});
const WORKERS = Number(args.workers);
const SECONDS = Number(args.seconds);
const LEVELS = args.concurrency!.split(',').map(Number);
// One generator process per four cores by default: on a 16-core machine four (one alone saturated its core at about
// 800 logins/s), on this project's two cores one. A generator costs about a third of the broker's CPU per login.
const GENERATORS = Math.max(1, Number(args.generators ?? Math.floor(availableParallelism() / 4)));
const USERS = Number(args.users);
// --scale 1,2,4,8: broker processes of one node on SQLite (WORKERS), nodes of args.workers processes with --pg.
const SCALE = args.scale?.split(',').map(Number);
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
  while (performance.now() - t < 1000) {
    sign('sha256', data, privateKey);
    n++;
  }
  const signsPerSec = n / ((performance.now() - t) / 1000);
  const sig = sign('sha256', data, privateKey);
  t = performance.now();
  n = 0;
  while (performance.now() - t < 1000) {
    verify('sha256', data, publicKey, sig);
    n++;
  }
  return { signsPerSec, verifiesPerSec: n / ((performance.now() - t) / 1000) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
type Res = { status: number; location?: string; body: string; cookies: string[]; ms: number };
function send(port: number, method: string, path: string, cookie: string, form?: Record<string, string>): Promise<Res> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          host: HOST,
          ...(cookie && { cookie }),
          ...(body && {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
          }),
        },
      },
      (r) => {
        let data = '';
        r.setEncoding('utf8');
        r.on('data', (d) => (data += d));
        r.on('end', () =>
          resolve({
            status: r.statusCode!,
            location: r.headers.location,
            body: data,
            cookies: (r.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]),
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** CPU time and peak RSS of a broker node: its process and, with WORKERS > 1, its worker processes. */
function cpuAndRss(pid: number) {
  const stat = (p: number) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
  const pids = [
    pid,
    ...readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((p) => {
        try {
          return Number(stat(p)[1]) === pid;
        } catch {
          return false;
        }
      }),
  ];
  let cpuMs = 0;
  let peakRssMb = 0;
  for (const p of pids) {
    try {
      const s = stat(p);
      cpuMs += ((Number(s[11]) + Number(s[12])) * 1000) / 100;
      peakRssMb = Math.max(
        peakRssMb,
        Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024,
      );
    } catch {
      /* exited meanwhile */
    }
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
    } catch {
      /* exited meanwhile */
    }
  }
  return ms;
}

// ---- the load generator (a child process of this script; --generators of them) ----

type Hops = Record<'sso' | 'acs' | 'continue' | 'mfa', number[]>;
const noHops = (): Hops => ({ sso: [], acs: [], continue: [], mfa: [] });
const addHops = (into: Hops, from: Hops) => {
  for (const k of Object.keys(into) as (keyof Hops)[]) for (const v of from[k]) into[k].push(v);
};

/** What a generator needs to know: where the broker nodes listen, the fake IdP's key, the app, its users. */
interface GeneratorSetup {
  ports: number[];
  pinned: boolean;
  idpEntity: string;
  idpKeyPem: string;
  idpCertificatePem: string;
  appEntityId: string;
  appAcsUrl: string;
  brokerCertificatePem: string;
  secret: string;
  /** this generator's users: u<first>, u<first + stride>, … below `limit` */
  first: number;
  stride: number;
  limit: number;
}
type ToGenerator =
  | { type: 'setup'; setup: GeneratorSetup }
  | { type: 'run'; concurrency: number; seconds: number; measured: boolean; ports: number[] }
  | { type: 'check' }
  | { type: 'exit' };
/** `loaded`: the load ended (the parent then reads the broker's CPU); `checked`: every Response was checked. */
type FromGenerator =
  | {
      type: 'loaded';
      count: number;
      failures: number;
      hops: Hops;
      hopsOf: Hops[];
      countOf: number[];
      cpuMs: number;
      exhausted: boolean;
    }
  | { type: 'checked'; wrong: number; wrongOf: number[] };

function runGenerator() {
  let setup: GeneratorSetup;
  let ports: number[] = [];
  let nextUser = 0;
  let loginNo = 0;
  let received: { samlResponse: string; email: string; reqId: string; node: number }[] = [];
  const reply = (m: FromGenerator) => process.send!(m);

  /** One complete login; resolves with the node its hops went to (pinned: with --compare), its hop timings recorded. */
  async function login(record: (node: number, name: keyof Hops, ms: number) => void): Promise<number> {
    const n = setup.first + setup.stride * nextUser++;
    const email = `u${n}@bench.example`;
    // Pinned (--compare), a login's four hops stay on one node; otherwise each hop goes to any node (a flow continues
    // wherever the balancer sends it).
    const home = loginNo++ % ports.length;
    const port = () => ports[setup.pinned ? home : Math.floor(Math.random() * ports.length)];
    const reqId = `_b${randomUUID().replace(/-/g, '')}`;
    const authn = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${reqId}" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${setup.appAcsUrl}"><saml:Issuer>${setup.appEntityId}</saml:Issuer></samlp:AuthnRequest>`;
    const sso = await send(
      port(),
      'GET',
      `/saml/idp/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(authn).toString('base64'))}&RelayState=r${n}`,
      '',
    );
    record(home, 'sso', sso.ms);
    const cookies = new Map(sso.cookies.map((c) => [c.split('=')[0], c]));
    if (!sso.location) throw new Error(`expected the redirect to the IdP, got ${sso.status} ${sso.body.slice(0, 200)}`);
    const up = new URL(sso.location);
    const upXml = inflateRequest(up.searchParams.get('SAMLRequest')!);
    const upId = /ID="([^"]+)"/.exec(upXml)![1];
    const now = new Date();
    const resp = await buildLoginResponse({
      idp: { entityId: setup.idpEntity, signingKeyPem: setup.idpKeyPem, certificatePem: setup.idpCertificatePem },
      app: {
        entityId: `${base}/saml/sp/metadata`,
        acsUrl: `${base}/saml/sp/acs`,
        signResponse: false,
        signAssertion: true,
        encryptAssertion: false,
        nameIdFormat: 'emailAddress',
      },
      inResponseTo: upId,
      nameId: email,
      sessionIndex: '_s',
      attributes: { Email: [email] },
      now,
      authnInstant: now,
    });
    const acs = await send(port(), 'POST', '/saml/sp/acs', '', {
      SAMLResponse: resp.samlResponse,
      RelayState: up.searchParams.get('RelayState')!,
    });
    record(home, 'acs', acs.ms);
    if (!acs.location)
      throw new Error(`expected the redirect to continue, got ${acs.status} ${acs.body.slice(0, 200)}`);
    const jar = () => [...cookies.values()].join('; ');
    const cont = await send(port(), 'GET', acs.location, jar());
    record(home, 'continue', cont.ms);
    if (cont.status !== 303 || !cont.location!.endsWith('/mfa'))
      throw new Error(`expected the TOTP step, got ${cont.status} ${cont.body.slice(0, 200)}`);
    const code = generateSync({ secret: setup.secret, crypto: totpCrypto });
    const done = await send(port(), 'POST', cont.location!, jar(), { code });
    record(home, 'mfa', done.ms);
    const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(done.body)?.[1];
    if (!samlResponse) throw new Error(`no Response: ${done.status} ${done.body.slice(0, 300)}`);
    received.push({ samlResponse, email, reqId, node: home });
    return home;
  }

  function checkResponse(xml: string, email: string, inResponseTo: string) {
    const sig = new SignedXml({ publicCert: setup.brokerCertificatePem, getCertFromKeyInfo: () => null });
    const signature = /<ds:Signature[\s\S]*?<\/ds:Signature>/.exec(xml)![0];
    sig.loadSignature(signature);
    if (!sig.checkSignature(xml)) throw new Error('bad signature on the downstream Response');
    const signed = sig.getSignedReferences()[0];
    if (
      !signed.includes(`>${email}</saml:NameID>`) ||
      !signed.includes(`<saml:Audience>${setup.appEntityId}</saml:Audience>`) ||
      !xml.includes(`InResponseTo="${inResponseTo}"`)
    )
      throw new Error('wrong Response content');
  }

  // The benchmark ended (or failed) without saying so: nothing is left running.
  process.once('disconnect', () => process.exit(0));
  process.on('message', async (m: ToGenerator) => {
    if (m.type === 'setup') {
      setup = m.setup;
      return;
    }
    if (m.type === 'exit') {
      agent.destroy();
      process.exit(0);
    }
    if (m.type === 'check') {
      // After the load: the check's CPU (xml-crypto, another implementation than the broker's) does not compete with
      // the broker for the cores, and a Response that fails it counts as a failed login.
      let wrong = 0;
      const wrongOf = ports.map(() => 0);
      for (const r of received) {
        try {
          checkResponse(Buffer.from(r.samlResponse, 'base64').toString(), r.email, r.reqId);
        } catch (err) {
          wrong++;
          wrongOf[r.node]++;
          if (wrong < 3) process.stderr.write(`wrong Response: ${(err as Error).message}\n`);
        }
      }
      received = [];
      reply({ type: 'checked', wrong, wrongOf });
      return;
    }
    ports = m.ports;
    loginNo = 0;
    const hops = noHops();
    const hopsOf = ports.map(noHops);
    const countOf = ports.map(() => 0);
    const record = (node: number, name: keyof Hops, ms: number) => {
      hops[name].push(ms);
      hopsOf[node][name].push(ms);
    };
    let count = 0;
    let failures = 0;
    let exhausted = false;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: m.concurrency }, async () => {
        while (performance.now() - started < m.seconds * 1000) {
          if (setup.first + setup.stride * nextUser >= setup.limit) {
            exhausted = true;
            break;
          }
          try {
            countOf[await login(record)]++;
            count++;
          } catch (err) {
            failures++;
            if (m.measured && failures < 3) process.stderr.write(`login failed: ${(err as Error).message}\n`);
          }
        }
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    if (!m.measured) received = [];
    reply({ type: 'loaded', count, failures, hops, hopsOf, countOf, cpuMs: (cpu.user + cpu.system) / 1000, exhausted });
  });
}

/** The generator processes, driven together. */
class Generators {
  private constructor(private readonly procs: ChildProcess[]) {}
  static start(n: number, setup: Omit<GeneratorSetup, 'first' | 'stride'>) {
    const procs = Array.from({ length: n }, (_, i) => {
      const p = fork(fileURLToPath(import.meta.url), [], {
        execArgv: process.execArgv,
        env: { ...process.env, BENCH_GENERATOR: '1' },
        stdio: 'inherit',
      });
      p.send({ type: 'setup', setup: { ...setup, first: i, stride: n } } satisfies ToGenerator);
      return p;
    });
    return new Generators(procs);
  }
  /** Sends each generator its message and waits for each one's answer of `type`. */
  private ask<T extends FromGenerator['type']>(message: (i: number) => ToGenerator, type: T) {
    return Promise.all(
      this.procs.map(
        (p, i) =>
          new Promise<Extract<FromGenerator, { type: T }>>((resolve, reject) => {
            const onExit = (code: number) => reject(new Error(`a load generator exited (${code})`));
            const onMessage = (m: FromGenerator) => {
              if (m.type === type) {
                p.off('message', onMessage);
                p.off('exit', onExit);
                resolve(m as Extract<FromGenerator, { type: T }>);
              }
            };
            p.on('message', onMessage);
            p.once('exit', onExit);
            p.send(message(i));
          }),
      ),
    );
  }
  /** `concurrency` logins at a time in all, shared out among the generators. */
  run(concurrency: number, seconds: number, measured: boolean, ports: number[]) {
    const n = this.procs.length;
    return this.ask(
      (i) => ({
        type: 'run',
        concurrency: Math.floor(concurrency / n) + (i < concurrency % n ? 1 : 0),
        seconds,
        measured,
        ports,
      }),
      'loaded',
    );
  }
  check() {
    return this.ask(() => ({ type: 'check' }), 'checked');
  }
  stop() {
    for (const p of this.procs) p.send({ type: 'exit' } satisfies ToGenerator);
  }
}

// ---- the broker nodes and the measured levels ----

interface BrokerNode {
  port: number;
  proc: ChildProcess;
}
interface Level {
  concurrency: number;
  logins: number;
  secs: number;
  failed: number;
  brokerCpuMs: number;
  generatorCpuMs: number;
  hops: Hops;
  rssMb: number;
  rows: string[];
}

async function main() {
  const floor = rsaFloor();
  let databaseUrl: string;
  let drop = async () => {};
  if (args.pg) {
    const db = await freshPostgres();
    databaseUrl = db.url;
    drop = db.drop;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'bench-sso-'));
    databaseUrl = `file:${join(dir, 'bench.db')}`;
    drop = async () => rmSync(dir, { recursive: true, force: true });
  }

  // Seed: organisation, a fake IdP, an app with 2FA, and many users with active TOTP factors.
  const { ctx } = await bootstrap(
    configFrom({ DATABASE_URL: databaseUrl, BASE_DOMAIN, MASTER_KEY, LOG_LEVEL: 'silent' }),
  );
  const created = await ctx.organizations.create(
    { slug: 'bench', name: 'Bench', adminEmail: 'admin@bench.example', adminPassword: 'bench admin password' },
    'bench',
  );
  const store = ctx.store.forOrg(created.org.id);
  const idpKey = generateSigningCredential('bench-idp');
  const idpEntity = 'https://idp.bench.example';
  const idp = await saveIdentityProvider(store, {
    name: 'IdP',
    entityId: idpEntity,
    ssoUrl: `${idpEntity}/sso`,
    certificates: [idpKey.certificatePem],
    emailDomains: ['bench.example'],
  });
  const app = await saveApplication(store, {
    name: 'App',
    entityId: 'https://app.bench.example',
    acsUrls: ['https://app.bench.example/acs'],
    primaryIdpId: idp.id,
    policy: setTwoFactor([], true),
  });
  const brokerCert = createPublicKey((await store.signingKeys.active())!.certificatePem);
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  process.stderr.write(`seeding ${USERS} users with TOTP factors…\n`);
  for (let i = 0; i < USERS; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, USERS - i) }, (_, j) => ({
      id: randomUUID(),
      orgId: created.org.id,
      email: `u${i + j}@bench.example`,
      emailLower: `u${i + j}@bench.example`,
    }));
    await ctx.store.db.user.createMany({ data: rows });
    await ctx.store.db.totpFactor.createMany({
      data: rows.map((r) => ({
        orgId: created.org.id,
        userId: r.id,
        status: 'active',
        secretEnc: ctx.box.seal(secret, `totp:${created.org.id}:${r.id}`),
      })),
    });
  }
  await ctx.store.close();

  // The compiled server, as production runs it (`npm run build`, then `npm run serve` or the Docker image), built
  // afresh in each checkout; --sources runs src/server.ts through tsx instead (as `npm start` does). A login costs
  // about the same CPU either way (3 % apart side by side), but through tsx a process holds about 190 MB more (its
  // transformed modules, the largest being libxml2's 1 MB of generated JavaScript).
  const checkouts = [root, ...(args.compare ? [COMPARE!] : [])];
  if (!args.sources)
    for (const dir of checkouts) execFileSync('npm', ['run', '--silent', 'build'], { cwd: dir, stdio: 'inherit' });
  const entry = args.sources ? ['--import', 'tsx', 'src/server.ts'] : ['dist/src/server.js'];

  // Broker processes still running when the benchmark exits (a failed level, say) are stopped with it.
  const running = new Set<ChildProcess>();
  process.once('exit', () => {
    for (const p of running) p.kill('SIGTERM');
  });
  async function startNodes(count: number, workers: number): Promise<BrokerNode[]> {
    const nodes: BrokerNode[] = [];
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=prof", profiles the broker nodes. BENCH_COMPARE_NODE_ARGS
      // go to the second node of a comparison only (--compare, --compare-redis): `--compare .` with a V8 flag there
      // weighs the flag on the same code.
      const nodeArgs = [
        ...words(process.env.BENCH_NODE_ARGS),
        ...(COMPARE && i === 1 ? words(process.env.BENCH_COMPARE_NODE_ARGS) : []),
      ];
      const proc = spawn(process.execPath, [...nodeArgs, ...entry], {
        cwd: args.compare && i === 1 ? COMPARE : root,
        env: {
          ...redisFor(i),
          PATH: process.env.PATH!,
          DATABASE_URL: databaseUrl,
          MASTER_KEY,
          BASE_DOMAIN,
          PORT: String(port),
          WORKERS: String(workers),
          LOG_LEVEL: 'warn',
          NODE_ENV: 'production',
          DATABASE_POOL_SIZE: '16',
          ...RATE_LIMITS_OFF,
        },
        stdio: 'inherit',
      });
      for (let k = 0; k < 300; k++) {
        if (
          await send(port, 'GET', '/healthz', '').then(
            (r) => r.status === 200,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // The first worker answers before the others have booted: give them the time a worker takes to start.
      if (workers > 1) await new Promise((r) => setTimeout(r, 2000 + 1000 * workers));
      running.add(proc);
      nodes.push({ port, proc });
    }
    return nodes;
  }
  const stopNodes = (nodes: BrokerNode[]) =>
    Promise.all(
      nodes.map(
        (n) =>
          new Promise((resolve) => {
            running.delete(n.proc);
            n.proc.once('exit', resolve);
            n.proc.kill('SIGTERM');
          }),
      ),
    );

  const generators = Generators.start(GENERATORS, {
    ports: [],
    pinned: Boolean(COMPARE),
    idpEntity,
    idpKeyPem: idpKey.privateKeyPem,
    idpCertificatePem: idpKey.certificatePem,
    appEntityId: app.entityId,
    appAcsUrl: app.acsUrls[0],
    brokerCertificatePem: brokerCert.export({ type: 'spki', format: 'pem' }).toString(),
    secret,
    limit: USERS,
  });

  const fmt = (xs: number[]) =>
    `${percentile(xs, 50).toFixed(1)} / ${percentile(xs, 95).toFixed(1)} / ${percentile(xs, 99).toFixed(1)}`;

  /** Unmeasured logins first, then each level: its figures in one or (--compare) two table rows. */
  async function measure(nodes: BrokerNode[], levels: number[]): Promise<Level[]> {
    const ports = nodes.map((n) => n.port);
    // Unmeasured logins first, so that no level pays for the JIT compiler's start, the workers' first requests, or the
    // SQLite WAL file growing to its working size (appends to new file space cost the kernel zeroed pages; once the
    // file is that large, the log restarts within it). 10 s: with 3 s the first level measured about 25 % more CPU.
    await generators.run(8 * nodes.length, Number(args.warmup), false, ports);
    const out: Level[] = [];
    for (const c of levels) {
      const before = nodes.map((n) => cpuAndRss(n.proc.pid!));
      const postgresBefore = args.pg ? serverCpuMs('postgres') : 0;
      const redisBefore = REDIS ? serverCpuMs('redis-server') : 0;
      const started = performance.now();
      const loaded = await generators.run(c, SECONDS, true, ports);
      const secs = (performance.now() - started) / 1000;
      const after = nodes.map((n) => cpuAndRss(n.proc.pid!));
      const postgresMs = args.pg ? serverCpuMs('postgres') - postgresBefore : 0;
      const redisMs = REDIS ? serverCpuMs('redis-server') - redisBefore : 0;
      const checked = await generators.check();
      if (loaded.some((l) => l.exhausted))
        process.stderr.write(`the ${USERS} users ran out during this level: give more with --users\n`);
      const hops = noHops();
      const hopsOf = nodes.map(noHops);
      for (const l of loaded) {
        addHops(hops, l.hops);
        l.hopsOf.forEach((h, i) => addHops(hopsOf[i], h));
      }
      const wrong = checked.reduce((s, k) => s + k.wrong, 0);
      const count = loaded.reduce((s, l) => s + l.count, 0) - wrong;
      const countOf = nodes.map(
        (_, i) => loaded.reduce((s, l) => s + l.countOf[i], 0) - checked.reduce((s, k) => s + k.wrongOf[i], 0),
      );
      const failed = loaded.reduce((s, l) => s + l.failures, 0) + wrong;
      const generatorCpuMs = loaded.reduce((s, l) => s + l.cpuMs, 0);
      const servers =
        (args.pg ? ` ${(postgresMs / Math.max(1, count)).toFixed(1)} |` : '') +
        (REDIS ? ` ${(redisMs / Math.max(1, count)).toFixed(2)} |` : '');
      const row = (label: string, h: Hops, logins: number, cpuMs: number, rssMb: number) =>
        `| ${label} | ${(logins / secs).toFixed(0)} | ${failed} | ${fmt(h.sso)} | ${fmt(h.acs)} | ${fmt(h.continue)} | ${fmt(h.mfa)} | ${(cpuMs / Math.max(1, logins)).toFixed(2)} | ${rssMb.toFixed(0)} | ${(generatorCpuMs / Math.max(1, count)).toFixed(2)} |${servers}`;
      const brokerCpuMs = after.reduce((s, a, i) => s + a.cpuMs - before[i].cpuMs, 0);
      const rssMb = Math.max(...after.map((a) => a.peakRssMb));
      const rows = COMPARE
        ? nodes.map((_, i) =>
            row(
              `${c} (${COMPARE_LABELS[i]})`,
              hopsOf[i],
              countOf[i],
              after[i].cpuMs - before[i].cpuMs,
              after[i].peakRssMb,
            ),
          )
        : [row(String(c), hops, count, brokerCpuMs, rssMb)];
      out.push({ concurrency: c, logins: count, secs, failed, brokerCpuMs, generatorCpuMs, hops, rssMb, rows });
    }
    return out;
  }

  const setting = `${args.pg ? 'PostgreSQL' : 'SQLite'}${args.redis ? ' with Redis' : ''}`;
  // The floor: what a login's cryptography alone costs the broker. Two RSA signatures (our signed AuthnRequest to the
  // IdP, as signRequests defaults to true, and the Response to the app) and one verification (the IdP's assertion).
  const floorMs = 2000 / floor.signsPerSec + 1000 / floor.verifiesPerSec;
  const floorLine = `Floor on this machine (one core, Node crypto, RSA-2048/SHA-256): ${floor.signsPerSec.toFixed(0)} signs/s, ${floor.verifiesPerSec.toFixed(0)} verifies/s. A login costs the broker 2 signatures (the AuthnRequest to the IdP, the Response to the app) and 1 verification (the IdP's assertion): ${floorMs.toFixed(2)} ms of CPU.`;
  const header = (extra = '') =>
    `| concurrency${extra} | logins/s | failed | SSO | ACS | continue | TOTP | broker CPU ms/login | broker peak RSS MB | load generator CPU ms/login |${args.pg ? ' PostgreSQL CPU ms/login |' : ''}${REDIS ? ' Redis CPU ms/login |' : ''}\n|---|---|---|---|---|---|---|---|---|---|${args.pg ? '---|' : ''}${REDIS ? '---|' : ''}`;
  const generatorsLine = `${GENERATORS} load generator process(es); machine: ${availableParallelism()} cores.`;

  if (SCALE) {
    // One level per process count, at the first --concurrency value per process, on fresh nodes each time.
    const perProcess = LEVELS[0];
    const results: { n: number; level: Level }[] = [];
    for (const n of SCALE) {
      const nodes = args.pg ? await startNodes(n, WORKERS) : await startNodes(1, n);
      const [level] = await measure(nodes, [perProcess * n]);
      await stopNodes(nodes);
      results.push({ n, level });
      process.stderr.write(`${n}: ${(level.logins / level.secs).toFixed(0)} logins/s\n`);
    }
    const what = args.pg ? `nodes of ${WORKERS} process(es)` : 'broker processes (WORKERS) of one node';
    console.log(
      `\nScaling: ${setting}, ${what}, concurrency ${perProcess} per process, ${SECONDS} s each after ${args.warmup} s of warm-up. ${generatorsLine}\n`,
    );
    console.log(
      `| ${args.pg ? 'nodes' : 'processes'} | concurrency | logins/s | failed | efficiency | broker CPU ms/login | load generator CPU ms/login | hop p99 max ms | broker peak RSS MB |\n|---|---|---|---|---|---|---|---|---|`,
    );
    const one = results[0].level.logins / results[0].level.secs / results[0].n;
    for (const { n, level } of results) {
      const rate = level.logins / level.secs;
      const p99 = Math.max(...Object.values(level.hops).map((xs) => percentile(xs, 99)));
      console.log(
        `| ${n} | ${level.concurrency} | ${rate.toFixed(0)} | ${level.failed} | ${((100 * rate) / (one * n)).toFixed(0)} % | ${(level.brokerCpuMs / Math.max(1, level.logins)).toFixed(2)} | ${(level.generatorCpuMs / Math.max(1, level.logins)).toFixed(2)} | ${p99.toFixed(1)} | ${level.rssMb.toFixed(0)} |`,
      );
    }
    console.log(`\nEfficiency: logins/s ÷ (the first row's logins/s per process × processes).`);
  } else {
    const nodes = await startNodes(NODES, WORKERS);
    const levels = await measure(nodes, LEVELS);
    await stopNodes(nodes);
    console.log(
      `\nSSO benchmark: ${setting}, ${NODES} node(s) of ${WORKERS} worker process(es), ${SECONDS} s per level, complete logins with TOTP; hop latencies p50 / p95 / p99 in ms (client-measured on loopback). ${generatorsLine}\n`,
    );
    console.log(header());
    for (const l of levels) for (const r of l.rows) console.log(r);
  }
  console.log(`\n${floorLine}`);
  generators.stop();
  agent.destroy();
  await drop();
  await REDIS?.clear();
}

function inflateRequest(b64: string) {
  return inflateRawSync(Buffer.from(b64, 'base64')).toString();
}

if (process.env.BENCH_GENERATOR) runGenerator();
else await main();
