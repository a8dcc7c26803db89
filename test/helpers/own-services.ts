// PostgreSQL and Redis servers that a fault test starts for itself, so that it may stop, freeze (SIGSTOP), thaw and
// restart them without touching the machine's shared servers or the other tests running beside it. Each lives in a
// temporary folder on a free port and is removed at teardown. PostgreSQL refuses to run as root: as root, the
// cluster belongs to the `postgres` user (as in scripts/test-all.sh).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

export interface OwnService {
  /** connection URL (PostgreSQL: database `test`; Redis: db 0) */
  url: string;
  port: number;
  /** SIGSTOP: the server keeps its sockets open and answers nothing, like a frozen host or a partition */
  freeze(): void;
  /** SIGCONT */
  thaw(): void;
  /** stops the server (fast shutdown), then starts it again on the same port */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stops the server and removes its folder */
  remove(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await ok().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/** Redis without persistence (as docker-compose ran it before): a restart loses every record. */
export async function startOwnRedis(): Promise<OwnService> {
  const dir = mkdtempSync(join(tmpdir(), 'broker-own-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}/0`;
  let proc: ChildProcess | undefined;
  const answers = async () => {
    const c = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 500,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } finally {
      c.disconnect();
    }
  };
  const service: OwnService = {
    url,
    port,
    freeze: () => proc?.kill('SIGSTOP'),
    thaw: () => proc?.kill('SIGCONT'),
    async start() {
      proc = spawn(
        'redis-server',
        ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' },
      );
      await waitUntil('redis-server', answers);
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      p.kill('SIGCONT');
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL'); // what a crash or an OOM kill does: nothing is saved
      await exited;
      proc = undefined;
    },
    async restart() {
      await service.stop();
      await service.start();
    },
    async remove() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

/** Whether this machine can start a PostgreSQL of its own (Debian's `postgresql` binaries). */
export const ownPostgresSkipped: string | false = postgresBin()
  ? false
  : 'needs the postgresql binaries (initdb) to start a PostgreSQL of its own';

/** A throw-away PostgreSQL cluster with a database `test`; fsync off (the tests' data need not survive a crash). */
export async function startOwnPostgres(): Promise<OwnService> {
  const bin = postgresBin();
  if (!bin) throw new Error(ownPostgresSkipped as string);
  const dir = mkdtempSync(join(tmpdir(), 'broker-own-pg-'));
  chmodSync(dir, 0o755);
  const asPg = (cmd: string, args: string[]) =>
    isRoot
      ? execFileSync('/usr/sbin/runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  if (isRoot)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    );
  const data = join(dir, 'data');
  asPg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const url = `postgresql://postgres@127.0.0.1:${port}/test`;
  const pidOf = () => {
    const file = join(data, 'postmaster.pid');
    return existsSync(file) ? Number(execFileSync('head', ['-1', file]).toString().trim()) : undefined;
  };
  const signalAll = (signal: 'SIGSTOP' | 'SIGCONT') => {
    // The postmaster and every backend: a frozen host freezes them all.
    const pid = pidOf();
    if (!pid) return;
    const children = execFileSync('sh', ['-c', `pgrep -P ${pid} || true`])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    for (const p of [pid, ...children]) {
      try {
        process.kill(p, signal);
      } catch {
        /* gone already */
      }
    }
  };
  const answers = async () => {
    const c = new pg.Client({ connectionString: url.replace(/\/test$/, '/postgres'), connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } finally {
      await c.end().catch(() => {});
    }
  };
  const service: OwnService = {
    url,
    port,
    freeze: () => signalAll('SIGSTOP'),
    thaw: () => signalAll('SIGCONT'),
    async start() {
      asPg('pg_ctl', [
        '-D',
        data,
        '-l',
        join(dir, 'pg.log'),
        '-w',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
        'start',
      ]);
      await waitUntil('postgres', answers);
    },
    async stop() {
      if (!pidOf()) return;
      signalAll('SIGCONT');
      asPg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async restart() {
      await service.stop();
      await service.start();
    },
    async remove() {
      try {
        signalAll('SIGCONT');
        asPg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        /* not running */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await service.start();
  asPg('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'test']);
  return service;
}
