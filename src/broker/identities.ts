// The broker's own SAML identities for one organisation, built from its signing keys: as SP toward upstream IdPs
// and as IdP toward apps. Private keys come from the credential cache (decrypted once per key and process).
import type { AppContext } from '../context.ts';
import type { Tenant } from '../plugins/tenant.ts';
import type { LocalSp } from '../saml/upstream/types.ts';
import type { IdpIdentity } from '../saml/downstream/response.ts';

export async function localSp(ctx: AppContext, tenant: Tenant): Promise<LocalSp> {
  const published = await tenant.store.signingKeys.published();
  const active = published.find((k) => k.status === 'active');
  if (!active) throw new Error(`organisation ${tenant.org.slug} has no active signing key`);
  const opened = published.map((k) => ctx.credentials.open(k));
  const cred = opened.find((c) => c.keyId === active.id)!;
  return {
    entityId: tenant.urls.spEntityId,
    acsUrl: tenant.urls.spAcs,
    signingKeyPem: cred.privateKeyPem,
    certificatePem: cred.certificatePem,
    // An IdP may still encrypt to a key we published for rollover: try every published key.
    decryptionKeys: opened.map((c) => c.privateKeyPem),
  };
}

export async function localIdp(ctx: AppContext, tenant: Tenant): Promise<IdpIdentity> {
  const cred = await ctx.credentials.active(tenant.store);
  return { entityId: tenant.urls.idpEntityId, signingKeyPem: cred.privateKeyPem, certificatePem: cred.certificatePem };
}
