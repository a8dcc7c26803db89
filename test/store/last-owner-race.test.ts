// An organisation always keeps an owner, also when its last two owners are removed or demoted at the same moment:
// both requests run at once (Promise.all, no awaits between them), many times over, on both databases, and each
// time exactly one of them succeeds, the other is refused with admin_last_owner, and exactly one owner remains.
import t from 'tap';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';
import { changeAdminRole, removeAdmin, type Actor } from '../../src/admin/team.ts';
import type { AppError } from '../../src/errors.ts';

const ROUNDS = 12;

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({ provider });
    t.teardown(tc.cleanup);
    const { org, store } = await createOrg(tc.ctx, 'lastowner');
    const db = tc.ctx.store.db;
    const actor = (id: string): Actor => ({ id, email: `${id}@lastowner.example`, role: 'owner' });

    /** Leaves exactly two owners, X and Y (every other admin of the organisation becomes a viewer). */
    async function twoOwners(round: number) {
      await db.admin.updateMany({ where: { orgId: org.id }, data: { role: 'viewer' } });
      const x = await store.admins.create({
        email: `x${round}@lastowner.example`,
        passwordHash: 'unused',
        role: 'owner',
      });
      const y = await store.admins.create({
        email: `y${round}@lastowner.example`,
        passwordHash: 'unused',
        role: 'owner',
      });
      return { x, y };
    }

    const races: Record<string, (x: string, y: string) => [Promise<unknown>, Promise<unknown>]> = {
      'remove X and remove Y': (x, y) => [
        removeAdmin(tc.ctx, store, x, actor(y)),
        removeAdmin(tc.ctx, store, y, actor(x)),
      ],
      'demote X and demote Y': (x, y) => [
        changeAdminRole(tc.ctx, store, x, 'admin', actor(y)),
        changeAdminRole(tc.ctx, store, y, 'viewer', actor(x)),
      ],
      'remove X and demote Y': (x, y) => [
        removeAdmin(tc.ctx, store, x, actor(y)),
        changeAdminRole(tc.ctx, store, y, 'helpdesk', actor(x)),
      ],
    };

    let round = 0;
    for (const [name, race] of Object.entries(races)) {
      t.test(name, async (t) => {
        for (let i = 0; i < ROUNDS; i++, round++) {
          const { x, y } = await twoOwners(round);
          const settled = await Promise.allSettled(race(x.id, y.id));
          const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
          t.equal(refused.length, 1, `round ${i}: exactly one of the two was refused`);
          t.equal(
            (refused[0]?.reason as AppError | undefined)?.code,
            'admin_last_owner',
            `round ${i}: refused as the last owner`,
          );
          const owners = await db.admin.findMany({ where: { orgId: org.id, role: 'owner' } });
          t.equal(owners.length, 1, `round ${i}: exactly one owner remains`);
          t.ok([x.id, y.id].includes(owners[0]?.id ?? ''), `round ${i}: it is X or Y`);
        }
      });
    }

    t.test('the audit log records only the change that happened', async (t) => {
      const { x, y } = await twoOwners(round++);
      const before = await db.auditEvent.count({ where: { orgId: org.id, type: 'admin.removed' } });
      await Promise.allSettled([
        removeAdmin(tc.ctx, store, x.id, actor(y.id)),
        removeAdmin(tc.ctx, store, y.id, actor(x.id)),
      ]);
      t.equal(await db.auditEvent.count({ where: { orgId: org.id, type: 'admin.removed' } }), before + 1);
    });

    t.test('another organisation is not held up by the lock, and its last owner is protected too', async (t) => {
      const other = await createOrg(tc.ctx, 'otherorg');
      const [owner] = await other.store.admins.list();
      const refused = await removeAdmin(tc.ctx, other.store, owner.id, actor(owner.id)).catch((err: AppError) => err);
      t.equal((refused as AppError).code, 'admin_last_owner');
      const missing = await removeAdmin(tc.ctx, other.store, (await store.admins.list())[0].id, actor(owner.id)).catch(
        (err: AppError) => err,
      );
      t.equal((missing as AppError).code, 'admin_not_found', 'an admin of another organisation is not found here');
    });
  });
}
