// CSV reader: UTF-8 with or without BOM; comma or semicolon, chosen from the header line; quoted fields may hold
// delimiters, quotes ("") and line breaks (LF, CRLF or CR, mixed files too). Line numbers are physical lines: we
// count the line breaks inside each record's quoted fields ourselves, because csv-parse's own `info.lines`
// counts a CRLF inside a quoted field as two lines.
import { setImmediate as turn } from 'node:timers/promises';
import { finished } from 'node:stream/promises';
import { parse, type CsvError } from 'csv-parse';
import { unescapeFormula } from '../csv-cells.ts';
import { columnFor, knownColumnsText, type Column } from './columns.ts';
import { fileError, type ReaderLimits, type SourceRow } from './rows.ts';

/** Yields the file's data rows, a chunk's worth at a time (one promise per chunk, not per row, keeps GC calm). */
export async function* readCsv(chunks: AsyncIterable<Buffer>, limits: ReaderLimits): AsyncGenerator<SourceRow[]> {
  let parser: Parser | undefined;
  let delimiter = ',';
  const records: string[][] = [];
  let failure: unknown;
  let nextLine = 1;
  let header: Header | null = null;

  const start = (head: Buffer) => {
    delimiter = detectDelimiter(head.toString('utf8', 0, Math.min(head.length, HEAD_LIMIT)));
    const p = parse({
      bom: true,
      delimiter,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      relax_quotes: true,
      max_record_size: limits.maxRecordChars,
    });
    p.on('data', (record: string[]) => records.push(record));
    p.on('error', (err) => {
      failure ??= err;
    });
    return p;
  };
  const rows = (): SourceRow[] => {
    if (failure) throw readable(failure, nextLine);
    const out: SourceRow[] = [];
    for (const cells of records) {
      const line = nextLine;
      nextLine += 1 + lineBreaks(cells);
      if (!header) header = readHeader(cells, line);
      else if (!isBlank(cells)) out.push(toRow(cells, line, header, delimiter));
    }
    records.length = 0;
    return out;
  };

  // The delimiter comes from the header line: the first chunks are held back until it is complete.
  let head: Buffer[] = [];
  let headBytes = 0;
  for await (const input of chunks) {
    let chunk = input;
    if (!parser) {
      head.push(input);
      headBytes += input.length;
      if (!input.includes(0x0a) && !input.includes(0x0d) && headBytes < HEAD_LIMIT) continue;
      chunk = Buffer.concat(head);
      head = [];
      parser = start(chunk);
    }
    parser.write(chunk);
    await turn(); // let the parser emit what this chunk completed
    const out = rows();
    if (out.length) yield out;
  }
  if (!parser && head.length) {
    parser = start(Buffer.concat(head)); // a one-line file without a line break
    parser.write(Buffer.concat(head));
  }
  if (!parser)
    throw fileError(
      'import_bad_header',
      'The file is empty: the first line must be a header naming the columns (at least "email").',
      1,
    );
  parser.end();
  try {
    await finished(parser);
  } catch (err) {
    throw readable(failure ?? err, nextLine);
  }
  const out = rows();
  if (!header)
    throw fileError(
      'import_bad_header',
      'The file is empty: the first line must be a header naming the columns (at least "email").',
      1,
    );
  if (out.length) yield out;
}

type Parser = ReturnType<typeof parse>;
type Header = { columns: (Column | null)[]; names: string[] };
const HEAD_LIMIT = 64 * 1024;

function readable(err: unknown, line: number) {
  if (!(err as CsvError)?.code?.startsWith?.('CSV_')) return err;
  const e = err as CsvError & { lines?: number };
  return fileError(
    'import_bad_file',
    `The CSV file cannot be read near line ${e.lines ?? line}: ${e.message}`,
    e.lines ?? line,
  );
}

function isBlank(cells: string[]) {
  for (const c of cells) if (c.trim() !== '') return false;
  return true;
}

function toRow(cells: string[], line: number, header: Header, delimiter: string): SourceRow {
  const row: SourceRow = { line, values: {}, problems: [] };
  const width = header.columns.length;
  let extra = false;
  for (let i = width; i < cells.length && !extra; i++) extra = cells[i].trim() !== '';
  if (cells.length < width || extra) {
    row.problems.push({
      line,
      column: null,
      reason: `has ${cells.length} fields but the header has ${width} (check the quoting and the delimiter "${delimiter}")`,
    });
  }
  for (let i = 0; i < width && i < cells.length; i++) {
    const value = unescapeFormula(cells[i].trim());
    const column = header.columns[i];
    if (column) row.values[column] = value;
    else if (value !== '') {
      const name = header.names[i];
      row.problems.push({
        line,
        column: name || `#${i + 1}`,
        reason: name
          ? `unknown column "${name}" (known columns: ${knownColumnsText})`
          : `value in field ${i + 1}, whose column has no name in the header`,
      });
    }
  }
  return row;
}

function readHeader(cells: string[], line: number) {
  const names = cells.map((c) => c.trim());
  const columns = names.map((n) => (n ? columnFor(n) : null));
  columns.forEach((c, i) => {
    const j = c ? columns.indexOf(c) : i;
    if (j !== i)
      throw fileError(
        'import_bad_header',
        `Column "${c}" appears twice in the header (fields ${j + 1} and ${i + 1}).`,
        line,
      );
  });
  if (!columns.includes('email')) {
    throw fileError(
      'import_bad_header',
      `The first line must be a header naming the columns, and it has no "email" column. Known columns: ${knownColumnsText}.`,
      line,
    );
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
      else if (c === 0x0d) {
        n++;
        if (cell.charCodeAt(i + 1) === 0x0a) i++;
      }
    }
  }
  return n;
}
