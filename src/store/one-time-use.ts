// One-time-use records shared by every node through the database: assertion IDs, TOTP time steps, consumed
// tokens. `consume` relies on the primary key: the second insert of the same value fails on any node.
import type { Db } from './database.ts';

export class OneTimeUseRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  /** true the first time (orgId, kind, value) is seen before it expires; false on every later attempt. */
  async consume(kind: string, value: string, expiresAt: Date, now: Date): Promise<boolean> {
    try {
      await this.db.oneTimeUse.create({ data: { orgId: this.orgId, kind, value, expiresAt } });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code !== 'P2002') throw err;
      // An expired record that the purge has not removed yet may be reused; a live one may not.
      const taken = await this.db.oneTimeUse.updateMany({ where: { orgId: this.orgId, kind, value, expiresAt: { lte: now } }, data: { expiresAt } });
      return taken.count === 1;
    }
  }
}

export async function purgeExpiredOneTimeUse(db: Db, now: Date) {
  return (await db.oneTimeUse.deleteMany({ where: { expiresAt: { lt: now } } })).count;
}
