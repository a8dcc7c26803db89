// Per-organisation API tokens for the admin JSON API. Only a SHA-256 of the token is stored; the token is shown once.
import type { Db } from './engine/database.ts';

export class ApiTokenRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  create(data: {
    name: string;
    tokenHash: string;
    prefix: string;
    role: string;
    expiresAt: Date | null;
    createdBy: string;
  }) {
    return this.db.apiToken.create({ data: { ...data, orgId: this.orgId } });
  }
  /** The token's row only if it belongs to this organisation and is not revoked. */
  findActive(tokenHash: string) {
    return this.db.apiToken.findFirst({ where: { tokenHash, orgId: this.orgId, revokedAt: null } });
  }
  list() {
    return this.db.apiToken.findMany({ where: { orgId: this.orgId }, orderBy: { createdAt: 'asc' } });
  }
  findById(id: string) {
    return this.db.apiToken.findFirst({ where: { id, orgId: this.orgId } });
  }
  touch(id: string, at: Date) {
    return this.db.apiToken.updateMany({ where: { id, orgId: this.orgId }, data: { lastUsedAt: at } });
  }
  async revoke(id: string, at: Date) {
    return (
      (
        await this.db.apiToken.updateMany({
          where: { id, orgId: this.orgId, revokedAt: null },
          data: { revokedAt: at },
        })
      ).count === 1
    );
  }
}

export type ApiTokenRow = Awaited<ReturnType<ApiTokenRepository['list']>>[number];
