// An organisation's uploaded logo, shown on every end-user and console page. The type is decided by the file's
// first bytes, never by its name or the browser's content type: only raster formats every browser shows in an
// <img>, and no SVG (it can carry script). Served from the organisation's own host at /branding/logo.
import { createHash } from 'node:crypto';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';

export const MAX_LOGO_BYTES = 512 * 1024;
export const LOGO_PATH = '/branding/logo';

const startsWith = (bytes: Buffer, signature: number[], offset = 0) =>
  signature.every((b, i) => bytes[offset + i] === b);

/** The image's content type from its magic bytes, or null when it is not PNG, JPEG, GIF or WebP. */
export function imageTypeOf(bytes: Buffer): string | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61)
    return 'image/gif';
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8))
    return 'image/webp';
  return null;
}

/** Validates and stores an uploaded logo; a refused file leaves the current logo in place. */
export async function saveLogo(ctx: AppContext, orgId: string, bytes: Buffer | null, actor: string) {
  if (!bytes?.length) throw new ValidationError({ logo: 'choose an image file' });
  if (bytes.length > MAX_LOGO_BYTES) throw new ValidationError({ logo: `must be at most ${MAX_LOGO_BYTES / 1024} KB` });
  const contentType = imageTypeOf(bytes);
  if (!contentType) throw new ValidationError({ logo: 'must be a PNG, JPEG, GIF or WebP image' });
  const org = await ctx.store.organizations.setLogo(orgId, { bytes, contentType });
  await ctx.store.forOrg(orgId).audit.record({
    type: 'organization.logo_changed',
    actor,
    at: ctx.clock.now(),
    details: { contentType, bytes: bytes.length },
  });
  return org;
}

export async function removeLogo(ctx: AppContext, orgId: string, actor: string) {
  const org = await ctx.store.organizations.setLogo(orgId, null);
  await ctx.store.forOrg(orgId).audit.record({ type: 'organization.logo_removed', actor, at: ctx.clock.now() });
  return org;
}

// The organisation cache hands out the same logo Buffer until the logo changes: its ETag is hashed once per Buffer.
const etags = new WeakMap<Buffer, string>();
/** A strong validator for caching: changes exactly when the bytes do. */
export function logoEtag(bytes: Buffer): string {
  let etag = etags.get(bytes);
  if (!etag) {
    etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
    etags.set(bytes, etag);
  }
  return etag;
}

/**
 * The address pages use for the logo: the uploaded one (its URL changes with every save, so browsers holding a
 * cached copy fetch the new one at once), else the logo URL set in the settings, else none.
 */
export function logoUrlOf(org: {
  logoContentType: string | null;
  logoUrl: string | null;
  updatedAt: Date;
}): string | null {
  if (org.logoContentType) return `${LOGO_PATH}?v=${org.updatedAt.getTime().toString(36)}`;
  return org.logoUrl;
}
