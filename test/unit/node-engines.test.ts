// The Node version is one story: every package the lock file installs accepts the Node that package.json's
// `engines` allows (its lowest major, 20, and whatever runs the tests), so `npm install` prints no EBADENGINE
// warning. A dependency update that needs a newer Node fails here, not as a warning a contributor may miss.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import t from 'tap';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>;
};

t.test('every locked package accepts the lowest Node that engines allows, and the running one', async (t) => {
  const lowest = semver.minVersion(pkg.engines.node)!.version;
  t.equal(lowest, '20.0.0', 'package.json says Node 20 and later');
  const nodes = [semver.coerce(process.version)!.version, '20.19.0'];
  const refusing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
    if (!path || !range) continue;
    for (const v of nodes)
      if (!semver.satisfies(v, range))
        refusing.push(`${path.replace(/^.*node_modules\//, '')} wants node ${range} (not ${v})`);
  }
  t.same(refusing, [], 'no package of the lock file refuses these Node versions');
});
