// Deleting an organisation: every row of it, in every table, in one transaction. Each table that carries an orgId is
// named here; a table added later that is not fails test/store/org-deletion.test.ts, which reads the schema for every
// model with an orgId and counts what is left. Login flows kept in Redis are removed by the caller
// (RedisRecords.deleteOrganization): Redis is not part of the transaction.
import type { Db } from './engine/database.ts';

type Delegate = { deleteMany(args: { where: { orgId: string } }): Promise<{ count: number }> };

/** The tables that carry an orgId, children before the rows they point at. */
export const ORG_TABLES = [
  'scimGroupMember',
  'scimGroup',
  'scimToken',
  'userIdentity',
  'totpFactor',
  'webAuthnCredential',
  'recoveryCode',
  'rememberedDevice',
  'loginFlow',
  'sessionApp',
  'brokerSession',
  'oneTimeUse',
  'adminSession',
  'adminInvite',
  'apiToken',
  'importJob',
  'auditEvent',
  'admin',
  'user',
  'application',
  'identityProvider',
  'signingKey',
] as const;

/** Deletes the organisation and every row of it; answers how many rows each table lost (for the platform audit). */
export async function deleteOrganizationRows(tx: Db, orgId: string): Promise<Record<string, number>> {
  const removed: Record<string, number> = {};
  for (const table of ORG_TABLES) {
    const { count } = await (tx[table] as unknown as Delegate).deleteMany({ where: { orgId } });
    if (count) removed[table] = count;
  }
  removed.organization = (await tx.organization.deleteMany({ where: { id: orgId } })).count;
  return removed;
}
