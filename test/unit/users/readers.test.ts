// The CSV and JSON readers: encodings, delimiters, quoting, physical line numbers, header problems, broken files.
import t from 'tap';
import { readCsv, detectDelimiter } from '../../../src/users/import/csv-reader.ts';
import { readJson } from '../../../src/users/import/json-reader.ts';
import type { SourceRow } from '../../../src/users/import/rows.ts';

const limits = { maxRecordChars: 64 * 1024 };

/** The text as chunks of `size` bytes, to cross every boundary (multi-byte characters included). */
async function* chunked(text: string | Buffer, size = 1 << 20) {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function all(rows: AsyncIterable<SourceRow[]>) {
  const out: SourceRow[] = [];
  for await (const chunk of rows) out.push(...chunk);
  return out;
}
const csv = (text: string | Buffer, size?: number) => all(readCsv(chunked(text, size), limits));
const json = (text: string, size?: number) => all(readJson(chunked(text, size), limits));

t.test('CSV: BOM, semicolons, quoted fields with line breaks, physical line numbers', async (t) => {
  const text =
    '\uFEFFemail;firstName;lastName\r\n' +
    'ann@example.com;Ann;"Multi\r\nline; with ""quotes"""\r\n' +
    '\r\n' +
    'bob@example.com;"Bob";Builder\r\n' +
    '"carl@example.com";"C\n\nD";x\r\n' +
    'dora@example.com;Dóra;Ünal';
  for (const size of [1 << 20, 7, 1]) {
    const rows = await csv(text, size);
    t.same(
      rows.map((r) => r.line),
      [2, 5, 6, 9],
      `start lines (chunks of ${size})`,
    );
    t.same(rows[0].values, { email: 'ann@example.com', firstName: 'Ann', lastName: 'Multi\r\nline; with "quotes"' });
    t.equal(rows[2].values.firstName, 'C\n\nD');
    t.same(
      rows[3].values,
      { email: 'dora@example.com', firstName: 'Dóra', lastName: 'Ünal' },
      'UTF-8 across chunk boundaries',
    );
    t.ok(rows.every((r) => r.problems.length === 0));
  }
});

t.test('CSV: comma files, LF and lone CR line ends, header names matched loosely', async (t) => {
  const rows = await csv(
    'Email,First Name,last_name,GROUPS\nann@example.com,Ann,Lee,"a;b"\rbob@example.com,Bob,Ray,c|d\n',
  );
  t.same(
    rows.map((r) => [r.line, r.values]),
    [
      [2, { email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', groups: 'a;b' }],
      [3, { email: 'bob@example.com', firstName: 'Bob', lastName: 'Ray', groups: 'c|d' }],
    ],
  );
});

t.test('CSV: delimiter detection looks at the header line only, outside quotes', async (t) => {
  t.equal(detectDelimiter('email;firstName;lastName\na,b,c,d,e'), ';');
  t.equal(detectDelimiter('email,firstName\n;;;;'), ',');
  t.equal(detectDelimiter('"last;name",email,x'), ',');
  t.equal(detectDelimiter('\uFEFFemail'), ',');
});

t.test('CSV: formula escapes from our export are undone, other apostrophes kept', async (t) => {
  const rows = await csv("email,firstName,lastName,phone,username\nann@example.com,'=1+1,''@x,'+1 555,'plain\n");
  t.same(rows[0].values, {
    email: 'ann@example.com',
    firstName: '=1+1',
    lastName: "'@x",
    phone: '+1 555',
    username: "'plain",
  });
});

t.test('CSV: unknown columns reject the rows that use them, naming the column', async (t) => {
  const rows = await csv(
    'email,department,,firstName\nann@example.com,Sales,,Ann\nbob@example.com,,,Bob\ncarl@example.com,,oops,Carl\n',
  );
  t.match(rows[0].problems, [{ line: 2, column: 'department', reason: /unknown column "department"/ }]);
  t.same(rows[1].problems, [], 'an empty cell in an unknown column loses nothing');
  t.match(rows[2].problems, [{ line: 4, column: '#3', reason: /no name in the header/ }]);
  t.equal(rows[0].values.firstName, 'Ann');
});

t.test('CSV: rows with the wrong number of fields', async (t) => {
  const rows = await csv('email,firstName\nann@example.com\nbob@example.com,Bob,extra\ncarl@example.com,Carl,,\n');
  t.match(rows[0].problems, [{ line: 2, column: null, reason: /has 1 fields but the header has 2/ }]);
  t.match(rows[1].problems, [{ line: 3, column: null, reason: /has 3 fields/ }]);
  t.same(rows[2].problems, [], 'trailing empty fields are harmless');
});

t.test('CSV: whole-file problems are errors, not rejections', async (t) => {
  await t.rejects(csv(''), { code: 'import_bad_header', message: /empty/ });
  await t.rejects(csv('firstName,lastName\nAnn,Lee\n'), { code: 'import_bad_header', message: /no "email" column/ });
  await t.rejects(csv('ann@example.com,Ann\n'), { code: 'import_bad_header' }, 'a file without a header');
  await t.rejects(csv('email,Email\nx,y\n'), { code: 'import_bad_header', message: /appears twice/ });
  await t.rejects(csv('email,firstName\nann@example.com,"unterminated\n'), {
    code: 'import_bad_file',
    message: /cannot be read/,
  });
  await t.rejects(all(readCsv(chunked(`email\n"${'x'.repeat(200)}"\n`), { maxRecordChars: 100 })), {
    code: 'import_bad_file',
  });
});

t.test('CSV: invalid UTF-8 reaches validation as U+FFFD (and is rejected there)', async (t) => {
  const latin1 = Buffer.concat([
    Buffer.from('email,lastName\nann@example.com,M'),
    Buffer.from([0xfc]),
    Buffer.from('ller\n'),
  ]);
  const rows = await csv(latin1);
  t.equal(rows[0].values.lastName, 'M\ufffdller');
});

t.test('JSON: an array of objects, streamed, with the line each object starts on', async (t) => {
  const text =
    '\uFEFF[\n  {"email": "ann@example.com", "groups": ["a", "b"], "phone": 5551234},\n' +
    '  {\n    "email": "bob@example.com",\n    "lastName": "Brace } ] , \\" inside"\n  },\n' +
    '  {"email": "dóra@example.com", "firstName": null}\n]\n';
  for (const size of [1 << 20, 5, 1]) {
    const rows = await json(text, size);
    t.same(
      rows.map((r) => r.line),
      [2, 3, 7],
      `lines (chunks of ${size})`,
    );
    t.same(rows[0].values, { email: 'ann@example.com', groups: ['a', 'b'], phone: 5551234 });
    t.equal(rows[1].values.lastName, 'Brace } ] , " inside');
    t.same(rows[2].values, { email: 'dóra@example.com', firstName: null });
  }
  t.same(await json('[]'), []);
});

t.test('JSON: unknown keys and non-objects are row problems; broken JSON is a file error', async (t) => {
  const rows = await json('[{"email":"a@example.com","dept":"x","extra":null},\n"just text",\n[1,2]]');
  t.match(rows[0].problems, [{ line: 1, column: 'dept', reason: /unknown column "dept"/ }]);
  t.equal(rows[0].problems.length, 1, 'a null unknown key loses nothing');
  t.match(rows[1].problems, [{ line: 2, reason: /must be an object/ }]);
  t.match(rows[2].problems, [{ line: 3, reason: /must be an object/ }]);
  await t.rejects(json('{"email":"a@example.com"}'), { code: 'import_bad_file', message: /must be an array/ });
  await t.rejects(json(''), { code: 'import_bad_file', message: /empty/ });
  await t.rejects(json('[{"email":"a@example.com"}'), {
    code: 'import_bad_file',
    message: /not closed|before the array is closed/,
  });
  await t.rejects(json('[{"email": oops}]'), { code: 'import_bad_file', message: /line 1 is not valid JSON/ });
  await t.rejects(json('[{"a":1},,{"b":2}]'), { code: 'import_bad_file', message: /empty item/ });
  await t.rejects(json('[{"a":1}] trailing'), { code: 'import_bad_file', message: /after the end/ });
  await t.rejects(all(readJson(chunked(`[{"email":"${'x'.repeat(300)}"}]`, 16), { maxRecordChars: 100 })), {
    code: 'import_bad_file',
    message: /longer than 100/,
  });
});
