// Renders an admin console page: the console layout (navigation, signed-in admin, CSRF token for the sign-out
// form) around a section template. `section` marks the current navigation entry.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { page } from '../../plugins/view.ts';
import { adminOf } from './guard.ts';
import { canUse, roleAllows, type AdminRole } from '../roles.ts';

export type AdminSection =
  'home' | 'organization' | 'idps' | 'apps' | 'users' | 'policies' | 'audit' | 'tokens' | 'admins' | 'security';

/** The navigation: each entry with the role its page needs, so an admin sees only what they can open. */
const NAV: [AdminSection, string, string, AdminRole][] = [
  ['home', '/admin', 'Overview', 'viewer'],
  ['organization', '/admin/organization', 'Organisation & branding', 'viewer'],
  ['idps', '/admin/idps', 'Identity providers', 'viewer'],
  ['apps', '/admin/apps', 'Apps', 'viewer'],
  ['users', '/admin/users', 'Users', 'viewer'],
  ['policies', '/admin/policies', 'Policies', 'viewer'],
  ['audit', '/admin/audit', 'Audit log', 'viewer'],
  ['tokens', '/admin/tokens', 'API tokens', 'admin'],
  ['admins', '/admin/admins', 'Admins', 'owner'],
  ['security', '/admin/security', 'My sign-in', 'viewer'],
];

export function adminPage(
  request: FastifyRequest,
  reply: FastifyReply,
  template: string,
  section: AdminSection,
  data: Record<string, unknown>,
  status = 200,
) {
  const { tenant, session, keptForm } = adminOf(request);
  // A console page's forms send their page's address to the console itself (never to another site): a form that
  // meets an ended session returns there after sign-in (return-after-sign-in.ts). Elsewhere: no referrer at all.
  reply.header('referrer-policy', 'same-origin');
  return page(
    request,
    reply,
    template,
    {
      // A form's input kept when it met an ended session (return-after-sign-in.ts): the layout fills the form again.
      keptForm: keptForm ?? null,
      wide: true,
      section,
      csrf: session.csrfToken,
      admin: session.admin.email,
      role: session.admin.role,
      slug: tenant.org.slug,
      flash: flashOf(request),
      nav: NAV.filter((e) => roleAllows(session.admin.role, e[3])),
      // `it.can('POST', '/admin/apps/' + id + '/delete')`: whether this admin may use that route (roles.ts canUse),
      // so a page leaves out the buttons and forms the server would refuse.
      can: (method: string, path: string) => canUse(request.server.registeredRoutes, session.admin.role, method, path),
      ...data,
    },
    status,
  );
}

/** A one-line confirmation carried across a POST → redirect → GET in the query string (?done=…), from a fixed list. */
const FLASHES: Record<string, string> = {
  saved: 'Saved.',
  created: 'Created.',
  deleted: 'Deleted.',
  disabled: 'Disabled.',
  enabled: 'Enabled.',
  'totp-reset':
    'Two-factor authentication was reset (authenticator app, passkeys, recovery codes, remembered devices). The user enrols again at the next sign-in.',
  'passkey-removed': 'The passkey or security key was removed: it no longer signs in.',
  unlocked: 'The user can try their code again.',
  'signed-out-everywhere':
    "Signed out everywhere: the user's sessions ended and their remembered devices were forgotten.",
  'devices-revoked': 'Remembered devices were revoked.',
  'token-revoked': 'The token was revoked.',
  imported: 'Import started.',
  'role-changed': 'The role was changed.',
  'admin-removed': 'The admin was removed; their console sessions ended.',
  'invite-revoked': 'The invitation was withdrawn.',
  'identity-linked': 'The identity was linked: sign-ins through it reach this user.',
  'identity-unlinked': 'The identity was unlinked.',
  'two-factor-on': '2-factor authentication is now required for this app.',
  'two-factor-off': '2-factor authentication is no longer required for this app.',
  'rule-added': 'The rule was added at the end of the list. Move it up if an earlier rule would match first.',
  'logo-saved': 'The logo was saved. Every page of the organisation shows it now.',
  'logo-removed': 'The logo was removed.',
  'key-created':
    'The next key is published in both metadata documents. Promote it once apps and identity providers have refreshed their copy.',
  'key-promoted': 'The new key signs from now on. The previous key stays in the metadata until you retire it.',
  'keys-retired': 'Previous keys were retired and removed from the metadata.',
  'promotion-scheduled': 'The promotion is scheduled.',
  'promotion-cancelled': 'The scheduled promotion was cancelled.',
  'totp-enrolled': 'Two-factor sign-in is on. You will be asked for a code at your next sign-in.',
  'totp-removed': 'Two-factor sign-in is off.',
  'metadata-refreshed': 'The metadata was fetched again: certificates and endpoints are those it publishes now.',
  'scim-token-revoked': 'The SCIM token was revoked: its client is refused from now on.',
  'scim-token-invalid': 'No token was created: give it a name of 1-100 characters.',
  'metadata-refresh-failed':
    'The metadata could not be refreshed; the previous copy stays in use (the reason is shown below).',
};
function flashOf(request: FastifyRequest): string | null {
  const done = (request.query as Record<string, unknown> | undefined)?.done;
  return typeof done === 'string' ? (FLASHES[done] ?? null) : null;
}
