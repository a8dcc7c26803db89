// `token create|list|revoke`: admin API tokens (the console and /api/tokens offer the same). The CLI acts as the
// operator, who may give a token any role.
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { createApiToken, revokeApiToken, tokenStatus } from '../../admin/api-tokens.ts';
import { AppError } from '../../errors.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const tokenUsage = `
  token create --org <slug> --name <label> [--role viewer|helpdesk|admin|owner] [--expires-days <n>]
                                               (prints the token once; role admin and no expiry by default)
  token list --org <slug>
  token revoke --org <slug> --id <token id>`;

export async function tokenCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      name: { type: 'string' },
      id: { type: 'string' },
      role: { type: 'string' },
      'expires-days': { type: 'string' },
    },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (sub === 'create') {
    const days = values['expires-days'];
    if (days !== undefined && !/^[1-9]\d{0,4}$/.test(days))
      throw new UsageError('--expires-days must be a whole number of days');
    const expiresAt = days ? new Date(ctx.clock.now().getTime() + Number(days) * 86_400_000) : null;
    const { id, token, role } = await createApiToken(tenant.store, ctx.clock, values.name ?? '', 'cli', {
      role: values.role,
      expiresAt,
    });
    console.log(
      `API token ${id} created (role ${role}${expiresAt ? `, expires ${expiresAt.toISOString()}` : ''}). Shown once; store it now:\n\n  ${token}\n\nUse it as: Authorization: Bearer <token>, on ${tenant.urls.base}/api/...`,
    );
    return 0;
  }
  if (sub === 'list') {
    const now = ctx.clock.now();
    for (const t of await tenant.store.apiTokens.list()) {
      const status = tokenStatus(t, now);
      console.log(
        `${t.id}  ${t.prefix}…  ${t.name.padEnd(24)} ${t.role.padEnd(8)} ${status === 'active' ? `last used ${t.lastUsedAt?.toISOString() ?? 'never'}${t.expiresAt ? `, expires ${t.expiresAt.toISOString()}` : ''}` : status}`,
      );
    }
    return 0;
  }
  if (sub === 'revoke') {
    if (!values.id) throw new UsageError('--id is required');
    await revokeApiToken(tenant.store, ctx.clock, values.id, 'cli').catch((err) => {
      throw err instanceof AppError ? new UsageError(`no active token ${values.id}`) : err;
    });
    console.log(`Token ${values.id} revoked.`);
    return 0;
  }
  throw new UsageError(`unknown token command "${sub ?? ''}"`);
}
