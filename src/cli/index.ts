// The operator's CLI: `npm run cli -- <command>`. Uses the same configuration (environment) as the server and
// applies pending migrations first, so it works on a fresh checkout.
import { bootstrap } from '../bootstrap.ts';
import { ConfigError, loadConfig } from '../config/config.ts';
import type { AppContext } from '../context.ts';
import { AppError, ValidationError } from '../errors.ts';
import { orgCommand, orgUsage } from './commands/org.ts';
import { idpCommand, idpUsage } from './commands/idp.ts';
import { appCommand, appUsage } from './commands/app.ts';
import { mfaCommand, mfaUsage } from './commands/mfa.ts';
import { policyCommand, policyUsage } from './commands/policy.ts';
import { usersCommand, usersUsage } from './commands/users.ts';
import { tokenCommand, tokenUsage } from './commands/token.ts';
import { keysCommand, keysUsage } from './commands/keys.ts';
import { adminCommand, adminUsage } from './commands/admin.ts';
import { UsageError } from './output.ts';

type Command = (argv: string[], ctx: AppContext) => Promise<number>;
const commands: Record<string, { run: Command; usage: string }> = {
  org: { run: orgCommand, usage: orgUsage },
  idp: { run: idpCommand, usage: idpUsage },
  app: { run: appCommand, usage: appUsage },
  policy: { run: policyCommand, usage: policyUsage },
  mfa: { run: mfaCommand, usage: mfaUsage },
  users: { run: usersCommand, usage: usersUsage },
  token: { run: tokenCommand, usage: tokenUsage },
  keys: { run: keysCommand, usage: keysUsage },
  admin: { run: adminCommand, usage: adminUsage },
};

function usage() {
  return `Usage: npm run cli -- <command>\n\nCommands:\n  migrate                      apply pending database migrations${Object.values(commands).map((c) => c.usage).join('')}\n`;
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 64;
  }
  if (name !== 'migrate' && !commands[name]) {
    process.stderr.write(`Unknown command "${name}".\n\n${usage()}`);
    return 64;
  }
  const config = loadConfig();
  const { ctx, appliedMigrations, warnings } = await bootstrap(config);
  for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
  try {
    if (name === 'migrate') {
      console.log(appliedMigrations.length ? `Applied: ${appliedMigrations.join(', ')}` : 'Database is up to date.');
      return 0;
    }
    return await commands[name].run(rest, ctx);
  } finally {
    await ctx.store.close();
  }
}

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ValidationError) process.stderr.write(`Error: ${Object.entries(err.fields).map(([f, m]) => `${f} ${m}`).join('; ')}\n`);
    else if (err instanceof AppError || err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) process.stderr.write(`Error: ${err.message}\n`);
    else process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS') ? 64 : 1);
  },
);
