// Binds a login flow to the browser that started it. A flow id alone (in a URL, a form, a log) is not enough to
// continue someone else's login: the browser must also carry the random token whose hash the flow stores.
// SameSite=Lax: the cookie comes back on top-level navigations to our pages, but not on the IdP's cross-site POST
// to the ACS, which is why the ACS only verifies and then redirects the browser to a page that checks the binding.
// Plain values only: the edge (http/) reads the cookie and writes what an outcome asks it to set.
import { timingSafeEqual } from 'node:crypto';
import { sha256 } from '../../crypto/hash.ts';
import { pooledRandomBytes } from '../../crypto/random-ids.ts';
import type { Config } from '../../config/config.ts';

export const BROWSER_COOKIE = 'broker_browser';
export const SESSION_COOKIE = 'broker_session';

export function cookieOptions(config: Config, maxAgeSeconds?: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.publicScheme === 'https',
    ...(maxAgeSeconds !== undefined && { maxAge: maxAgeSeconds }),
  };
}

/** The browser token's hash; `issued` is a new token to set when the browser presented none (or a malformed one). */
export function bindBrowser(token: string | undefined): { hash: string; issued?: string } {
  if (token && /^[A-Za-z0-9_-]{43}$/.test(token)) return { hash: sha256(token) };
  const issued = pooledRandomBytes(32).toString('base64url');
  return { hash: sha256(issued), issued };
}

/** Whether the browser token presented is the one whose hash a flow stores. */
export function sameBrowser(token: string | undefined, expectedHash: string | null): boolean {
  if (!token || !expectedHash) return false;
  const a = Buffer.from(sha256(token), 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
