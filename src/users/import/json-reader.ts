// JSON reader: the file is one array of user objects. It is scanned as a stream, one array item at a time
// (JSON.parse on each item's text), so memory stays flat however long the array is, and each item's line
// number is known for the report.
import { StringDecoder } from 'node:string_decoder';
import { columnFor, knownColumnsText } from './columns.ts';
import { fileError, type ReaderLimits, type SourceRow } from './rows.ts';

type State = 'start' | 'beforeItem' | 'inItem' | 'afterArray';

/** Yields the array's items as rows, a chunk's worth at a time. */
export async function* readJson(chunks: AsyncIterable<Buffer>, limits: ReaderLimits): AsyncGenerator<SourceRow[]> {
  const decoder = new StringDecoder('utf8');
  let state: State = 'start';
  let line = 1;
  let itemLine = 1;
  let parts: string[] = [];
  let partsLength = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let first = true;
  const bad = (what: string) =>
    fileError('import_bad_file', `The JSON file cannot be read at line ${line}: ${what}`, line);

  function item(text: string): SourceRow {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw fileError(
        'import_bad_file',
        `The JSON file cannot be read: the item starting at line ${itemLine} is not valid JSON (${(err as Error).message}).`,
        itemLine,
      );
    }
    const row: SourceRow = { line: itemLine, values: {}, problems: [] };
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      row.problems.push({
        line: itemLine,
        column: null,
        reason: 'each item of the array must be an object of user fields',
      });
    } else {
      for (const [key, v] of Object.entries(value)) {
        const column = columnFor(key);
        if (column) row.values[column] = v as SourceRow['values'][typeof column];
        else if (v !== null && v !== '')
          row.problems.push({
            line: itemLine,
            column: key,
            reason: `unknown column "${key}" (known columns: ${knownColumnsText})`,
          });
      }
    }
    return row;
  }

  const scan = (text: string): SourceRow[] => {
    const out: SourceRow[] = [];
    let start = 0; // where the current item's text begins in `text`
    for (let i = first && text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) line++;
      if (state === 'inItem') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c)
            escaped = true; // backslash
          else if (c === 0x22) inString = false;
          continue;
        }
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b)
          depth++; // { [
        else if ((c === 0x7d || c === 0x5d) && depth > 0)
          depth--; // } ]
        else if ((c === 0x2c && depth === 0) || c === 0x5d) {
          // , or the array's closing ]
          parts.push(text.slice(start, i));
          const itemText = parts.join('');
          parts = [];
          partsLength = 0;
          if (itemText.trim()) out.push(item(itemText));
          else if (c === 0x2c) throw bad('an empty item (two commas in a row?)');
          state = c === 0x2c ? 'beforeItem' : 'afterArray';
        }
        continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (state === 'start') {
        if (c !== 0x5b)
          throw bad('a JSON import must be an array of user objects, e.g. [{"email": "ann@example.com"}].');
        state = 'beforeItem';
      } else if (state === 'beforeItem') {
        if (c === 0x5d) {
          state = 'afterArray';
          continue;
        } // [] or a trailing comma
        state = 'inItem';
        itemLine = line;
        start = i;
        depth = 0;
        i--; // let the item scanner see this character
      } else {
        throw bad('unexpected text after the end of the array.');
      }
    }
    if (text.length) first = false;
    if (state === 'inItem') {
      parts.push(text.slice(start));
      partsLength += text.length - start;
      if (partsLength > limits.maxRecordChars)
        throw fileError(
          'import_bad_file',
          `The item starting at line ${itemLine} is longer than ${limits.maxRecordChars} characters.`,
          itemLine,
        );
    }
    return out;
  };

  for await (const chunk of chunks) {
    const rows = scan(decoder.write(chunk));
    if (rows.length) yield rows;
  }
  const rows = scan(decoder.end());
  if (rows.length) yield rows;
  if (state === 'start') throw bad('the file is empty; a JSON import must be an array of user objects.');
  if (state !== 'afterArray') throw bad('the file ends before the array is closed with "]".');
}
