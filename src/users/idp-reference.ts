// How admins name one of the organisation's upstream IdPs when they link an identity (import files, API, console,
// CLI): by entity ID (what the IdP's metadata says), by id, or by its display name when exactly one IdP has it.
// The list passed in is always one organisation's, so another organisation's IdP is simply unknown.
import type { IdentityProvider } from '../store/identity-providers.ts';

export type IdpReference = { ok: true; idp: IdentityProvider } | { ok: false; reason: string };

/** Indexes the IdPs once (an import resolves a reference per row). */
export function idpResolver(idps: readonly IdentityProvider[]): (reference: string) => IdpReference {
  const byKey = new Map<string, IdentityProvider>();
  // Entity IDs win over ids if both would match (an entity ID is what admins see and what exports write).
  for (const idp of idps) byKey.set(idp.id, idp);
  for (const idp of idps) byKey.set(idp.entityId, idp);
  const byName = new Map<string, IdentityProvider[]>();
  for (const idp of idps) byName.set(idp.name, [...(byName.get(idp.name) ?? []), idp]);
  return (reference) => {
    const key = reference.trim();
    const found = byKey.get(key);
    if (found) return { ok: true, idp: found };
    const named = byName.get(key) ?? [];
    if (named.length === 1) return { ok: true, idp: named[0] };
    const shown = key.slice(0, 200);
    if (named.length > 1)
      return { ok: false, reason: `several identity providers are named "${shown}": name it by its entity ID` };
    return {
      ok: false,
      reason: `unknown identity provider "${shown}": name one of this organisation's IdPs by its name or entity ID`,
    };
  };
}
