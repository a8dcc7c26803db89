// The messages the broker sends, each with its audit line: `email.sent`, or `email.failed` (outcome failure, code
// email_failed, the SMTP error in details) which is also logged. Nothing here throws into the action that caused the
// message: an admin's invitation or reset, or a user's login, completes whatever the relay does. Messages caused by a
// login go in the background (`inBackground`): the login never waits for the relay.
import type { AppContext } from '../context.ts';
import { logoUrlOf } from '../orgs/hosted/logo.ts';
import { orgBaseUrl } from '../orgs/urls.ts';
import type { Organization } from '../store/organizations.ts';
import type { TenantStore } from '../store/store.ts';
import type { MailBrand, MailMessage, SendResult } from './mailer.ts';

export function mailBrand(ctx: AppContext, org: Organization): MailBrand {
  const logo = logoUrlOf(org);
  // A mail client has no page to resolve a relative address against: the uploaded logo is served from the
  // organisation's own host.
  const logoUrl = logo?.startsWith('/') ? `${orgBaseUrl(ctx.config, org.slug)}${logo}` : logo;
  return { name: org.name, primaryColor: org.primaryColor, accentColor: org.accentColor, logoUrl: logoUrl ?? null };
}

/** Sends and audits one message; answers what happened, never throws. */
export async function deliver(
  ctx: AppContext,
  store: TenantStore,
  message: MailMessage,
  audit: { userId?: string; actor?: string },
): Promise<SendResult> {
  const log = ctx.mailer.log;
  const result = await ctx.mailer.send(message);
  const at = ctx.clock.now();
  if (!result.sent) log.warn({ template: message.template, error: result.error }, 'e-mail could not be sent');
  await store.audit
    .record({
      type: result.sent ? 'email.sent' : 'email.failed',
      ...(result.sent ? {} : { outcome: 'failure' as const, code: 'email_failed' }),
      ...audit,
      at,
      details: {
        template: message.template,
        to: message.to,
        ...(result.sent ? { messageId: result.messageId } : { error: result.error }),
      },
    })
    .catch((err: unknown) => log.warn({ err }, 'the audit line of an e-mail could not be written'));
  return result;
}

/** Starts `deliver` and returns at once; its outcome is audited and logged. A message given as a function is also
 *  composed in the background (when composing it reads the store). */
export function inBackground(
  ctx: AppContext,
  store: TenantStore,
  message: MailMessage | (() => Promise<MailMessage>),
  audit: { userId?: string; actor?: string },
): void {
  (async () => deliver(ctx, store, typeof message === 'function' ? await message() : message, audit))().catch(
    (err: unknown) => ctx.mailer.log.warn({ err }, 'e-mail could not be sent'),
  );
}

/** An admin invitation: the same one-time link the console shows. Awaited by the console, which says whether it went. */
export function inviteMessage(
  ctx: AppContext,
  org: Organization,
  invite: { email: string; role: string; expiresAt: Date; invitedBy: string },
  link: string,
): MailMessage {
  return {
    to: invite.email,
    template: 'admin-invite',
    brand: mailBrand(ctx, org),
    subject: `You are invited to administer ${org.name}`,
    data: {
      orgName: org.name,
      role: invite.role,
      invitedBy: invite.invitedBy,
      link,
      expiresAt: `${invite.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    },
  };
}

/** To the user whose second factor an admin or the helpdesk removed: if they did not ask for it, they should say so. */
export function mfaResetMessage(
  ctx: AppContext,
  org: Organization,
  user: { email: string; firstName: string | null },
  at: Date,
): MailMessage {
  return {
    to: user.email,
    template: 'mfa-reset',
    brand: mailBrand(ctx, org),
    subject: `Your second factor for ${org.name} was reset`,
    data: {
      orgName: org.name,
      firstName: user.firstName,
      at: `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      loginUrl: `${orgBaseUrl(ctx.config, org.slug)}/login`,
    },
  };
}

/** A sign-in from a browser the broker did not know for this user (see docs/email.md for what counts as new). */
export function newDeviceMessage(
  ctx: AppContext,
  org: Organization,
  user: { email: string; firstName: string | null },
  signIn: { at: Date; appName: string; idpName: string | null; browser: string | null },
): MailMessage {
  return {
    to: user.email,
    template: 'new-device',
    brand: mailBrand(ctx, org),
    subject: `New sign-in to ${signIn.appName} (${org.name})`,
    data: {
      orgName: org.name,
      firstName: user.firstName,
      at: `${signIn.at.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      appName: signIn.appName,
      idpName: signIn.idpName,
      browser: signIn.browser,
    },
  };
}
