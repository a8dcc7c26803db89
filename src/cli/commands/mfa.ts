// `mfa status|reset|unlock|devices|revoke-devices`: the admin actions on a user's second factor, until the dashboard.
import { parseArgs } from 'node:util';
import type { AppContext } from '../../context.ts';
import { devicesFor, totpFor } from '../../mfa/for-tenant.ts';
import { deliver, mfaResetMessage } from '../../mail/notify.ts';
import { resetSecondFactor } from '../../mfa/reset-second-factor.ts';
import { UsageError } from '../output.ts';
import { tenantBySlug } from '../resolve-org.ts';

export const mfaUsage = `
  mfa status|reset|unlock|devices|revoke-devices --org <slug> --email <user email> [--device <id>]`;

export async function mfaCommand(argv: string[], ctx: AppContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      email: { type: 'string' },
      device: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const tenant = await tenantBySlug(ctx, values.org);
  if (!values.email) throw new UsageError('--email <user email> is required');
  const user = await tenant.store.users.findByEmail(values.email);
  if (!user) throw new UsageError(`no user "${values.email}" in ${tenant.org.slug}`);
  const totp = totpFor(ctx, tenant.org, tenant.store);
  const devices = devicesFor(ctx, tenant.store);
  const actor = 'cli';
  switch (sub) {
    case 'status': {
      const s = await totp.status(user.id);
      const d = await devices.list(user.id);
      if (values.json) console.log(JSON.stringify({ ...s, rememberedDevices: d.length }, null, 2));
      else
        console.log(
          `${user.email}: second factor ${s.state}${s.lockedUntil && s.lockedUntil > ctx.clock.now() ? `, locked until ${s.lockedUntil.toISOString()}` : ''}, ${s.failedAttempts} recent failures, ${d.length} remembered devices`,
        );
      return 0;
    }
    case 'reset': {
      const removed = await resetSecondFactor(tenant.store, ctx.clock, user.id, actor);
      console.log(
        `Second factor of ${user.email} removed (authenticator app: ${removed.authenticatorApp ?? 'none'}, passkeys: ${removed.passkeys.length}, recovery codes: ${removed.recoveryCodes}); they enrol again at their next login that needs it.`,
      );
      // The CLI exits right after: the message is awaited here (bounded by SMTP_TIMEOUT_MS) rather than sent behind.
      if (ctx.mailer.enabled) {
        const mailed = await deliver(ctx, tenant.store, mfaResetMessage(ctx, tenant.org, user, ctx.clock.now()), {
          userId: user.id,
          actor,
        });
        console.log(
          mailed.sent
            ? `${user.email} was told by e-mail.`
            : `The e-mail to ${user.email} could not be sent: ${mailed.error}`,
        );
      }
      return 0;
    }
    case 'unlock':
      await totp.unlock(user.id, actor);
      console.log(`Second factor of ${user.email} unlocked.`);
      return 0;
    case 'devices':
      for (const d of await devices.list(user.id))
        console.log(`${d.id}  until ${d.expiresAt.toISOString()}  ${d.label ?? ''}`);
      return 0;
    case 'revoke-devices':
      console.log(
        `Revoked ${await devices.revoke(user.id, values.device ?? null, actor)} remembered device(s) of ${user.email}.`,
      );
      return 0;
    default:
      throw new UsageError(`unknown mfa command "${sub ?? ''}"`);
  }
}
