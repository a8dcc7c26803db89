// Redis for tests: the machine's server (TEST_REDIS_URL, or the local default), with a fresh key prefix per test so
// that runs never see each other's records; `clear` removes that prefix's keys afterwards.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A skip reason for tests that need a Redis server, under `npm run test:sqlite` (never in CI). */
export const redisSkipped: string | false =
  process.env.TEST_SKIP_REDIS === '1' && process.env.CI !== 'true'
    ? 'needs Redis (skipped by npm run test:sqlite)'
    : false;

export function freshRedisPrefix(): {
  url: string;
  prefix: string;
  env: Record<string, string>;
  keys(): Promise<string[]>;
  clear(): Promise<void>;
} {
  const prefix = `broker-test-${randomBytes(6).toString('hex')}:`;
  const scan = async (work: (client: Redis, keys: string[]) => Promise<unknown>) => {
    const client = new Redis(TEST_REDIS_URL);
    try {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      await work(client, found);
      return found;
    } finally {
      client.disconnect();
    }
  };
  return {
    url: TEST_REDIS_URL,
    prefix,
    env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix },
    keys: () => scan(async () => {}),
    clear: async () => {
      await scan((client, keys) => (keys.length ? client.del(...keys) : Promise.resolve()));
    },
  };
}
