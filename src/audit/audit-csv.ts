// The audit log as CSV, with the console's filters, newest first. Streams page by page (keyset on time and id), so
// memory stays flat however long the log is. Every cell is escaped for spreadsheets (details and user-supplied
// values can start with = + - @, see src/users/csv-cells.ts).
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { AuditQuery } from '../store/audit.ts';
import type { TenantStore } from '../store/store.ts';
import { csvField, escapeFormula } from '../users/csv-cells.ts';
import { namesFor } from './audit-page.ts';

export const AUDIT_CSV_COLUMNS = [
  'time',
  'type',
  'outcome',
  'code',
  'actor',
  'user',
  'userId',
  'app',
  'appId',
  'idp',
  'idpId',
  'flowId',
  'details',
];

/** Writes the CSV to `out` (not ended) and returns the number of events written. */
export async function exportAuditCsv(
  store: TenantStore,
  query: AuditQuery,
  out: Writable,
  opts: { pageSize?: number } = {},
): Promise<number> {
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`\ufeff${AUDIT_CSV_COLUMNS.join(',')}\r\n`);
  let cursor: AuditQuery['cursor'];
  let count = 0;
  for (;;) {
    const page = await store.audit.list({ ...query, cursor, take: opts.pageSize ?? 1000 });
    if (!page.length) break;
    const last = page[page.length - 1];
    cursor = { at: last.at, id: last.id, direction: 'older' };
    const names = await namesFor(store, page);
    let text = '';
    for (const e of page) {
      const cells = [
        e.at.toISOString(),
        e.type,
        e.outcome,
        e.code,
        e.actor,
        e.userId && names.users.get(e.userId),
        e.userId,
        e.appId && names.apps.get(e.appId),
        e.appId,
        e.idpId && names.idps.get(e.idpId),
        e.idpId,
        e.flowId,
        Object.keys(e.details).length ? JSON.stringify(e.details) : '',
      ];
      text += cells.map((c) => csvField(escapeFormula(c ?? ''))).join(',') + '\r\n';
    }
    await write(text);
    count += page.length;
  }
  return count;
}
