// When a new broker session ends: after the organisation's session lifetime, and never after the upstream IdP's
// SessionNotOnOrAfter (SAML core 2.7.2: the IdP's limit on the session it started at the SP). Apps opened later in
// the same browser then go back to the IdP, which decides again.
import type { UpstreamResult } from './stages.ts';

export function sessionExpiry(
  now: Date,
  sessionTtlSeconds: number,
  upstream: Pick<UpstreamResult, 'sessionNotOnOrAfter'>,
): Date {
  const byTtl = now.getTime() + sessionTtlSeconds * 1000;
  const byIdp = upstream.sessionNotOnOrAfter ? Date.parse(upstream.sessionNotOnOrAfter) : Number.NaN;
  return new Date(Number.isNaN(byIdp) ? byTtl : Math.min(byTtl, byIdp));
}
