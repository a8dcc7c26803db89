// The error catalogue (src/errors.ts) is the one list of codes: docs/errors.md is generated from it and must be
// current; every catalogued code is answered somewhere in src/ (no dead codes); every code written as a literal in
// src/ is catalogued (the compiler checks AppError's and SamlError's codes; this also covers plain `code: '…'`
// fields: a health answer, a job's stored error, a policy decision); and an AppError takes its status, its shown
// text and its SAML status for the app from its entry.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  APP_STATUS,
  AppError,
  appStatusOf,
  CATALOGUE,
  entryOf,
  isErrorCode,
  pageTitleOf,
  ValidationError,
  type ErrorCode,
} from '../../src/errors.ts';
import { SamlError } from '../../src/saml/errors.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const codes = Object.keys(CATALOGUE) as ErrorCode[];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}
const CATALOGUE_END = '} as const satisfies Record<string, ErrorEntry>;';
/** src/ as text; of src/errors.ts only what follows the catalogue (its classes use codes too). */
const sources = sourceFiles(join(root, 'src')).map((f) => {
  const text = readFileSync(f, 'utf8');
  const file = relative(root, f);
  return {
    file,
    text: file === join('src', 'errors.ts') ? text.slice(text.indexOf(CATALOGUE_END) + CATALOGUE_END.length) : text,
  };
});

t.test('docs/errors.md is what scripts/generate-error-docs.ts writes from the catalogue', async (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate-error-docs.ts', '--check'], {
    cwd: root,
    encoding: 'utf8',
  });
  t.equal(run.status, 0, run.stderr || 'current');
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  for (const code of codes) t.match(doc, `| \`${code}\` |`, `${code} has its row`);
});

t.test('every catalogued code is used in src/ (outside the catalogue)', async (t) => {
  t.ok(
    sources.find((s) => s.file.endsWith('errors.ts') && s.text.includes('class AppError')),
    "the catalogue's end is found",
  );
  const unused = codes.filter((code) => !sources.some((s) => s.text.includes(`'${code}'`)));
  t.same(unused, [], 'no dead codes: remove them from src/errors.ts, or use them');
});

t.test('every code literal in src/ is catalogued', async (t) => {
  // `code: 'x'` fields, and the first argument of the error constructors and their helpers.
  const patterns = [
    /\bcode: '([a-z][a-z0-9_]*)'/g,
    /new (?:AppError|SamlError)\('([^']*)'/g,
    /\bfileError\('([^']*)'/g,
    /\berr(?:or)?\??\.code === '([^']*)'/g,
  ];
  const unknown: string[] = [];
  let seen = 0;
  for (const { file, text } of sources) {
    for (const pattern of patterns) {
      for (const m of text.matchAll(pattern)) {
        seen++;
        if (!isErrorCode(m[1])) unknown.push(`${file}: ${m[1]}`);
      }
    }
  }
  t.ok(seen > 150, `the patterns find the call sites (${seen})`);
  t.same(unknown, [], 'add these to CATALOGUE in src/errors.ts');
});

t.test('each entry is complete and consistent', async (t) => {
  for (const code of codes) {
    const e = entryOf(code);
    t.match(code, /^[a-z][a-z0-9_]*$/, `${code}: snake_case`);
    t.ok(e.status === null || (e.status >= 400 && e.status <= 599), `${code}: an error status or none`);
    t.ok(e.meaning.length > 10 && e.fix.length > 5, `${code}: says what it means and what to do`);
    if (code.startsWith('saml_')) t.equal(e.status, 400, `${code}: SAML refusals answer 400`);
    if (e.retry) t.equal(e.status, 503, `${code}: "Try again" only for a passing outage`);
  }
  const noPassive = codes.filter((c) => entryOf(c).saml?.sub === 'NoPassive');
  t.same(noPassive, ['mfa_required_passive'], 'NoPassive only where the app asked for no page');
  t.same(APP_STATUS.noPassive, { status: 'Requester', sub: 'NoPassive' }, "NoPassive is the app's side (Requester)");
});

t.test('an AppError takes its status, its shown text and its SAML status from its entry', async (t) => {
  const gone = new AppError('flow_not_found', 'expired');
  t.equal(gone.status, 410);
  t.equal(gone.shownMessage, 'expired', 'the message is shown');
  t.equal(
    new AppError('saml_acs_not_registered', 'removed meanwhile', undefined, 409).status,
    409,
    'an explicit status where one code answers two situations',
  );
  t.equal(new SamlError('saml_expired', 'late').status, 400);
  t.same(new ValidationError({ email: 'is required' }).details, { fields: { email: 'is required' } });
  t.equal(new ValidationError({ email: 'is required' }).status, 400);

  const fault = new AppError('internal_error', 'TypeError: cannot read x of undefined');
  t.equal(fault.status, 500);
  t.equal(fault.shownMessage, CATALOGUE.internal_error.text, "a fault's own message is never shown");
  t.notMatch(fault.shownMessage, /TypeError/);

  t.same(appStatusOf('policy_denied'), { status: 'Responder', sub: 'RequestDenied' });
  t.same(appStatusOf('mfa_required_passive'), { status: 'Requester', sub: 'NoPassive' });
  t.same(appStatusOf('no_identity_provider'), { status: 'Responder', sub: 'NoAvailableIDP' });
  t.same(appStatusOf('saml_expired'), { status: 'Responder', sub: 'AuthnFailed' });
  t.same(
    appStatusOf('a_code_of_an_older_release'),
    APP_STATUS.authnFailed,
    'a failure stored by another release: AuthnFailed',
  );

  t.equal(pageTitleOf('flow_not_found', 410), 'This sign-in has expired', "the entry's own title");
  t.equal(pageTitleOf('forbidden_role', 403), 'Not allowed', 'else one by status');
  t.equal(pageTitleOf('fst_err_validation', 400), 'Something is not right', 'a framework code');
  t.equal(pageTitleOf('service_unavailable', 503), 'Temporarily unavailable');
});
