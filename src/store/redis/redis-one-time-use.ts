// One-time-use records in Redis (REDIS_URL): the same contract as the database's (one-time-use.ts), one atomic
// script per attempt (redis-records.ts). Kinds are the code's own names; the value after them may contain anything.
import type { OneTimeUseStore } from '../one-time-use.ts';
import type { RedisRecords } from './redis-records.ts';

export class RedisOneTimeUseRepository implements OneTimeUseStore {
  constructor(private readonly redis: RedisRecords, private readonly orgId: string) {}

  async consume(kind: string, value: string, expiresAt: Date, now: Date): Promise<boolean> {
    if (kind.includes(':')) throw new Error(`one-time-use kinds are plain names: ${kind}`);
    const key = this.redis.key('once', this.orgId, `${kind}:${value}`);
    return (await this.redis.client.consumeOnce(key, expiresAt.getTime(), now.getTime(), this.redis.ttlMs(expiresAt))) === 1;
  }
}
