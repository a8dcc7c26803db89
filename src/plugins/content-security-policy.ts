// The Content-Security-Policy of an HTML page, built per response. Scripts and the layout's <style> run only with
// this response's nonce; the few places a page must reach another origin say so on the reply before rendering:
// an auto-POST form to an app's ACS or an IdP's SSO URL (form-action), the single-logout frame that visits an app's
// SLO URL (frame-src), and the logout pages that load in our own frames (frame-ancestors 'self'). Everything not
// named here stays refused.
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

interface PageAllowances {
  nonce?: string;
  formTargets: Set<string>;
  frames: Set<string>;
  sameOriginFraming: boolean;
}

const allowances = new WeakMap<FastifyReply, PageAllowances>();

function of(reply: FastifyReply): PageAllowances {
  let a = allowances.get(reply);
  if (!a) allowances.set(reply, (a = { formTargets: new Set(), frames: new Set(), sameOriginFraming: false }));
  return a;
}

/** This response's nonce for <script nonce> and <style nonce>: 128 random bits, made on first use. */
export function cspNonce(reply: FastifyReply): string {
  const a = of(reply);
  return (a.nonce ??= randomBytes(16).toString('base64'));
}

/** The origin of an http(s) URL in the strict form a CSP source may take, or null. A URL comes from stored settings
 *  (an app's ACS URL, a logo URL): anything that could end a directive (`;`, `,`, spaces) or name another scheme
 *  is refused, so the page then fails closed (the browser blocks the request) instead of widening the policy. */
export function cspOrigin(url: string | null | undefined): string | null {
  if (!url) return null;
  let origin: string;
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    origin = u.origin;
  } catch {
    return null;
  }
  return /^https?:\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/.test(origin) ? origin : null;
}

/** This page auto-POSTs a SAML message to `url` (another origin: the app's ACS, the IdP's SSO URL). Browsers apply
 *  form-action to every redirect that follows the POST too (Chromium blocks the whole submission otherwise), and
 *  SAML endpoints often redirect to another host: Atlassian Cloud's ACS hands over to the site, Entra ID's SSO URL
 *  to a federated sign-in page. So such a page allows any https destination besides the target's own origin (which
 *  may be http in development). The page's one form is ours and every value in it is escaped; its script still
 *  runs only with the nonce, and every other page keeps form-action 'self'. */
export function allowFormTarget(reply: FastifyReply, url: string) {
  const origin = cspOrigin(url);
  if (!origin) return;
  of(reply).formTargets.add(origin);
  of(reply).formTargets.add('https:');
}

/** This page loads `url` in a frame (single logout visits each app's SLO URL in a hidden frame). */
export function allowFrame(reply: FastifyReply, url: string | null | undefined) {
  const origin = cspOrigin(url);
  if (origin) of(reply).frames.add(origin);
}

/** This response may be shown in a frame of our own pages (the single-logout hops), and only there. */
export function allowSameOriginFraming(reply: FastifyReply) {
  of(reply).sameOriginFraming = true;
  reply.header('x-frame-options', 'SAMEORIGIN');
}

/** The directives of an HTML page; `logoUrl` is the organisation's logo when it lives elsewhere (an https URL). */
export function pageDirectives(reply: FastifyReply, logoUrl: string | null): Record<string, string[]> {
  const a = allowances.get(reply);
  const nonce = a?.nonce ? [`'nonce-${a.nonce}'`] : [];
  const logo = cspOrigin(logoUrl);
  return {
    'default-src': ["'self'"],
    // No 'self' either: every script of ours is inline and carries the nonce, so no file can be slipped in.
    'script-src': nonce.length ? nonce : ["'none'"],
    'style-src': ["'self'", ...nonce],
    // style="" attributes cannot run script and their values are escaped like all template values; allowing them
    // keeps the templates' layout tweaks (and other pages' markup) working without a class for each.
    'style-src-attr': ["'unsafe-inline'"],
    // QR codes are data: URLs; an uploaded logo is served from /branding/logo, a logo URL from its own origin.
    'img-src': ["'self'", 'data:', ...(logo ? [logo] : [])],
    'form-action': ["'self'", ...(a?.formTargets ?? [])],
    'frame-src': ["'self'", ...(a?.frames ?? [])],
    'frame-ancestors': [a?.sameOriginFraming ? "'self'" : "'none'"],
    'base-uri': ["'none'"],
    'object-src': ["'none'"],
  };
}

/** Every response that is not a page (JSON, XML, images, redirects): nothing may load, frame or post from it. */
export const BASELINE_DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
};
