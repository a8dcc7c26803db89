// One page of the directory as the console and the API list it: filters and a sort (directory-query.ts) done in SQL,
// keyset pages (or the API's offset pages), each user with the state of their second factor (TOTP state, passkeys:
// two more queries per page). Counting is what gets slow in a large directory, so only the first page of the
// unfiltered list counts (the org's index range, once); a filtered list never counts unless asked (the API's `skip`):
// its page says whether there is more.
import type { TenantStore } from '../store/store.ts';
import { encodeCursor, isFiltered, type DirectoryQuery } from './directory-query.ts';
import { twoFactorState } from './user-admin.ts';

export async function directoryPage(
  store: TenantStore,
  query: DirectoryQuery & { take: number; skip?: number; count?: boolean },
  now: Date,
) {
  const firstPage = query.after === undefined && query.before === undefined && !query.skip;
  const [page, total] = await Promise.all([
    store.users.browse(query, now),
    query.count ? store.users.countMatching(query, now) : firstPage && !isFiltered(query) ? store.users.count() : null,
  ]);
  const ids = page.users.map((u) => u.user.id);
  const [factorRows, passkeys] = await Promise.all([store.users.twoFactorRows(ids), store.users.withPasskeys(ids)]);
  const factors = new Map(factorRows.map((f) => [f.userId, f]));
  const first = page.users[0],
    last = page.users[page.users.length - 1];
  return {
    query,
    users: page.users.map(({ user }) => ({
      ...user,
      twoFactor: twoFactorState(factors.get(user.id), now),
      passkeys: passkeys.has(user.id),
    })),
    /** cursors for the next and previous page, null at either end */
    next: page.hasNext && last ? encodeCursor(last.cursor) : null,
    previous: page.hasPrevious && first && !query.skip ? encodeCursor(first.cursor) : null,
    /** users in the organisation: on the first page of the unfiltered list only (or matching, when counted), null otherwise */
    total,
  };
}
