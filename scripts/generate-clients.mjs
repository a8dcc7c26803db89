// Generates one Prisma client per supported database from prisma/schema.prisma.
// Why a script: a generated Prisma client is bound to one provider, and the Prisma CLI insists on finding its
// native schema-engine binary at start-up even though generation does not use it. That binary cannot be
// downloaded on hosts that reach only the npm registry, so we point the check at /bin/true (see README).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFor } from './schema-for.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = readFileSync(join(root, 'prisma/schema.prisma'), 'utf8');
const outDir = join(root, 'generated');
mkdirSync(outDir, { recursive: true });

for (const provider of ['sqlite', 'postgresql']) {
  const schemaPath = join(outDir, `schema.${provider}.prisma`);
  writeFileSync(schemaPath, schemaFor(source, provider));
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', schemaPath],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || '/bin/true',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
      },
    },
  );
}
console.log('Prisma clients generated for sqlite and postgresql in ./generated');
