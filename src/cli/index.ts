// The operator's CLI: `npm run cli -- <command>`. Uses the same configuration (environment) as the server and
// applies pending migrations first, so it works on a fresh checkout.
import { bootstrap } from '../bootstrap.ts';
import { ConfigError, loadConfig } from '../config/config.ts';
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { UsageError } from './output.ts';

type Command = (argv: string[], ctx: AppContext) => Promise<number>;
type CommandModule = { run: Command; usage: string };
// Each command's module is loaded only when that command runs: a command then loads only what it needs (the user
// import's CSV parser, the TOTP and QR code libraries, ...), which is most of a short command's start-up time.
const commands: Record<string, () => Promise<CommandModule>> = {
  org: async () => {
    const m = await import('./commands/org.ts');
    return { run: m.orgCommand, usage: m.orgUsage };
  },
  idp: async () => {
    const m = await import('./commands/idp.ts');
    return { run: m.idpCommand, usage: m.idpUsage };
  },
  app: async () => {
    const m = await import('./commands/app.ts');
    return { run: m.appCommand, usage: m.appUsage };
  },
  policy: async () => {
    const m = await import('./commands/policy.ts');
    return { run: m.policyCommand, usage: m.policyUsage };
  },
  mfa: async () => {
    const m = await import('./commands/mfa.ts');
    return { run: m.mfaCommand, usage: m.mfaUsage };
  },
  users: async () => {
    const m = await import('./commands/users.ts');
    return { run: m.usersCommand, usage: m.usersUsage };
  },
  token: async () => {
    const m = await import('./commands/token.ts');
    return { run: m.tokenCommand, usage: m.tokenUsage };
  },
  scim: async () => {
    const m = await import('./commands/scim.ts');
    return { run: m.scimCommand, usage: m.scimUsage };
  },
  keys: async () => {
    const m = await import('./commands/keys.ts');
    return { run: m.keysCommand, usage: m.keysUsage };
  },
  admin: async () => {
    const m = await import('./commands/admin.ts');
    return { run: m.adminCommand, usage: m.adminUsage };
  },
  operator: async () => {
    const m = await import('./commands/operator.ts');
    return { run: m.operatorCommand, usage: m.operatorUsage };
  },
};

async function usage() {
  const all = await Promise.all(Object.values(commands).map((load) => load()));
  return `Usage: npm run cli -- <command>\n\nCommands:\n  migrate                      apply pending database migrations${all.map((c) => c.usage).join('')}\n`;
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(await usage());
    return name ? 0 : 64;
  }
  if (name !== 'migrate' && !Object.hasOwn(commands, name)) {
    process.stderr.write(`Unknown command "${name}".\n\n${await usage()}`);
    return 64;
  }
  const config = loadConfig();
  // The command's modules load while the database opens.
  const command = name === 'migrate' ? null : commands[name]();
  command?.catch(() => {}); // a failure is reported where it is awaited
  const { ctx, appliedMigrations, warnings } = await bootstrap(config);
  for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
  try {
    if (name === 'migrate') {
      console.log(appliedMigrations.length ? `Applied: ${appliedMigrations.join(', ')}` : 'Database is up to date.');
      return 0;
    }
    return await (await command!).run(rest, ctx);
  } finally {
    await ctx.store.close();
  }
}

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ValidationError)
      process.stderr.write(
        `Error: ${Object.entries(err.fields)
          .map(([f, m]) => `${f} ${m}`)
          .join('; ')}\n`,
      );
    else if (
      err instanceof AppError ||
      err instanceof UsageError ||
      err instanceof ConfigError ||
      (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')
    )
      process.stderr.write(`Error: ${err.message}\n`);
    else process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS') ? 64 : 1);
  },
);
