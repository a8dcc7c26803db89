// Runs the pysaml2 peers of the interop tests (Debian's python3-pysaml2, an implementation we did not write): one
// JSON object in on stdin, one out on stdout. A refusal by pysaml2 (a non-zero exit) throws with its stderr.
import { spawnSync } from 'node:child_process';

const run =
  (script: string) =>
  <T>(input: object): T => {
    const r = spawnSync('/usr/bin/python3', [new URL(`../interop/${script}`, import.meta.url).pathname], {
      input: JSON.stringify(input),
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`pysaml2 (${script}) refused or failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };

/** pysaml2 as an upstream IdP (see pysaml2_idp.py for the input). */
export const pysaml2Idp = run('pysaml2_idp.py');
/** pysaml2 as a downstream SP, an app of the broker (see pysaml2_sp.py for the input). */
export const pysaml2Sp = run('pysaml2_sp.py');
