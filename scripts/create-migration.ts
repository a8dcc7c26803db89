// Writes the next migration for both databases from prisma/schema.prisma, using the WASM schema engine
// (the Prisma CLI's `migrate dev` needs a native engine this project cannot download).
// Usage: npm run migration:create -- <name>     (needs the local PostgreSQL server for the postgresql diff)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffToSchema, migrationsDir } from '../src/store/migrations.ts';
import type { DatabaseTarget } from '../src/store/database.ts';

const name = (process.argv[2] ?? '').replace(/[^a-z0-9_]/gi, '_');
if (!name) throw new Error('usage: npm run migration:create -- <name>');
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);

const targets: DatabaseTarget[] = [
  { provider: 'sqlite', location: ':memory:' },
  { provider: 'postgresql', location: process.env.SHADOW_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
];
for (const target of targets) {
  const schemaPath = `generated/schema.${target.provider}.prisma`;
  const sql = await diffToSchema(target, schemaPath, readFileSync(schemaPath, 'utf8'));
  if (!sql.trim() || /empty migration/i.test(sql)) { console.log(`${target.provider}: no changes`); continue; }
  const dir = join(migrationsDir(target.provider), `${stamp}_${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'migration.sql'), sql);
  writeFileSync(join(migrationsDir(target.provider), 'migration_lock.toml'), `provider = "${target.provider}"\n`);
  console.log(`${target.provider}: wrote ${dir}`);
}
