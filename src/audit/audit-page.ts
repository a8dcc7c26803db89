// One page of the audit log for the console and the API: newest first, keyset pages (older/newer), with user
// emails and app and IdP names looked up for the events on the page (one query each, not one per event).
import type { AuditQuery } from '../store/audit.ts';
import type { TenantStore } from '../store/store.ts';
import { decodeCursor, encodeCursor } from './audit-filters.ts';

export async function auditPage(
  store: TenantStore,
  query: AuditQuery,
  paging: { before?: string; after?: string; take: number },
) {
  const cursor = decodeCursor(paging.before, 'older') ?? decodeCursor(paging.after, 'newer');
  const take = Math.max(1, Math.min(paging.take, 500));
  const rows = await store.audit.list({ ...query, cursor, take: take + 1 });
  const more = rows.length > take;
  // Reading newer events comes back newest first: the extra row is then the newest one, not the oldest.
  const events =
    cursor?.direction === 'newer' ? rows.slice(rows.length - Math.min(rows.length, take)) : rows.slice(0, take);
  const names = await namesFor(store, events);
  return {
    events: events.map((e) => ({
      ...e,
      userEmail: e.userId ? (names.users.get(e.userId) ?? null) : null,
      appName: e.appId ? (names.apps.get(e.appId) ?? null) : null,
      idpName: e.idpId ? (names.idps.get(e.idpId) ?? null) : null,
    })),
    /** cursors: older events (next page) and newer events (previous page), null at either end */
    older: events.length && (cursor?.direction === 'newer' || more) ? encodeCursor(events[events.length - 1]) : null,
    newer:
      events.length && (cursor?.direction === 'older' || (cursor?.direction === 'newer' && more))
        ? encodeCursor(events[0])
        : null,
  };
}

/** Names for ids: users of the page only; apps and IdPs are few per organisation. */
export async function namesFor(store: TenantStore, events: { userId: string | null }[]) {
  const [users, apps, idps] = await Promise.all([
    store.users.emailsByIds(events.flatMap((e) => (e.userId ? [e.userId] : []))),
    store.applications.list(),
    store.identityProviders.list(),
  ]);
  return { users, apps: new Map(apps.map((a) => [a.id, a.name])), idps: new Map(idps.map((i) => [i.id, i.name])) };
}
