// `admin reset`: the break-glass path for an organisation admin locked out of the console (lost password or
// authenticator). Only the operator, who runs the CLI on the deployment, can use it.
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { resetAdminAccess } from '../../admin/admin-recovery.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const adminUsage = `
  admin reset --org <slug> --email <admin email>
                               new one-time password, admin TOTP removed, lockout cleared, console sessions ended`;

export async function adminCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { org: { type: 'string' }, email: { type: 'string' } } });
  if (sub !== 'reset') throw new UsageError(`unknown admin command "${sub ?? ''}"`);
  if (!values.email) throw new UsageError('--email is required');
  const tenant = await tenantBySlug(ctx, values.org);
  const reset = await resetAdminAccess(tenant.store, ctx.clock, values.email, 'cli');
  console.log(
    `Access of ${reset.email} reset. One-time password (to be replaced at the next sign-in):\n\n  ${reset.password}\n\nSign in at ${tenant.urls.admin}`,
  );
  return 0;
}
