// Spreadsheet formula escaping: export escapes, CSV import undoes exactly that, so values survive a round trip.
import t from 'tap';
import { csvField, escapeFormula, unescapeFormula } from '../../../src/users/csv-cells.ts';

t.test('formula-looking values are escaped with one apostrophe; others are untouched', async (t) => {
  t.equal(escapeFormula('=HYPERLINK("http://evil")'), `'=HYPERLINK("http://evil")`);
  t.equal(escapeFormula('+1 555 0100'), "'+1 555 0100");
  t.equal(escapeFormula('-admins'), "'-admins");
  t.equal(escapeFormula('@SUM(A1)'), "'@SUM(A1)");
  t.equal(escapeFormula("'=already"), "''=already");
  t.equal(escapeFormula("O'Brien"), "O'Brien");
  t.equal(escapeFormula("'quoted"), "'quoted");
  t.equal(escapeFormula(''), '');
});

t.test('unescape undoes escape for every value', async (t) => {
  for (const v of ['=1+1', '+1', '-', '@', "'=x", "''+y", "'plain", "O'Brien", 'plain', '', "'", "''"]) {
    t.equal(unescapeFormula(escapeFormula(v)), v, JSON.stringify(v));
  }
  t.equal(unescapeFormula("'plain"), "'plain", 'an apostrophe not before = + - @ stays');
});

t.test('CSV fields are quoted only when needed', async (t) => {
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('two\nlines'), '"two\nlines"');
  t.equal(csvField(' padded '), '" padded "');
  t.equal(csvField('a;b'), 'a;b');
  t.equal(csvField('a;b', ';'), '"a;b"');
});
