// Configuration comes only from environment variables, checked at boot. A bad value stops the process with a
// message naming the variable; every variable is documented in .env.example and README.
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(3000),
  // Host (with port when not 80/443) under which organisations get their subdomains: <slug>.<BASE_DOMAIN>
  BASE_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d{1,5})?$/i, 'a host name with an optional :port, e.g. broker.example.com or localhost:3000')
    .optional(),
  PUBLIC_SCHEME: z.enum(['http', 'https']).default('http'),
  DATABASE_URL: z
    .string()
    .regex(/^(file:.+|postgres(ql)?:\/\/.+)$/, 'file:<path> for SQLite or postgresql://... for PostgreSQL')
    .default('file:./data/broker.db'),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  // PostgreSQL: how long opening a connection, or waiting for a free one of the pool, may take; and how long one
  // statement may run (enforced by the server and, for a server that does not answer at all, by the client).
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 120000).default(5000),
  DATABASE_STATEMENT_TIMEOUT_MS: int(100, 600000).default(10000),
  // Optional: login flows (and rate-limit counters) in Redis instead of the database. One-time-use records (assertion
  // IDs, TOTP steps, logout request IDs) stay in the database: losing Redis only makes logins in progress start again.
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'redis://[user:password@]host:port[/db] or rediss://... (TLS)')
    .optional(),
  // Prefix of every key the broker writes, so that one Redis can serve several brokers or other programs.
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, '1-64 letters, digits, _ . : -')
    .default('saml-broker:'),
  // How long connecting to Redis, and one Redis command, may take before the request that waits on it fails.
  REDIS_CONNECT_TIMEOUT_MS: int(100, 120000).default(5000),
  REDIS_COMMAND_TIMEOUT_MS: int(50, 60000).default(2000),
  // Broker processes on this machine, sharing the port: 1, a number, or "auto" (one per CPU core).
  WORKERS: z.union([z.literal('auto'), int(1, 64)]).default(1),
  // 32 bytes, base64 or hex. Encrypts private keys and TOTP secrets at rest.
  MASTER_KEY: z.string().optional(),
  MASTER_KEY_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: z.string().default('false'),
  CLOCK_SKEW_SECONDS: int(0, 600).default(60),
  FLOW_TTL_SECONDS: int(60, 86400).default(900),
  MAX_SAML_MESSAGE_BYTES: int(4096, 10 * 1024 * 1024).default(256 * 1024),
  BODY_LIMIT_BYTES: int(4096, 50 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: int(0, 120000).default(10000),
  // --- drain on shutdown, import liveness (issue 24 items 4 and 6) ---
  // Seconds a stopping node keeps serving while /readyz answers 503 "draining" (0 = close at once). Counted inside
  // SHUTDOWN_TIMEOUT_MS; unset: 5, but at most half of SHUTDOWN_TIMEOUT_MS.
  SHUTDOWN_DRAIN_SECONDS: int(0, 120).optional(),
  // A running user import writes a heartbeat this often; one silent for IMPORT_STALE_AFTER_SECONDS is taken as dead.
  IMPORT_HEARTBEAT_SECONDS: int(1, 300).default(5),
  IMPORT_STALE_AFTER_SECONDS: int(2, 86400).default(30),
  // --- end drain / import liveness ---
  PURGE_INTERVAL_SECONDS: int(0, 86400).default(300),
  LIFECYCLE_INTERVAL_SECONDS: int(0, 86400).default(60),
  SLO_HOP_TIMEOUT_SECONDS: int(1, 120).default(8),
  CONFIG_CACHE_SECONDS: int(0, 300).default(5),
  MFA_LOCKOUT_THRESHOLD: int(1, 100).default(5),
  MFA_LOCKOUT_SECONDS: int(1, 86400 * 7).default(900),
  // An admin invitation link works this long (and once).
  ADMIN_INVITE_HOURS: int(1, 24 * 30).default(72),
  // Optional e-mail (src/mail): smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465 (TLS from the
  // start). Unset: no e-mail is sent and the console shows the links to copy.
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, 'smtp://[user:password@]host[:port] or smtps://...')
    .optional(),
  // The From address of every message, e.g. "Acme sign-in <no-reply@example.com>".
  SMTP_FROM: z.string().min(3).max(320).optional(),
  // smtp:// only: refuse to send unless the server upgrades to TLS (STARTTLS).
  SMTP_REQUIRE_TLS: bool.default(false),
  // Accept a server certificate that does not verify (a test relay with a self-signed certificate). Never in production.
  SMTP_TLS_INSECURE: bool.default(false),
  // One message may take this long (connect, TLS, delivery) before it counts as failed; a login never waits for it.
  SMTP_TIMEOUT_MS: int(500, 120000).default(10000),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  METADATA_ALLOW_PRIVATE: bool.default(false),
  // Upstream IdPs added by metadata URL are fetched again at most this long apart (sooner when the metadata's
  // cacheDuration or validUntil asks for it), and never sooner than the minimum, even after a failure.
  METADATA_REFRESH_INTERVAL_SECONDS: int(60, 30 * 86400).default(3600),
  METADATA_REFRESH_MIN_SECONDS: int(10, 86400).default(300),
  METADATA_FETCH_TIMEOUT_SECONDS: int(1, 120).default(10),
  // Microsoft Graph, the only host the broker asks for an Entra ID user's groups when the ID token has a groups
  // overage (whatever the token names); the sign-in's access token is sent there and nowhere else.
  GRAPH_BASE_URL: z
    .string()
    .url()
    .regex(/^https?:\/\/[^/?#]+\/?$/, 'an origin only, e.g. https://graph.microsoft.com')
    .default('https://graph.microsoft.com'),
  // Requests per minute (0 = no limit): per client address on each route group, and per organisation overall.
  RATE_LIMIT_LOGIN_PER_MINUTE: int(0, 10_000_000).default(600),
  RATE_LIMIT_MFA_PER_MINUTE: int(0, 10_000_000).default(120),
  RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE: int(0, 10_000_000).default(30),
  RATE_LIMIT_API_PER_MINUTE: int(0, 10_000_000).default(1200),
  RATE_LIMIT_ORG_PER_MINUTE: int(0, 10_000_000).default(12_000),
});

/** Every environment variable the broker reads (documented one by one in .env.example). */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

/** Requests per minute; 0 = no limit. The first four count per client address, the last per organisation. */
export interface RateLimits {
  loginPerMinute: number;
  mfaPerMinute: number;
  adminLoginPerMinute: number;
  apiPerMinute: number;
  orgPerMinute: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  baseDomain: string;
  publicScheme: 'http' | 'https';
  databaseUrl: string;
  databasePoolSize: number;
  /** PostgreSQL: opening a connection or waiting for a pooled one (ms) */
  databaseConnectTimeoutMs: number;
  /** PostgreSQL: one statement, server-side statement_timeout and client-side query timeout (ms) */
  databaseStatementTimeoutMs: number;
  /** Redis for the login flows shared by the nodes (and the rate-limit counters); unset: the database keeps the flows */
  redisUrl?: string;
  redisKeyPrefix: string;
  /** Redis: connecting (ms) */
  redisConnectTimeoutMs: number;
  /** Redis: one command (ms) */
  redisCommandTimeoutMs: number;
  masterKey?: string;
  masterKeyFile?: string;
  logLevel: string;
  trustProxy: boolean | string;
  clockSkewSeconds: number;
  flowTtlSeconds: number;
  maxSamlMessageBytes: number;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  /** how long a stopping node keeps serving with /readyz at 503 "draining" before it closes (within shutdownTimeoutMs) */
  shutdownDrainMs: number;
  /** how often a running user import writes its heartbeat */
  importHeartbeatSeconds: number;
  /** a running import silent this long is taken as dead: it no longer blocks, and the next import resumes it */
  importStaleAfterSeconds: number;
  /** broker processes on this machine ("auto" resolved to the number of cores) */
  workers: number;
  purgeIntervalSeconds: number;
  /** how often a node looks for signing keys due for promotion and IdP metadata due for refresh (0 = never) */
  lifecycleIntervalSeconds: number;
  /** how long single logout waits for one participant's answer before moving on (PartialLogout) */
  sloHopTimeoutSeconds: number;
  /** how long a node may serve organisation, app, IdP and key settings from memory before reading them again */
  configCacheSeconds: number;
  mfaLockoutThreshold: number;
  mfaLockoutSeconds: number;
  /** Optional SMTP relay for e-mail (src/mail); unset: nothing is sent */
  smtp?: { url: string; from: string; requireTls: boolean; tlsInsecure: boolean; timeoutMs: number };
  /** How long an admin invitation link works (once). */
  adminInviteHours: number;
  metricsToken?: string;
  metadataAllowPrivate: boolean;
  /** longest time between two fetches of an IdP's metadata URL, and the backoff ceiling after failures */
  metadataRefreshIntervalSeconds: number;
  /** shortest time between two fetches of an IdP's metadata URL (first retry after a failure) */
  metadataRefreshMinSeconds: number;
  /** time limit of one scheduled metadata fetch, redirects included */
  metadataFetchTimeoutSeconds: number;
  /** Microsoft Graph's origin (no trailing slash): where an Entra ID groups overage is read */
  graphBaseUrl: string;
  rateLimits: RateLimits;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as in most .env tooling.
  const input = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(input[String(i.path[0])])})`,
      ),
    );
  }
  const c = parsed.data;
  if (c.METADATA_REFRESH_MIN_SECONDS > c.METADATA_REFRESH_INTERVAL_SECONDS) {
    throw new ConfigError([
      `METADATA_REFRESH_MIN_SECONDS: must not exceed METADATA_REFRESH_INTERVAL_SECONDS (${c.METADATA_REFRESH_INTERVAL_SECONDS}) (got ${c.METADATA_REFRESH_MIN_SECONDS})`,
    ]);
  }
  if (
    c.SHUTDOWN_DRAIN_SECONDS !== undefined &&
    c.SHUTDOWN_DRAIN_SECONDS > 0 &&
    c.SHUTDOWN_DRAIN_SECONDS * 1000 >= c.SHUTDOWN_TIMEOUT_MS
  ) {
    throw new ConfigError([
      `SHUTDOWN_DRAIN_SECONDS: the drain is part of the shutdown, so it must be shorter than SHUTDOWN_TIMEOUT_MS (${c.SHUTDOWN_TIMEOUT_MS} ms), leaving time for in-flight requests (got ${c.SHUTDOWN_DRAIN_SECONDS})`,
    ]);
  }
  if (c.IMPORT_STALE_AFTER_SECONDS < 2 * c.IMPORT_HEARTBEAT_SECONDS) {
    throw new ConfigError([
      `IMPORT_STALE_AFTER_SECONDS: must be at least twice IMPORT_HEARTBEAT_SECONDS (${c.IMPORT_HEARTBEAT_SECONDS}), or a live import could be taken for dead (got ${c.IMPORT_STALE_AFTER_SECONDS})`,
    ]);
  }
  const trust = c.TRUST_PROXY.trim();
  return {
    env: c.NODE_ENV,
    host: c.HOST,
    port: c.PORT,
    baseDomain: (c.BASE_DOMAIN ?? `localhost:${c.PORT}`).toLowerCase(),
    publicScheme: c.PUBLIC_SCHEME,
    databaseUrl: c.DATABASE_URL,
    databasePoolSize: c.DATABASE_POOL_SIZE,
    databaseConnectTimeoutMs: c.DATABASE_CONNECT_TIMEOUT_MS,
    databaseStatementTimeoutMs: c.DATABASE_STATEMENT_TIMEOUT_MS,
    redisUrl: c.REDIS_URL,
    redisKeyPrefix: c.REDIS_KEY_PREFIX,
    redisConnectTimeoutMs: c.REDIS_CONNECT_TIMEOUT_MS,
    redisCommandTimeoutMs: c.REDIS_COMMAND_TIMEOUT_MS,
    masterKey: c.MASTER_KEY,
    masterKeyFile: c.MASTER_KEY_FILE,
    logLevel: c.LOG_LEVEL,
    // "true" trusts every hop; otherwise a comma-separated list of addresses/CIDRs as Fastify accepts.
    trustProxy: trust === 'true' ? true : trust === 'false' || trust === '' ? false : trust,
    clockSkewSeconds: c.CLOCK_SKEW_SECONDS,
    flowTtlSeconds: c.FLOW_TTL_SECONDS,
    maxSamlMessageBytes: c.MAX_SAML_MESSAGE_BYTES,
    bodyLimitBytes: c.BODY_LIMIT_BYTES,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs:
      c.SHUTDOWN_DRAIN_SECONDS !== undefined
        ? c.SHUTDOWN_DRAIN_SECONDS * 1000
        : Math.min(5000, Math.floor(c.SHUTDOWN_TIMEOUT_MS / 2000) * 1000),
    importHeartbeatSeconds: c.IMPORT_HEARTBEAT_SECONDS,
    importStaleAfterSeconds: c.IMPORT_STALE_AFTER_SECONDS,
    workers: c.WORKERS === 'auto' ? availableParallelism() : c.WORKERS,
    purgeIntervalSeconds: c.PURGE_INTERVAL_SECONDS,
    lifecycleIntervalSeconds: c.LIFECYCLE_INTERVAL_SECONDS,
    sloHopTimeoutSeconds: c.SLO_HOP_TIMEOUT_SECONDS,
    configCacheSeconds: c.CONFIG_CACHE_SECONDS,
    mfaLockoutThreshold: c.MFA_LOCKOUT_THRESHOLD,
    mfaLockoutSeconds: c.MFA_LOCKOUT_SECONDS,
    adminInviteHours: c.ADMIN_INVITE_HOURS,
    ...(c.SMTP_URL && {
      smtp: {
        url: c.SMTP_URL,
        from: c.SMTP_FROM ?? `no-reply@${(c.BASE_DOMAIN ?? 'localhost').split(':')[0]}`,
        requireTls: c.SMTP_REQUIRE_TLS,
        tlsInsecure: c.SMTP_TLS_INSECURE,
        timeoutMs: c.SMTP_TIMEOUT_MS,
      },
    }),
    metricsToken: c.METRICS_TOKEN,
    metadataAllowPrivate: c.METADATA_ALLOW_PRIVATE,
    metadataRefreshIntervalSeconds: c.METADATA_REFRESH_INTERVAL_SECONDS,
    metadataRefreshMinSeconds: c.METADATA_REFRESH_MIN_SECONDS,
    metadataFetchTimeoutSeconds: c.METADATA_FETCH_TIMEOUT_SECONDS,
    graphBaseUrl: c.GRAPH_BASE_URL.replace(/\/$/, ''),
    rateLimits: {
      loginPerMinute: c.RATE_LIMIT_LOGIN_PER_MINUTE,
      mfaPerMinute: c.RATE_LIMIT_MFA_PER_MINUTE,
      adminLoginPerMinute: c.RATE_LIMIT_ADMIN_LOGIN_PER_MINUTE,
      apiPerMinute: c.RATE_LIMIT_API_PER_MINUTE,
      orgPerMinute: c.RATE_LIMIT_ORG_PER_MINUTE,
    },
  };
}

/** Test helper and CLI convenience: defaults plus overrides, still validated. */
export function configFrom(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...overrides });
}
