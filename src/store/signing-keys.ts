// Per-organisation signing credentials. Private keys are stored sealed (see crypto/sealed-box.ts); this
// repository never sees a plaintext key. Status: next (published, not used) | active | previous (published for a
// grace period) | retired.
import type { Db } from './engine/database.ts';

export type SigningKeyRow = Awaited<ReturnType<Db['signingKey']['findUniqueOrThrow']>>;
export type KeyStatus = 'next' | 'active' | 'previous' | 'retired';

export class SigningKeyRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  create(data: {
    id?: string;
    status: KeyStatus;
    privateKeyEnc: string;
    certificatePem: string;
    fingerprint: string;
    notAfter: Date;
    activatedAt?: Date;
  }) {
    return this.db.signingKey.create({ data: { ...data, orgId: this.orgId } });
  }
  active() {
    return this.db.signingKey.findFirst({
      where: { orgId: this.orgId, status: 'active' },
      orderBy: { activatedAt: 'desc' },
    });
  }
  /** Keys that belong in metadata: active first, then next and previous (rollover). */
  async published() {
    const rows = await this.db.signingKey.findMany({
      where: { orgId: this.orgId, status: { in: ['active', 'next', 'previous'] } },
    });
    const rank: Record<string, number> = { active: 0, next: 1, previous: 2 };
    return rows.sort((a, b) => rank[a.status] - rank[b.status]);
  }
  list() {
    return this.db.signingKey.findMany({ where: { orgId: this.orgId }, orderBy: { createdAt: 'asc' } });
  }
  /** Sets (or with null, clears) the promotion date of a next key; false when `id` is not this organisation's next key. */
  async schedulePromotion(id: string, at: Date | null) {
    return (
      (
        await this.db.signingKey.updateMany({
          where: { id, orgId: this.orgId, status: 'next' },
          data: { promoteAt: at },
        })
      ).count === 1
    );
  }
  /** Takes a due promotion exactly once, even when several nodes run the scheduler: the first to clear promoteAt wins. */
  async claimDuePromotion(id: string, now: Date) {
    return (
      (
        await this.db.signingKey.updateMany({
          where: { id, orgId: this.orgId, status: 'next', promoteAt: { lte: now } },
          data: { promoteAt: null },
        })
      ).count === 1
    );
  }
  setStatus(id: string, status: KeyStatus, at: Date) {
    const stamp = status === 'active' ? { activatedAt: at } : status === 'retired' ? { retiredAt: at } : {};
    return this.db.signingKey.update({ where: { id, orgId: this.orgId }, data: { status, ...stamp } });
  }
}

/** Next keys of every organisation whose scheduled promotion date has passed (for the periodic scheduler). */
export function nextKeysDueForPromotion(db: Db, now: Date) {
  return db.signingKey.findMany({
    where: { status: 'next', promoteAt: { lte: now } },
    select: { id: true, orgId: true },
    orderBy: { promoteAt: 'asc' },
  });
}
