// What an app's administrator pastes into the app's SAML settings (Jira's "IDP Configuration"): the
// organisation's IdP values, the signing certificate in use, and the app's own launch link.
import type { Tenant } from '../../plugins/tenant.ts';
import type { Application } from '../../store/applications.ts';

export interface AppConnectionDetails {
  idpEntityId: string;
  /** the same endpoint takes both bindings */
  ssoUrlRedirect: string;
  ssoUrlPost: string;
  sloUrl: string;
  metadataUrl: string;
  /** the active signing key's certificate; null only for an organisation without a key (never after creation) */
  certificatePem: string | null;
  /** IdP-initiated start of a login to this app (the guides' "substitute link") */
  launchUrl: string;
}

export async function appConnectionDetails(tenant: Tenant, app: Application): Promise<AppConnectionDetails> {
  const key = await tenant.store.signingKeys.active();
  return {
    idpEntityId: tenant.urls.idpEntityId,
    ssoUrlRedirect: tenant.urls.idpSso,
    ssoUrlPost: tenant.urls.idpSso,
    sloUrl: tenant.urls.idpSlo,
    metadataUrl: tenant.urls.idpMetadata,
    certificatePem: key?.certificatePem ?? null,
    launchUrl: tenant.urls.appLaunch(app.id),
  };
}
