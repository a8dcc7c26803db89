// `policy show|set|2fa`: an app's login policy. `2fa on|off` is the guides' "Enable 2-Factor Authentication".
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { saveAppPolicy, setAppTwoFactor } from '../../policy/app-policy.ts';
import { storedRules } from '../../policy/rules.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const policyUsage = `
  policy show --org <slug> --app <id|entityId>
  policy set --org <slug> --app <id|entityId> --file rules.json
  policy 2fa on|off --org <slug> --app <id|entityId> [--remember-days N]`;

export async function policyCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      org: { type: 'string' },
      app: { type: 'string' },
      file: { type: 'string' },
      'remember-days': { type: 'string' },
    },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (!values.app) throw new UsageError('--app <id or entity ID> is required');
  const app =
    (await tenant.store.applications.findById(values.app)) ??
    (await tenant.store.applications.findByEntityId(values.app));
  if (!app) throw new UsageError(`no app "${values.app}" in ${tenant.org.slug}`);
  const by = { actor: 'cli', at: ctx.clock.now() };
  if (sub === 'show') {
    console.log(JSON.stringify(storedRules(app.policy), null, 2));
    return 0;
  }
  if (sub === 'set') {
    if (!values.file) throw new UsageError('--file rules.json is required');
    const { rules } = await saveAppPolicy(tenant.store, app, JSON.parse(readFileSync(values.file, 'utf8')), by);
    console.log(`Saved ${rules.length} rule(s) for ${app.name}.`);
    return 0;
  }
  if (sub === '2fa') {
    const on = positionals[0] === 'on' ? true : positionals[0] === 'off' ? false : null;
    if (on === null) throw new UsageError('policy 2fa on|off');
    const days = values['remember-days'] ? Number(values['remember-days']) : 0;
    await setAppTwoFactor(tenant.store, app, { enabled: on, rememberDeviceDays: days }, by);
    console.log(`Two-factor authentication ${on ? 'enabled' : 'disabled'} for ${app.name}.`);
    return 0;
  }
  throw new UsageError(`unknown policy command "${sub ?? ''}"`);
}
