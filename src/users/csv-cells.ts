// Spreadsheet safety for CSV cells. A cell starting with = + - @ is a formula to Excel, LibreOffice and Sheets
// ("CSV injection"), so we store such values as plain text and, on export, prefix them with an apostrophe, which
// spreadsheets read as "this is text". The scheme is reversible so that export -> import changes nothing:
//   export: a value matching /^'*[=+\-@]/ gets one more leading apostrophe;
//   import (CSV only): a cell matching /^'+[=+\-@]/ loses one leading apostrophe.
// So "=1+1" <-> "'=1+1", and a stored "'=x" <-> "''=x"; any other apostrophe is left alone both ways.
const NEEDS_ESCAPE = /^'*[=+\-@]/;
const ESCAPED = /^'+[=+\-@]/;

export const escapeFormula = (value: string) => (NEEDS_ESCAPE.test(value) ? `'${value}` : value);
export const unescapeFormula = (cell: string) => (ESCAPED.test(cell) ? cell.slice(1) : cell);

/** One CSV field: quoted when it holds the delimiter, a quote, a line break or edge spaces. */
export function csvField(value: string, delimiter = ','): string {
  if (value === '') return '';
  if (value.includes(delimiter) || /["\r\n]/.test(value) || value.trimEnd() !== value || value.trimStart() !== value)
    return `"${value.replace(/"/g, '""')}"`;
  return value;
}
