// Passkeys and security keys (WebAuthn credentials) of one organisation's users. A credential ID is unique within
// the organisation; every read and write names the organisation, and the user where the caller acts for one.
import type { Db } from './engine/database.ts';

export type WebAuthnCredentialRow = Awaited<ReturnType<Db['webAuthnCredential']['findUniqueOrThrow']>>;

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

export interface NewCredential {
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  name: string;
}

export class WebAuthnCredentialRepository {
  constructor(
    private readonly db: Db,
    private readonly orgId: string,
  ) {}

  list(userId: string) {
    return this.db.webAuthnCredential.findMany({ where: { orgId: this.orgId, userId }, orderBy: { createdAt: 'asc' } });
  }
  count(userId: string) {
    return this.db.webAuthnCredential.count({ where: { orgId: this.orgId, userId } });
  }
  findByCredentialId(credentialId: string) {
    return this.db.webAuthnCredential.findFirst({ where: { orgId: this.orgId, credentialId } });
  }
  /** The new row, or null when this credential ID is already registered in the organisation. */
  async create(c: NewCredential): Promise<WebAuthnCredentialRow | null> {
    try {
      return await this.db.webAuthnCredential.create({
        data: { ...c, transports: JSON.stringify(c.transports), orgId: this.orgId },
      });
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }
  /** After a verified assertion: the counter only moves forward (compare-and-set), so two nodes verifying the same
   *  counter value cannot both succeed. False when another request got there first. */
  async used(
    id: string,
    counter: number,
    previous: number,
    flags: { deviceType: string; backedUp: boolean },
    at: Date,
  ): Promise<boolean> {
    const where = { id, orgId: this.orgId, ...(counter > 0 && { counter: previous }) };
    return (
      (await this.db.webAuthnCredential.updateMany({ where, data: { counter, ...flags, lastUsedAt: at } })).count === 1
    );
  }
  flagCounterWentBack(id: string, at: Date) {
    return this.db.webAuthnCredential.updateMany({ where: { id, orgId: this.orgId }, data: { counterWentBackAt: at } });
  }
  async rename(userId: string, id: string, name: string): Promise<boolean> {
    return (
      (await this.db.webAuthnCredential.updateMany({ where: { id, userId, orgId: this.orgId }, data: { name } }))
        .count === 1
    );
  }
  async remove(userId: string, id: string): Promise<boolean> {
    return (await this.db.webAuthnCredential.deleteMany({ where: { id, userId, orgId: this.orgId } })).count === 1;
  }
  async removeAll(userId: string) {
    return (await this.db.webAuthnCredential.deleteMany({ where: { userId, orgId: this.orgId } })).count;
  }
}
