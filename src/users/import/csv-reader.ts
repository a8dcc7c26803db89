// CSV reader: UTF-8 with or without BOM; comma or semicolon, chosen from the header line; quoted fields may hold
// delimiters, quotes ("") and line breaks (LF, CRLF or CR, mixed files too). Line numbers are physical lines: we
// count the line breaks inside each record's quoted fields ourselves, because csv-parse's own `info.lines`
// counts a CRLF inside a quoted field as two lines.
import { Readable, pipeline } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { unescapeFormula } from '../csv-cells.ts';
import { columnFor, knownColumnsText, type Column } from './columns.ts';
import { fileError, type ReaderLimits, type SourceRow } from './rows.ts';

const HEAD_LIMIT = 64 * 1024;

export async function* readCsv(chunks: AsyncIterable<Buffer>, limits: ReaderLimits): AsyncGenerator<SourceRow> {
  // Peek at the start of the file for the header line, then replay it into the parser.
  const input = chunks[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < HEAD_LIMIT) {
    const next = await input.next();
    if (next.done) { ended = true; break; }
    head.push(next.value);
    headBytes += next.value.length;
    if (next.value.includes(0x0a) || next.value.includes(0x0d)) break;
  }
  const delimiter = detectDelimiter(Buffer.concat(head).toString('utf8'));
  const replay = Readable.from((async function* () {
    yield* head;
    if (!ended) for (let n = await input.next(); !n.done; n = await input.next()) yield n.value;
  })());
  const parser = parse({
    bom: true,
    delimiter,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    relax_quotes: true,
    max_record_size: limits.maxRecordChars,
  });
  pipeline(replay, parser, () => {}); // errors surface through the parser's iterator below

  let nextLine = 1;
  let header: { columns: (Column | null)[]; names: string[] } | null = null;
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      const line = nextLine;
      nextLine += 1 + lineBreaks(cells);
      if (!header) {
        header = readHeader(cells, line);
        continue;
      }
      if (cells.every((c) => c.trim() === '')) continue; // blank line
      const row: SourceRow = { line, values: {}, problems: [] };
      const width = header.columns.length;
      const extra = cells.slice(width).some((c) => c.trim() !== '');
      if (cells.length < width || extra) {
        row.problems.push({ line, column: null, reason: `has ${cells.length} fields but the header has ${width} (check the quoting and the delimiter "${delimiter}")` });
      }
      for (let i = 0; i < Math.min(width, cells.length); i++) {
        const value = unescapeFormula(cells[i].trim());
        const column = header.columns[i];
        if (column) row.values[column] = value;
        else if (value !== '') {
          const name = header.names[i];
          row.problems.push({ line, column: name || `#${i + 1}`, reason: name ? `unknown column "${name}" (known columns: ${knownColumnsText})` : `value in column ${i + 1}, which has no name in the header` });
        }
      }
      yield row;
    }
  } catch (err) {
    if ((err as CsvError).code?.startsWith?.('CSV_')) {
      const e = err as CsvError & { lines?: number };
      throw fileError('import_bad_file', `The CSV file cannot be read near line ${e.lines ?? nextLine}: ${e.message}`, e.lines ?? nextLine);
    }
    throw err;
  }
  if (!header) throw fileError('import_bad_header', 'The file is empty: the first line must be a header naming the columns (at least "email").', 1);
}

function readHeader(cells: string[], line: number) {
  const names = cells.map((c) => c.trim());
  const columns = names.map((n) => (n ? columnFor(n) : null));
  columns.forEach((c, i) => {
    const j = c ? columns.indexOf(c) : i;
    if (j !== i) throw fileError('import_bad_header', `Column "${c}" appears twice in the header (fields ${j + 1} and ${i + 1}).`, line);
  });
  if (!columns.includes('email')) {
    throw fileError('import_bad_header', `The first line must be a header naming the columns, and it has no "email" column. Known columns: ${knownColumnsText}.`, line);
  }
  return { columns, names };
}

/** ';' when the header line has more semicolons than commas outside quotes, else ','. */
export function detectDelimiter(text: string): ',' | ';' {
  let commas = 0;
  let semicolons = 0;
  let quoted = false;
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (ch === '\n' || ch === '\r') break;
    else if (ch === ',') commas++;
    else if (ch === ';') semicolons++;
  }
  return semicolons > commas ? ';' : ',';
}

/** Line breaks inside the fields of one record (CRLF counts once); only quoted fields can hold them. */
function lineBreaks(cells: string[]): number {
  let n = 0;
  for (const cell of cells) {
    if (!cell.includes('\n') && !cell.includes('\r')) continue;
    for (let i = 0; i < cell.length; i++) {
      const c = cell.charCodeAt(i);
      if (c === 0x0a) n++;
      else if (c === 0x0d) { n++; if (cell.charCodeAt(i + 1) === 0x0a) i++; }
    }
  }
  return n;
}
