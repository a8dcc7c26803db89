// The connection to Redis, for the login flows that every node of a cluster shares when REDIS_URL is set (the
// rate limits' counters use the same connection: plugins/rate-limit.ts). Flows are written and read on every login
// and live for minutes; in Redis each is one round trip to an in-memory server instead of a statement on
// PostgreSQL, and expiry is Redis's own TTL instead of the purge. Everything else (users, sessions, configuration,
// audit, and the one-time-use records: assertion IDs, TOTP steps, logout request IDs) stays in the database. Redis
// may therefore lose its memory (a restart without persistence, an eviction): logins in progress start again, and
// nothing accepted before is accepted a second time.
//
// Each compare-and-set is a Lua script, so it is atomic across nodes as the SQL statements are. Commands issued
// within one event-loop turn leave in one write (auto-pipelining). A command never waits for a lost connection to
// come back: it fails at once (no offline queue), and the request that needed it fails with a clear error rather
// than hanging; the client reconnects in the background.
import { Redis } from 'ioredis';

/** Lua: create a flow unless one with that key exists. KEYS[1] flow; ARGV stage, record JSON, TTL ms. */
const FLOW_CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'stage', ARGV[1], 'version', '0', 'flow', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** Lua: move a flow only if it is still at (stage, version). KEYS[1] flow; ARGV stage, version, new stage, new
 *  version, record JSON. A missing key compares as false and changes nothing; the TTL set at creation is kept. */
const FLOW_ADVANCE = `
local current = redis.call('HMGET', KEYS[1], 'stage', 'version')
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'stage', ARGV[3], 'version', ARGV[4], 'flow', ARGV[5])
return 1`;

interface ScriptedRedis extends Redis {
  flowCreate(key: string, stage: string, record: string, ttlMs: number): Promise<number>;
  flowAdvance(
    key: string,
    stage: string,
    version: string,
    newStage: string,
    newVersion: string,
    record: string,
  ): Promise<number>;
}

/** Kept this long past its expiry: a node whose clock runs behind the others' still finds a flow for as long as it
 *  considers it live. Expiry itself is always checked against the caller's clock. */
const EXPIRY_MARGIN_MS = 60_000;

export class RedisRecords {
  private constructor(
    readonly client: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  /** Connects (failing if Redis does not answer) and registers the scripts. */
  static async open(
    url: string,
    prefix: string,
    timeouts: { connectMs?: number; commandMs?: number } = {},
  ): Promise<RedisRecords> {
    // Named by the key prefix, so that CLIENT LIST shows which broker a connection belongs to. A server that accepts
    // the connection but answers nothing (frozen, behind a partition) fails each command after commandTimeout
    // (REDIS_COMMAND_TIMEOUT_MS) rather than holding its request for as long as the freeze lasts.
    const client = new Redis(url, {
      lazyConnect: true,
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeouts.connectMs ?? 5000,
      commandTimeout: timeouts.commandMs ?? 2000,
      connectionName: prefix,
    }) as ScriptedRedis;
    client.defineCommand('flowCreate', { numberOfKeys: 1, lua: FLOW_CREATE });
    client.defineCommand('flowAdvance', { numberOfKeys: 1, lua: FLOW_ADVANCE });
    // Errors are reported to the commands that meet them; without a listener ioredis would also print each one.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      client.disconnect(); // or it keeps trying in the background
      throw new Error(`Redis at REDIS_URL does not answer: ${(err as Error).message}`);
    }
    return new RedisRecords(client, prefix);
  }

  /** The key of one record: prefix, kind, organisation, then the caller's id (which may contain anything). */
  key(kind: 'flow', orgId: string, id: string): string {
    return `${this.prefix}${kind}:${orgId}:${id}`;
  }

  /** Milliseconds Redis keeps a record expiring at `expiresAt` (by this machine's clock, plus the margin). */
  ttlMs(expiresAt: Date): number {
    return Math.max(0, expiresAt.getTime() - Date.now()) + EXPIRY_MARGIN_MS;
  }

  /** Removes every record of one organisation (its deletion): keys are found by SCAN, never KEYS, so a large Redis
   *  is not blocked. Answers how many were removed. */
  async deleteOrganization(orgId: string): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', `${this.prefix}flow:${orgId}:*`, 'COUNT', 500);
      if (keys.length) removed += await this.client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return removed;
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
