// Stage `idp_selected`: the app's primary IdP; else the organisation's only IdP; else the user chooses. A hint
// (the `idp` parameter: an IdP id or entity ID) may preselect one, but only among this organisation's enabled IdPs.
import type { Tenant } from '../plugins/tenant.ts';
import type { Application } from '../store/applications.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import { AppError } from '../errors.ts';

export type IdpChoice = { idp: IdentityProvider } | { choices: IdentityProvider[] };

export async function selectIdp(tenant: Tenant, app: Application, hint?: string): Promise<IdpChoice> {
  const enabled = await tenant.store.identityProviders.list({ enabledOnly: true });
  if (!enabled.length) throw new AppError(503, 'no_identity_provider', `${tenant.org.name} has no identity provider configured yet. Ask your administrator.`);
  if (hint) {
    const hinted = enabled.find((i) => i.id === hint || i.entityId === hint);
    if (hinted) return { idp: hinted };
  }
  const primary = app.primaryIdpId ? enabled.find((i) => i.id === app.primaryIdpId) : undefined;
  if (primary) return { idp: primary };
  if (enabled.length === 1) return { idp: enabled[0] };
  return { choices: enabled };
}
