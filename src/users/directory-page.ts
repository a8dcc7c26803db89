// One page of the directory as the console and the API list it: keyset pages in email order, each user with the
// state of their second factor (one extra query per page). Counting is what gets slow in a large directory, so
// only the first page of the unfiltered list counts (the org's index range, once); a search never counts: its page
// says whether there is more.
import type { TenantStore } from '../store/store.ts';
import { twoFactorState } from './user-admin.ts';

export interface DirectoryPageInput { search?: string; after?: string; before?: string; take: number }

export async function directoryPage(store: TenantStore, input: DirectoryPageInput, now: Date) {
  const search = input.search?.trim() || undefined;
  const firstPage = input.after === undefined && input.before === undefined;
  const [page, total] = await Promise.all([
    store.users.page({ ...input, search }),
    firstPage && !search ? store.users.count() : null,
  ]);
  const factors = new Map((await store.users.twoFactorRows(page.users.map((u) => u.id))).map((f) => [f.userId, f]));
  return {
    search: search ?? '',
    users: page.users.map((u) => ({ ...u, twoFactor: twoFactorState(factors.get(u.id), now) })),
    /** cursors for the next and previous page, null at either end */
    next: page.hasNext && page.users.length ? page.users[page.users.length - 1].emailLower : null,
    previous: page.hasPrevious && page.users.length ? page.users[0].emailLower : null,
    /** users in the organisation: on the first page of the unfiltered list only, null otherwise */
    total,
  };
}
