// Applies the committed migrations (prisma/migrations/<provider>/*/migration.sql) with Prisma's own schema
// engine compiled to WebAssembly. Why not the Prisma CLI: it downloads a native engine from Prisma's binary
// host, which production hosts that reach only the npm registry cannot do. The engine records each migration
// in Prisma's `_prisma_migrations` table, so a host with the native CLI sees the same history.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { PROJECT_ROOT } from '../../project-root.ts';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine, MigrationList } from '@prisma/schema-engine-wasm';
import { adapterFactory, type DatabaseTarget, type DbProvider } from './database.ts';

export const migrationsDir = (provider: DbProvider) => join(PROJECT_ROOT, 'prisma/migrations', provider);

type Glue = typeof import('@prisma/schema-engine-wasm/schema_engine_bg');
let wasmReady: Promise<Glue> | undefined;
/** The engine's JavaScript and WebAssembly, loaded on first use only: a start with nothing to migrate (every CLI
 *  command, every server start but the first after an upgrade) never needs them. */
function loadWasm(): Promise<Glue> {
  // The package is a wasm-bindgen "bundler" build: Node cannot import the .wasm, so we instantiate it ourselves.
  wasmReady ??= (async () => {
    const glue = await import('@prisma/schema-engine-wasm/schema_engine_bg');
    const wasmPath = join(
      dirname(createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg')),
      'schema_engine_bg.wasm',
    );
    const module = await WebAssembly.compile(await readFile(wasmPath));
    const instance = new WebAssembly.Instance(module, {
      './schema_engine_bg.js': glue as unknown as WebAssembly.ModuleImports,
    });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
    return glue;
  })();
  return wasmReady;
}

export async function withSchemaEngine<T>(
  target: DatabaseTarget,
  use: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const glue = await loadWasm();
  // The engine opens its own connections (SQLite in EXCLUSIVE locking mode) and does not close them when
  // freed, so we track them and close them here; otherwise the server's own client would find the file locked.
  const inner = await adapterFactory(target, 2);
  const opened: { dispose(): Promise<void> }[] = [];
  const tracking = Object.assign(Object.create(Object.getPrototypeOf(inner)), inner, {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => {
      const a = await inner.connect();
      opened.push(a);
      return a;
    },
    connectToShadowDb: async () => {
      const a = await inner.connectToShadowDb();
      opened.push(a);
      return a;
    },
  });
  const engine: SchemaEngine = await glue.SchemaEngine.new(
    { datamodels: undefined },
    () => {},
    bindMigrationAwareSqlAdapterFactory(tracking),
  );
  try {
    return await use(engine);
  } finally {
    engine.free();
    await Promise.all(opened.map((a) => a.dispose()));
  }
}

export function readMigrations(provider: DbProvider): MigrationList {
  const baseDir = migrationsDir(provider);
  const names = existsSync(baseDir)
    ? readdirSync(baseDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];
  const lockPath = join(baseDir, 'migration_lock.toml');
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: names.map((name) => ({
      path: name,
      migrationFile: {
        path: 'migration.sql',
        content: { tag: 'ok', value: readFileSync(join(baseDir, name, 'migration.sql'), 'utf8') },
      },
    })),
  } as MigrationList;
}

const noFilter = { externalTables: [], externalEnums: [] };

/** Applies every committed migration not yet applied; returns the names it applied. */
export async function migrate(target: DatabaseTarget): Promise<string[]> {
  const migrationsList = readMigrations(target.provider);
  const out = await withSchemaEngine(target, (engine) => engine.applyMigrations({ migrationsList, filters: noFilter }));
  return out.appliedMigrationNames;
}

/** The SQL migration from one schema file's content to another's (from nothing when `from` is null), for `provider`.
 *  Both are datamodels: no database is read (PostgreSQL's engine only opens a connection to SHADOW_DATABASE_URL or
 *  the local server), so it works the same way for both providers. Replaying the committed migrations on a shadow
 *  database instead would need the adapters to serve the engine's shadow-database and introspection queries, which
 *  they do not. */
export async function diffSchemas(provider: DbProvider, from: string | null, to: string): Promise<string> {
  // The engine starts with a connection of the provider's kind, and reads nothing through it for a datamodel diff.
  const target: DatabaseTarget =
    provider === 'sqlite'
      ? { provider, location: ':memory:' }
      : { provider, location: process.env.SHADOW_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' };
  const result = await withSchemaEngine(target, (engine) =>
    engine.diff({
      from:
        from === null ? { tag: 'empty' } : { tag: 'schemaDatamodel', files: [{ path: 'from.prisma', content: from }] },
      to: { tag: 'schemaDatamodel', files: [{ path: 'to.prisma', content: to }] },
      script: true,
      exitCode: null,
      filters: noFilter,
    }),
  );
  return result.stdout ?? '';
}

/** Whether `err` says that the table queried does not exist (and nothing else): PostgreSQL's 42P01, SQLite's
 *  "no such table", as Prisma's driver adapters report them (meta.driverAdapterError.cause). */
export function isMissingTable(err: unknown): boolean {
  const e = err as
    | {
        meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string; originalMessage?: string } } };
        code?: string;
        message?: string;
      }
    | undefined;
  const cause = e?.meta?.driverAdapterError?.cause;
  if (cause)
    return (
      cause.kind === 'TableDoesNotExist' ||
      cause.originalCode === '42P01' ||
      /no such table/i.test(cause.originalMessage ?? '')
    );
  return e?.code === '42P01' || /^no such table|relation "[^"]+" does not exist/i.test(e?.message ?? '');
}

/** Names of committed migrations that the database has not applied yet (all of them on an empty database, that is
 *  one without the migrations table). Any other error (the database cannot be reached, a statement timed out) is
 *  thrown: it says nothing about the migrations. */
export async function pendingMigrations(
  db: { $queryRawUnsafe<T>(sql: string): Promise<T> },
  provider: DbProvider,
): Promise<string[]> {
  const expected = readMigrations(provider).migrationDirectories.map((d) => d.path);
  let applied: Set<string>;
  try {
    const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    applied = new Set(rows.map((r) => r.migration_name));
  } catch (err) {
    if (!isMissingTable(err)) throw err;
    applied = new Set();
  }
  return expected.filter((m) => !applied.has(m));
}
