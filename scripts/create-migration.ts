// Writes the next migration for both databases: the SQL from prisma/schema.prisma as it was at a git revision (the
// last commit by default) to the schema as it is now, by Prisma's schema engine compiled to WebAssembly (the CLI's
// `migrate dev` needs a native engine this project cannot download). Nothing is read from a database; for PostgreSQL
// the engine opens a connection to SHADOW_DATABASE_URL (default: the local server's postgres database).
// Usage: npm run migration:create -- <name> [--from <git revision>]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { diffSchemas, migrationsDir } from '../src/store/engine/migrations.ts';
import { schemaFor } from './schema-for.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string', default: 'HEAD' } },
});
const name = (positionals[0] ?? '').replace(/[^a-z0-9_]/gi, '_');
if (!name) throw new Error('usage: npm run migration:create -- <name> [--from <git revision>]');
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);

const current = readFileSync('prisma/schema.prisma', 'utf8');
let previous: string | null;
try {
  previous = execFileSync('git', ['show', `${values.from}:prisma/schema.prisma`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
} catch {
  previous = null; // no schema at that revision: the first migration
}
if (previous === current) console.log(`prisma/schema.prisma has not changed since ${values.from}.`);

for (const provider of ['sqlite', 'postgresql'] as const) {
  const sql = await diffSchemas(
    provider,
    previous === null ? null : schemaFor(previous, provider),
    schemaFor(current, provider),
  );
  if (!sql.trim() || /empty migration/i.test(sql)) {
    console.log(`${provider}: no changes`);
    continue;
  }
  const dir = join(migrationsDir(provider), `${stamp}_${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'migration.sql'), sql);
  writeFileSync(join(migrationsDir(provider), 'migration_lock.toml'), `provider = "${provider}"\n`);
  console.log(`${provider}: wrote ${dir}`);
}
