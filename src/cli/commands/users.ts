// `users import|export|list|identities|link|unlink`: the directory from the command line. Import shows a progress bar on stderr and the
// report on stdout (or the whole report as JSON with --json); exit code 0 = every row accepted, 2 = some rows
// were rejected (see the report), 1 = the import failed as a whole.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { AppContext } from '../../context.ts';
import { exportUsersCsv } from '../../users/export-csv.ts';
import { idpResolver } from '../../users/idp-reference.ts';
import type { ImportMode } from '../../users/import/apply-batch.ts';
import { importLiveness, UserImportService } from '../../users/import/import-service.ts';
import type { ImportProgress, ImportReport } from '../../users/import/report.ts';
import type { ImportFormat } from '../../users/import/source.ts';
import { UserAdmin } from '../../users/user-admin.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const usersUsage = `
  users import <file> --org <slug> [--mode create|upsert] [--disable-missing] [--dry-run] [--all-or-nothing]
          [--format csv|json] [--json]      (exit 0: all rows accepted, 2: some rows rejected)
  users export --org <slug> [--out <file>]  (CSV; re-importing it changes nothing)
  users list --org <slug> [--search <prefix>] [--json]
  users identities|link|unlink --org <slug> --email <user> [--idp <name|entity ID|id> --name-id <NameID>] [--json]
          (a user's linked upstream identities; link or unlink one, audited)`;

const SHOWN_REJECTIONS = 100;

export async function usersCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'import') return importCommand(rest, ctx);
  if (sub === 'export') return exportCommand(rest, ctx);
  if (sub === 'list') return listCommand(rest, ctx);
  if (sub === 'identities' || sub === 'link' || sub === 'unlink') return identityCommand(sub, rest, ctx);
  throw new UsageError(`unknown users command "${sub ?? ''}"`);
}

async function importCommand(args: string[], ctx: AppContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      org: { type: 'string' },
      mode: { type: 'string', default: 'create' },
      'disable-missing': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'all-or-nothing': { type: 'boolean' },
      format: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1)
    throw new UsageError('users import needs exactly one file: users import <file> --org <slug>');
  if (values.mode !== 'create' && values.mode !== 'upsert') throw new UsageError('--mode must be create or upsert');
  if (values.format !== undefined && values.format !== 'csv' && values.format !== 'json')
    throw new UsageError('--format must be csv or json');
  const tenant = await tenantBySlug(ctx, values.org);

  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{phase} [{bar}] {percentage}% | {value}/{total} rows | {errors} rejected',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let barStarted = false;
  const onProgress = (p: ImportProgress) => {
    const total = p.rowsTotal ?? Math.max(p.rowsDone, 1);
    const payload = { phase: p.phase.padEnd(10), errors: p.errors };
    if (!barStarted) {
      bar.start(total, p.rowsDone, payload);
      barStarted = true;
    } else {
      bar.setTotal(total);
      bar.update(p.rowsDone, payload);
    }
  };

  const service = new UserImportService(ctx, importLiveness(ctx.config));
  let report: ImportReport;
  try {
    report = await service.run(
      tenant.org.id,
      { path: file },
      {
        mode: values.mode as ImportMode,
        format: values.format as ImportFormat | undefined,
        disableMissing: values['disable-missing'],
        dryRun: values['dry-run'],
        allOrNothing: values['all-or-nothing'],
        actor: 'cli',
        onProgress,
        // on stderr, beside the progress bar: stdout stays the report (or its JSON)
        onNotice: (message) => process.stderr.write(`${barStarted ? '\n' : ''}${message}\n`),
      },
    );
  } finally {
    if (barStarted) bar.stop();
  }

  if (values.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return report.counts.rejected > 0 ? 2 : 0;
}

function printReport(r: ImportReport) {
  const c = r.counts;
  const heading = r.dryRun
    ? 'Dry run (nothing written)'
    : r.written
      ? 'Import finished'
      : 'Import refused: all-or-nothing, and some rows were rejected, so nothing was written';
  console.log(
    `${heading}. Job ${r.jobId}, ${r.rows} rows, mode ${r.mode}${r.disableMissing ? ' + disable missing' : ''}.`,
  );
  console.log(
    `  created ${c.created}  updated ${c.updated}  unchanged ${c.unchanged}  disabled ${c.disabled}  rejected ${c.rejected}`,
  );
  if (r.resumedFrom) console.log(`  (completes the unfinished import ${r.resumedFrom} of the same file)`);
  for (const x of r.rejections.slice(0, SHOWN_REJECTIONS)) {
    console.log(`  line ${x.line}${x.column ? `, ${x.column}` : ''}: ${x.reason}${x.email ? ` (${x.email})` : ''}`);
  }
  if (r.rejections.length > SHOWN_REJECTIONS)
    console.log(`  … and ${r.rejections.length - SHOWN_REJECTIONS} more problems (use --json for all of them)`);
}

async function exportCommand(args: string[], ctx: AppContext): Promise<number> {
  const { values } = parseArgs({ args, options: { org: { type: 'string' }, out: { type: 'string' } } });
  const tenant = await tenantBySlug(ctx, values.org);
  if (!values.out) {
    await exportUsersCsv(tenant.store, process.stdout);
    return 0;
  }
  const out = createWriteStream(values.out);
  const count = await exportUsersCsv(tenant.store, out);
  out.end();
  await once(out, 'finish');
  process.stderr.write(`Exported ${count} users to ${values.out}\n`);
  return 0;
}

async function listCommand(args: string[], ctx: AppContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { org: { type: 'string' }, search: { type: 'string' }, json: { type: 'boolean' } },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  const users = await tenant.store.users.list({ search: values.search, take: 500 });
  if (values.json) console.log(JSON.stringify(users, null, 2));
  else if (!users.length)
    console.log(
      values.search
        ? `No users match "${values.search}".`
        : 'No users yet. Import some with: users import <file> --org <slug>',
    );
  else
    for (const u of users)
      console.log(
        `${u.email.padEnd(40)} ${[u.firstName, u.lastName].filter(Boolean).join(' ').padEnd(30)} ${u.status}`,
      );
  return 0;
}

/** `users identities|link|unlink`: what the user page's "Linked identities" card does, from the command line. */
async function identityCommand(
  sub: 'identities' | 'link' | 'unlink',
  args: string[],
  ctx: AppContext,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      org: { type: 'string' },
      email: { type: 'string' },
      idp: { type: 'string' },
      'name-id': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (!values.email) throw new UsageError('--email <user email> is required');
  const user = await tenant.store.users.findByEmail(values.email);
  if (!user) throw new UsageError(`no user "${values.email}" in ${tenant.org.slug}`);
  const admin = new UserAdmin(ctx, tenant);
  const actor = 'cli';
  if (sub !== 'identities' && (!values.idp || !values['name-id']))
    throw new UsageError(`users ${sub} needs --idp <name, entity ID or id> and --name-id <NameID>`);
  if (sub === 'link') {
    const { identity, created } = await admin.addIdentity(
      user.id,
      { idp: values.idp, nameId: values['name-id'] },
      actor,
    );
    if (values.json) console.log(JSON.stringify(identity, null, 2));
    else
      console.log(
        created
          ? `Linked ${identity.nameId} at ${identity.idpName} to ${user.email}.`
          : `${user.email} already has ${identity.nameId} at ${identity.idpName}; nothing changed.`,
      );
    return 0;
  }
  const identities = await admin.identities(user.id);
  if (sub === 'unlink') {
    const idp = idpResolver(await tenant.store.identityProviders.list())(values.idp!);
    if (!idp.ok) throw new UsageError(idp.reason);
    const link = identities.find((l) => l.idpId === idp.idp.id && l.nameId === values['name-id']);
    if (!link) throw new UsageError(`${user.email} has no identity ${values['name-id']} at ${idp.idp.name}`);
    await admin.unlink(user.id, link.id, actor);
    console.log(`Unlinked ${link.nameId} at ${idp.idp.name} from ${user.email}.`);
    return 0;
  }
  if (values.json) console.log(JSON.stringify(identities, null, 2));
  else if (!identities.length) console.log(`${user.email} has no linked identity.`);
  else
    for (const l of identities)
      console.log(
        `${(l.idpName ?? l.idpId).padEnd(30)} ${l.nameId.padEnd(40)} ${l.source.padEnd(8)} ${l.createdAt.toISOString()}`,
      );
  return 0;
}
