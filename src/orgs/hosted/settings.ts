// Changing an organisation's branding and behaviour, validated field by field. The slug is not among them: it is
// the organisation's address and its entity IDs, and it never changes.
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import type { BrandingUpdate, SettingsUpdate } from '../../store/organizations.ts';
import { WEBAUTHN_COUNTER_POLICIES } from '../../mfa/webauthn-service.ts';

const COLOR = /^#[0-9a-f]{6}$/i;

export async function updateOrganizationSettings(
  ctx: AppContext,
  orgId: string,
  input: BrandingUpdate & SettingsUpdate,
  actor: string,
) {
  const problems: Record<string, string> = {};
  if (input.name !== undefined && (!input.name.trim() || input.name.length > 100))
    problems.name = 'must be 1-100 characters';
  if (input.primaryColor !== undefined && !COLOR.test(input.primaryColor))
    problems.primaryColor = 'must be a colour like #1f4fd1';
  if (input.accentColor !== undefined && !COLOR.test(input.accentColor))
    problems.accentColor = 'must be a colour like #0f172a';
  if (input.logoUrl) {
    try {
      if (new URL(input.logoUrl).protocol !== 'https:' && !input.logoUrl.startsWith('data:image/'))
        problems.logoUrl = 'must be an https URL or an image data URL';
    } catch {
      problems.logoUrl = 'is not a URL';
    }
    if (input.logoUrl.length > 200_000) problems.logoUrl = 'is too large';
  }
  if (input.loginMessage && input.loginMessage.length > 1000) problems.loginMessage = 'must be at most 1000 characters';
  if (input.loginMessage !== undefined && input.loginMessage !== null && typeof input.loginMessage !== 'string')
    problems.loginMessage = 'must be text';
  if (input.jitProvisioning !== undefined && typeof input.jitProvisioning !== 'boolean')
    problems.jitProvisioning = 'must be on or off';
  if (input.requireAdminTotp !== undefined && typeof input.requireAdminTotp !== 'boolean')
    problems.requireAdminTotp = 'must be on or off';
  if (input.notifyNewDevice !== undefined && typeof input.notifyNewDevice !== 'boolean')
    problems.notifyNewDevice = 'must be on or off';
  if (
    input.webauthnCounterPolicy !== undefined &&
    !(WEBAUTHN_COUNTER_POLICIES as readonly unknown[]).includes(input.webauthnCounterPolicy)
  )
    problems.webauthnCounterPolicy = 'must be refuse or allow-flagged';
  if (input.totpDigits !== undefined && ![6, 8].includes(input.totpDigits)) problems.totpDigits = 'must be 6 or 8';
  if (
    input.totpPeriod !== undefined &&
    (!Number.isInteger(input.totpPeriod) || input.totpPeriod < 15 || input.totpPeriod > 120)
  )
    problems.totpPeriod = 'must be 15-120 seconds';
  if (input.totpAlgorithm !== undefined && !['SHA1', 'SHA256', 'SHA512'].includes(input.totpAlgorithm))
    problems.totpAlgorithm = 'must be SHA1, SHA256 or SHA512';
  if (
    input.sessionTtlSeconds !== undefined &&
    (!Number.isInteger(input.sessionTtlSeconds) || input.sessionTtlSeconds < 60 || input.sessionTtlSeconds > 30 * 86400)
  )
    problems.sessionTtlSeconds = 'must be 60 s to 30 days';
  if (Object.keys(problems).length) throw new ValidationError(problems);
  const before = await ctx.store.organizations.findById(orgId);
  const updated = await ctx.store.organizations.update(orgId, input);
  const changes = changedSettings(
    before as unknown as Record<string, unknown> | null,
    input as Record<string, unknown>,
  );
  // A save that changes nothing (the form posted back as it was) is not an event.
  if (Object.keys(changes).length) {
    await ctx.store.forOrg(orgId).audit.record({
      type: 'organization.settings_changed',
      actor,
      at: ctx.clock.now(),
      details: { fields: Object.keys(changes), changes },
    });
  }
  return updated;
}

/** Fields whose value differs, each with its value before and after. A logo is large (an image data URL): the audit
 *  says that it changed, not what it was. */
function changedSettings(
  before: Record<string, unknown> | null,
  input: Record<string, unknown>,
): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const [field, to] of Object.entries(input)) {
    if (to === undefined) continue;
    const from = before?.[field] ?? null;
    if (from === (to ?? null)) continue;
    changes[field] =
      field === 'logoUrl'
        ? { from: from ? '(an image)' : null, to: to ? '(an image)' : null }
        : { from, to: to ?? null };
  }
  return changes;
}
