// Per-organisation signing credentials. Private keys are stored sealed (see crypto/sealed-box.ts); this
// repository never sees a plaintext key. Status: next (published, not used) | active | previous (published for a
// grace period) | retired.
import type { Db } from './database.ts';

export type SigningKeyRow = Awaited<ReturnType<Db['signingKey']['findUniqueOrThrow']>>;
export type KeyStatus = 'next' | 'active' | 'previous' | 'retired';

export class SigningKeyRepository {
  constructor(private readonly db: Db, private readonly orgId: string) {}

  create(data: { id?: string; status: KeyStatus; privateKeyEnc: string; certificatePem: string; fingerprint: string; notAfter: Date; activatedAt?: Date }) {
    return this.db.signingKey.create({ data: { ...data, orgId: this.orgId } });
  }
  active() {
    return this.db.signingKey.findFirst({ where: { orgId: this.orgId, status: 'active' }, orderBy: { activatedAt: 'desc' } });
  }
  /** Keys that belong in metadata: active first, then next and previous (rollover). */
  async published() {
    const rows = await this.db.signingKey.findMany({ where: { orgId: this.orgId, status: { in: ['active', 'next', 'previous'] } } });
    const rank: Record<string, number> = { active: 0, next: 1, previous: 2 };
    return rows.sort((a, b) => rank[a.status] - rank[b.status]);
  }
  list() {
    return this.db.signingKey.findMany({ where: { orgId: this.orgId }, orderBy: { createdAt: 'asc' } });
  }
  setStatus(id: string, status: KeyStatus, at: Date) {
    const stamp = status === 'active' ? { activatedAt: at } : status === 'retired' ? { retiredAt: at } : {};
    return this.db.signingKey.update({ where: { id, orgId: this.orgId }, data: { status, ...stamp } });
  }
}
