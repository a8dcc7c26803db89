// Export of an organisation's directory as CSV, in the import's own columns, so that importing an export changes
// nothing. Streams page by page (keyset on email), so memory stays flat at any directory size. Cells that a
// spreadsheet would run as formulas are escaped (see csv-cells.ts); import undoes exactly that escaping.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { TenantStore } from '../store/store.ts';
import { csvField, escapeFormula } from './csv-cells.ts';
import { COLUMNS } from './import/columns.ts';

export interface ExportOptions {
  /** start with a UTF-8 byte order mark so Excel reads accents correctly (default true) */
  bom?: boolean;
  pageSize?: number;
}

/** Writes the CSV to `out` (not ended) and returns the number of users written. */
export async function exportUsersCsv(
  store: Pick<TenantStore, 'users' | 'identityProviders'>,
  out: Writable,
  opts: ExportOptions = {},
): Promise<number> {
  const entityIds = new Map((await store.identityProviders.list()).map((i) => [i.id, i.entityId]));
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(`${opts.bom === false ? '' : '\ufeff'}${COLUMNS.join(',')}\r\n`);
  let after: string | undefined;
  let count = 0;
  for (;;) {
    const page = await store.users.pageByEmail({ after, take: opts.pageSize ?? 500 });
    if (!page.length) break;
    after = page[page.length - 1].emailLower;
    let text = '';
    for (const u of page) {
      // One pre-link per row: the oldest. Import only ever adds links, so re-importing never removes the others.
      const link = u.identities[0];
      const cells = [
        u.email,
        u.username,
        u.firstName,
        u.lastName,
        u.phone,
        u.groups.join('|'),
        u.status,
        link ? (entityIds.get(link.idpId) ?? link.idpId) : '',
        link?.nameId,
      ];
      text += cells.map((c) => csvField(escapeFormula(c ?? ''))).join(',') + '\r\n';
    }
    await write(text);
    count += page.length;
  }
  return count;
}
