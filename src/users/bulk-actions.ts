// One action on several users at once (the console's list with check boxes, the API's /api/users/bulk/...): disable,
// or reset the second factor. All or nothing as to whom it concerns: the ids are checked first, and one that is not a
// user of this organisation (unknown, deleted meanwhile, another organisation's) refuses the whole request before
// anything changes. Then each user goes through the single-user action of UserAdmin, so each is changed, audited and
// notified exactly as when done one by one, all in one database transaction (UserAdmin.inOneTransaction): the check
// and every change and audit line commit together, and a failure on any user leaves every user as it was (e-mail
// goes out after the commit). Capped per request, so one click cannot hold the database for long.
import { AppError } from '../errors.ts';
import type { User } from '../store/users.ts';
import type { UserAdmin } from './user-admin.ts';

/** The most users one bulk request may change. */
export const BULK_MAX = 100;

interface BulkAction {
  /** the role the single-user action needs (console and API routes declare the same) */
  role: 'admin' | 'helpdesk';
  /** said on the confirmation page: "Disable 3 users?" */
  verb: string;
  /** whether the action would change this user (a disabled user is not disabled again) */
  applies: (user: User) => boolean;
  run: (users: UserAdmin, id: string, actor: string) => Promise<unknown>;
}

export const BULK_ACTIONS = {
  disable: {
    role: 'admin',
    verb: 'Disable',
    applies: (u) => u.status !== 'disabled',
    run: (users, id, actor) => users.setStatus(id, 'disabled', actor),
  },
  'reset-totp': {
    role: 'helpdesk',
    verb: 'Reset the second factor of',
    applies: () => true,
    run: (users, id, actor) => users.resetTotp(id, actor),
  },
} satisfies Record<string, BulkAction>;
export type BulkActionName = keyof typeof BULK_ACTIONS;

export const isBulkAction = (v: unknown): v is BulkActionName =>
  typeof v === 'string' && Object.hasOwn(BULK_ACTIONS, v);

/** The ids of a request, deduplicated, checked for count and shape (not yet for existence). */
export function bulkIds(raw: unknown): string[] {
  const list = (Array.isArray(raw) ? raw : raw === undefined || raw === null || raw === '' ? [] : [raw]).filter(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  const ids = [...new Set(list)];
  if (!ids.length) throw new AppError('bulk_no_users', 'Select at least one user.');
  if (ids.length > BULK_MAX)
    throw new AppError(
      'bulk_too_many',
      `At most ${BULK_MAX} users can be changed at once; ${ids.length} were selected.`,
      { max: BULK_MAX, selected: ids.length },
    );
  return ids;
}

/** The users the ids name, in the order given; refuses the whole request when any is not a user of this organisation. */
export async function bulkTargets(users: UserAdmin, raw: unknown): Promise<User[]> {
  const ids = bulkIds(raw);
  const found = new Map((await users.findMany(ids)).map((u) => [u.id, u]));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length)
    throw new AppError(
      'bulk_users_not_found',
      `${missing.length} of the selected users ${missing.length === 1 ? 'is' : 'are'} not in this organisation (any more). Nothing was changed.`,
      { ids: missing.slice(0, BULK_MAX).map((id) => id.slice(0, 64)) },
    );
  return ids.map((id) => found.get(id)!);
}

export interface BulkResult {
  action: BulkActionName;
  changed: string[];
  unchanged: string[];
}

/** Runs the action on each user (after `bulkTargets`), all in one transaction: changed and unchanged ids (already in
 *  the state asked for). */
export async function runBulkAction(
  users: UserAdmin,
  action: BulkActionName,
  raw: unknown,
  actor: string,
): Promise<BulkResult> {
  const spec: BulkAction = BULK_ACTIONS[action];
  return users.inOneTransaction(async (tx) => {
    const targets = await bulkTargets(tx, raw);
    const result: BulkResult = { action, changed: [], unchanged: [] };
    for (const user of targets) {
      if (!spec.applies(user)) {
        result.unchanged.push(user.id);
        continue;
      }
      await spec.run(tx, user.id, actor);
      result.changed.push(user.id);
    }
    return result;
  });
}
