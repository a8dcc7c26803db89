// Adding, changing, switching off and removing an organisation's upstream identity providers, each change audited.
// The console and the API call these; validation of the registration itself is saveIdentityProvider's.
import { AppError, ValidationError } from '../../errors.ts';
import type { IdentityProvider, IdentityProviderInput } from '../../store/identity-providers.ts';
import type { Store, TenantStore } from '../../store/store.ts';
import { removeIdpProvisioning } from '../../scim/groups.ts';
import { checkAttributeMapping } from './idp-registration-input.ts';
import { changedFields, saveIdentityProvider, settingChanges } from './registrations.ts';

/** Who made a change and when, for the audit log. */
export interface IdpChangeBy {
  actor: string;
  at: Date;
}

export type IdpSource = 'metadata_url' | 'metadata_file' | 'manual';

/** Where the registration's values come from: a URL the scheduled refresh re-reads, a one-off document, or typing. */
export const sourceOf = (idp: Pick<IdentityProvider, 'metadataUrl' | 'metadataXml'>): IdpSource =>
  idp.metadataUrl ? 'metadata_url' : idp.metadataXml ? 'metadata_file' : 'manual';

/** The IdP with this id in this organisation; another organisation's id is "not found", never "forbidden". */
export async function findIdp(store: TenantStore, id: string): Promise<IdentityProvider> {
  const idp = await store.identityProviders.findById(id);
  if (!idp) throw new AppError('idp_not_found', 'There is no identity provider with this id in this organisation.');
  return idp;
}

/** What saveIdentityProvider does not check: mapping keys and the default app, which must be this organisation's. */
async function checked(store: TenantStore, input: IdentityProviderInput): Promise<IdentityProviderInput> {
  const attributeMapping = checkAttributeMapping(input.attributeMapping as Record<string, unknown> | undefined);
  if (input.defaultAppId && !(await store.applications.findById(input.defaultAppId)))
    throw new ValidationError({ defaultAppId: 'is not an app of this organisation' });
  return { ...input, ...(attributeMapping !== undefined && { attributeMapping }) };
}

/** Settings that decide whom and what the broker trusts: an update's audit line records their old and new values. */
const TRUST_SETTINGS = [
  'emailDomains',
  'linkingMode',
  'signRequests',
  'acceptUnsignedLogoutResponse',
  'wantResponseSigned',
  'wantAssertionSigned',
  'allowIdpInitiated',
  'allowSha1',
] as const;

/** any-email lets this IdP sign in as any user of the organisation by asserting their email: switching it on gets an
 *  audit line of its own, so it stands out in the log. */
async function auditAnyEmail(
  store: TenantStore,
  idp: IdentityProvider,
  previous: IdentityProvider['linkingMode'] | null,
  by: IdpChangeBy,
) {
  if (idp.linkingMode !== 'any-email' || previous === 'any-email') return;
  await store.audit.record({
    type: 'idp.linking_any_email',
    actor: by.actor,
    idpId: idp.id,
    at: by.at,
    details: { name: idp.name, previous },
  });
}

export async function createIdp(
  store: TenantStore,
  input: IdentityProviderInput,
  by: IdpChangeBy,
): Promise<IdentityProvider> {
  const idp = await saveIdentityProvider(store, await checked(store, input));
  await store.audit.record({
    type: 'idp.created',
    actor: by.actor,
    idpId: idp.id,
    at: by.at,
    details: {
      name: idp.name,
      protocol: idp.protocol,
      entityId: idp.entityId,
      source: sourceOf(idp),
      emailDomains: idp.emailDomains,
      linkingMode: idp.linkingMode,
      signRequests: idp.signRequests,
      acceptUnsignedLogoutResponse: idp.acceptUnsignedLogoutResponse,
    },
  });
  await auditAnyEmail(store, idp, null, by);
  return idp;
}

export async function updateIdp(
  store: TenantStore,
  id: string,
  input: IdentityProviderInput,
  by: IdpChangeBy,
): Promise<IdentityProvider> {
  const before = await findIdp(store, id);
  const idp = await saveIdentityProvider(store, await checked(store, input), id);
  const changed = changedFields(input, before, idp);
  const changes = settingChanges(changed, before, idp, TRUST_SETTINGS);
  if (changed.length)
    await store.audit.record({
      type: 'idp.updated',
      actor: by.actor,
      idpId: id,
      at: by.at,
      details: { changed, ...(Object.keys(changes).length && { changes }) },
    });
  await auditAnyEmail(store, idp, before.linkingMode, by);
  return idp;
}

/** A disabled IdP takes no new logins (the chooser hides it, its responses are refused); sessions it already
 *  started run out normally. */
export async function setIdpEnabled(
  store: TenantStore,
  id: string,
  enabled: boolean,
  by: IdpChangeBy,
): Promise<IdentityProvider> {
  const before = await findIdp(store, id);
  if (before.enabled === enabled) return before;
  const idp = await store.identityProviders.update(id, { enabled });
  await store.audit.record({
    type: enabled ? 'idp.enabled' : 'idp.disabled',
    actor: by.actor,
    idpId: id,
    at: by.at,
    details: { name: idp.name },
  });
  return idp;
}

/** What deleting the IdP touches, for the confirmation step. */
export async function idpDependents(store: TenantStore, id: string) {
  const [apps, linkedUsers, provisionedUsers, scimTokens, scimGroups] = await Promise.all([
    store.applications.list(),
    store.identityProviders.countLinkedUsers(id),
    store.scim.countUsers(id),
    store.scimTokens.countActive(id),
    store.scim.countGroups(id),
  ]);
  return {
    primaryFor: apps.filter((a) => a.primaryIdpId === id).map((a) => ({ id: a.id, name: a.name })),
    linkedUsers,
    provisionedUsers,
    scimTokens,
    scimGroups,
  };
}

/** Deletes the IdP in one transaction: apps that used it as primary go back to the chooser, its identity links go,
 *  and the broker sessions it signed in end (so no app can be reached through an IdP that no longer exists). Its SCIM
 *  provisioning goes with it rather than blocking the deletion (docs/scim.md, "Deleting the identity provider"): its
 *  tokens are deleted and its groups removed; provisioned users stay in the directory like its other users. */
export async function deleteIdp(db: Store, orgId: string, id: string, by: IdpChangeBy): Promise<void> {
  await db.transaction(async (tx) => {
    const store = tx.forOrg(orgId);
    const idp = await findIdp(store, id);
    const { primaryFor } = await idpDependents(store, id);
    for (const app of primaryFor) await store.applications.update(app.id, { primaryIdpId: null });
    const provisioning = await removeIdpProvisioning(store, id);
    const removed = await store.identityProviders.deleteWithDependents(id, by.at);
    await store.audit.record({
      type: 'idp.deleted',
      actor: by.actor,
      idpId: id,
      at: by.at,
      details: {
        name: idp.name,
        entityId: idp.entityId,
        primaryClearedFor: primaryFor,
        identityLinksRemoved: removed.identityLinks,
        sessionsEnded: removed.sessionsEnded,
        ...provisioning,
      },
    });
  });
}
