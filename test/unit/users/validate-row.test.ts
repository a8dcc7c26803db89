// Row validation: every rejection reason with the column it names, and what a valid row carries.
import t from 'tap';
import type { IdentityProvider } from '../../../src/store/identity-providers.ts';
import type { SourceRow } from '../../../src/users/import/rows.ts';
import { RowValidator } from '../../../src/users/import/validate-row.ts';

const okta = { id: 'idp-okta-id', entityId: 'http://www.okta.com/exk1' } as IdentityProvider;
const wso2 = { id: 'idp-wso2-id', entityId: 'https://wso2.example/oauth2/token' } as IdentityProvider;
let line = 1;
const row = (values: SourceRow['values']): SourceRow => ({ line: ++line, values, problems: [] });
const check = (v: RowValidator, values: SourceRow['values']) => v.check(row(values));

t.test('a valid row: trimmed text, empty cells clear, groups split and de-duplicated, status normalised', async (t) => {
  const r = check(new RowValidator([okta]), {
    email: '  Ann@Example.com ',
    username: 'ann',
    firstName: ' Ann ',
    lastName: '',
    phone: 5551234,
    groups: 'staff; jira |staff||',
    status: 'Disabled',
    idp: 'http://www.okta.com/exk1',
    nameId: '00u1',
  });
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.row, {
    line,
    email: 'Ann@Example.com',
    emailLower: 'ann@example.com',
    set: {
      username: 'ann',
      firstName: 'Ann',
      lastName: null,
      phone: '5551234',
      groups: ['staff', 'jira'],
      status: 'disabled',
    },
    link: { idpId: 'idp-okta-id', nameId: '00u1' },
  });
});

t.test('absent columns are not in `set`; an empty status leaves the stored one alone', async (t) => {
  const r = check(new RowValidator([]), { email: 'a@example.com', status: '' });
  t.ok(r.ok);
  if (r.ok) t.same(r.row.set, {});
});

t.test('every rejection reason names its column', async (t) => {
  const cases: [SourceRow['values'], string, RegExp][] = [
    [{ firstName: 'x' }, 'email', /email is required/],
    [{ email: '' }, 'email', /email is required/],
    [{ email: 'not-an-email' }, 'email', /not a valid email address/],
    [{ email: 'a b@example.com' }, 'email', /not a valid email/],
    [{ email: 'a@localhost' }, 'email', /not a valid email/],
    [{ email: 'a@@example.com' }, 'email', /not a valid email/],
    [{ email: `${'a'.repeat(250)}@example.com` }, 'email', /longer than 254 characters/],
    [{ email: 'a@example.com', username: 'u'.repeat(129) }, 'username', /longer than 128/],
    [{ email: 'a@example.com', firstName: 'f'.repeat(129) }, 'firstName', /longer than 128/],
    [{ email: 'a@example.com', lastName: 'l'.repeat(129) }, 'lastName', /longer than 128/],
    [{ email: 'a@example.com', phone: '1'.repeat(41) }, 'phone', /longer than 40/],
    [{ email: 'a@example.com', groups: `ok|${'g'.repeat(129)}` }, 'groups', /longer than 128/],
    [
      { email: 'a@example.com', groups: Array.from({ length: 101 }, (_, i) => `g${i}`).join('|') },
      'groups',
      /more than 100 groups/,
    ],
    [{ email: 'a@example.com', groups: ['ok', 7] }, 'groups', /list of text values/],
    [{ email: 'a@example.com', groups: ['a|b'] }, 'groups', /cannot contain/],
    [{ email: 'a@example.com', status: 'gone' }, 'status', /must be "active" or "disabled"/],
    [{ email: 'a@example.com', idp: 'http://www.okta.com/exk1' }, 'nameId', /needs both idp and nameId/],
    [{ email: 'a@example.com', nameId: '00u1' }, 'idp', /needs both idp and nameId/],
    [
      { email: 'a@example.com', idp: 'http://unknown.example', nameId: 'x' },
      'idp',
      /unknown identity provider "http:\/\/unknown.example"/,
    ],
    [{ email: 'a@example.com', idp: 'http://www.okta.com/exk1', nameId: 'n'.repeat(513) }, 'nameId', /longer than 512/],
    [{ email: 'a@example.com', firstName: 'nul\u0000' }, 'firstName', /control character/],
    [{ email: 'a@example.com', lastName: 'M\ufffdller' }, 'lastName', /not valid UTF-8/],
    [{ email: 'a@example.com', firstName: { x: 1 } }, 'firstName', /must be text/],
    [{ email: true }, 'email', /must be text/],
  ];
  for (const [values, column, reason] of cases) {
    const r = check(new RowValidator([okta]), values);
    t.notOk(r.ok, JSON.stringify(values).slice(0, 80));
    if (!r.ok) t.match(r.rejections, [{ line, column, reason }], `${column}: ${reason}`);
  }
});

t.test(
  'duplicates inside the file: emails without regard to case, pre-links per IdP; the first one wins',
  async (t) => {
    const v = new RowValidator([okta, wso2]);
    const first = check(v, { email: 'ann@example.com', idp: okta.entityId, nameId: 'same' });
    const firstLine = line;
    t.ok(first.ok);
    const dup = check(v, { email: 'ANN@example.COM' });
    t.match(dup, {
      ok: false,
      rejections: [
        { column: 'email', reason: new RegExp(`line ${firstLine} has the same email`), email: 'ANN@example.COM' },
      ],
    });
    t.match(
      check(v, { email: 'bob@example.com', idp: okta.id, nameId: 'same' }),
      { ok: false, rejections: [{ column: 'nameId', reason: /duplicate inside the file/ }] },
      'IdP named by id is the same IdP',
    );
    t.ok(
      check(v, { email: 'carl@example.com', idp: wso2.entityId, nameId: 'same' }).ok,
      'same NameID at another IdP is fine',
    );
    t.ok(
      v.emails.has('ann@example.com') && v.emails.has('bob@example.com'),
      'every email the file names is remembered',
    );
    t.ok(
      v.check({
        line: firstLine,
        values: { email: 'ann@example.com', idp: okta.entityId, nameId: 'same' },
        problems: [],
      }).ok,
      'checking the same row again (second pass) gives the same answer',
    );
  },
);

t.test('problems found by the reader are kept, with the row email', async (t) => {
  const r = new RowValidator([]).check({
    line: 9,
    values: { email: 'a@example.com' },
    problems: [{ line: 9, column: 'dept', reason: 'unknown column "dept"' }],
  });
  t.same(r, {
    ok: false,
    rejections: [{ line: 9, column: 'dept', reason: 'unknown column "dept"', email: 'a@example.com' }],
  });
});
