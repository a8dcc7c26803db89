// The folder the broker runs from: the nearest one above this file that holds package.json. Source files sit at
// src/<module>/ in development and at dist/src/<module>/ in the built image, so templates and migrations are found
// from here, never by a fixed number of "../" from a file.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
