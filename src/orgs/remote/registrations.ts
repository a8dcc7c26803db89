// Registering upstream IdPs and downstream apps: one validation path for the CLI, the admin API and the dashboard.
// Everything that arrives here (by hand, from a metadata file or URL) is checked before it is stored.
import { AppError, ValidationError } from '../../errors.ts';
import { normaliseCertificate } from '../../saml/certificates.ts';
import type { TenantStore } from '../../store/store.ts';
import {
  LINKING_MODES,
  type IdentityProvider,
  type IdentityProviderInput,
  type MappingPreset,
} from '../../store/identity-providers.ts';
import type { Application, ApplicationInput, NameIdFormat } from '../../store/applications.ts';
import { MAPPING_PRESETS } from './attribute-presets.ts';
import { domainClashes, normaliseDomainEntry } from './email-domains.ts';

export const RELEASABLE_ATTRIBUTES = ['email', 'firstName', 'lastName', 'groups', 'username'] as const;
const NAMEID_FORMATS: NameIdFormat[] = ['emailAddress', 'persistent', 'unspecified'];

function checkUrl(
  problems: Record<string, string>,
  field: string,
  value: string | null | undefined,
  required: boolean,
) {
  if (!value) {
    if (required) problems[field] = 'is required';
    return;
  }
  try {
    const u = new URL(value);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') problems[field] = 'must be an http(s) URL';
    else if (value.length > 2048) problems[field] = 'is too long';
  } catch {
    problems[field] = 'is not a valid URL';
  }
}

function checkText(problems: Record<string, string>, field: string, value: string | undefined | null, max: number) {
  if (!value || !value.trim()) problems[field] = 'is required';
  else if (value.length > max) problems[field] = `must be at most ${max} characters`;
}

function certificates(
  problems: Record<string, string>,
  field: string,
  list: string[] | undefined,
): string[] | undefined {
  if (list === undefined) return undefined;
  try {
    return [...new Set(list.filter((c) => c.trim()).map(normaliseCertificate))];
  } catch {
    problems[field] = 'contains something that is not an X.509 certificate (PEM or base64)';
    return undefined;
  }
}

/** More than any organisation plausibly owns; keeps the clash check and the stored JSON small. */
export const MAX_EMAIL_DOMAINS = 100;

/** The email domains as stored: each entry in its canonical spelling ("*.x" for x's subdomains), duplicates dropped.
 *  Anything that is not a domain is named in the field error instead of being dropped silently. */
function emailDomains(problems: Record<string, string>, list: unknown): string[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) {
    problems.emailDomains = 'must be a list of domains';
    return undefined;
  }
  const out: string[] = [];
  const invalid: string[] = [];
  for (const entry of list) {
    const domain = typeof entry === 'string' ? normaliseDomainEntry(entry) : null;
    if (domain === null) invalid.push(typeof entry === 'string' ? `"${entry.slice(0, 80)}"` : String(entry));
    else if (!out.includes(domain)) out.push(domain);
  }
  if (invalid.length)
    problems.emailDomains = `contains ${invalid.slice(0, 5).join(', ')}${invalid.length > 5 ? ' and more' : ''}, which ${invalid.length === 1 ? 'is not a domain' : 'are not domains'}; write acme.example, or *.acme.example for its subdomains`;
  else if (out.length > MAX_EMAIL_DOMAINS) problems.emailDomains = `must list at most ${MAX_EMAIL_DOMAINS} domains`;
  return out;
}

/** Two identity providers of one organisation never claim the same address (disabled ones keep their claim): the
 *  409 names the identity provider that holds each domain, so the admin knows where to remove it. */
async function checkDomainsFree(store: TenantStore, domains: string[], selfId: string | undefined) {
  if (!domains.length) return;
  const clashes = domainClashes(domains, await store.identityProviders.list(), selfId);
  if (!clashes.length) return;
  const message = clashes
    .map(
      (c) =>
        `${c.entry} is already claimed by identity provider "${c.idp.name}"${c.theirs === c.entry ? '' : ` (as ${c.theirs})`}`,
    )
    .join('; ');
  throw new AppError('idp_domain_taken', message, {
    field: 'emailDomains',
    clashes: clashes.map((c) => ({ domain: c.entry, idpId: c.idp.id, idpName: c.idp.name, claimedAs: c.theirs })),
  });
}

export async function saveIdentityProvider(
  store: TenantStore,
  input: IdentityProviderInput,
  existingId?: string,
): Promise<IdentityProvider> {
  const problems: Record<string, string> = {};
  const current = existingId ? await store.identityProviders.findById(existingId) : null;
  const merged = { ...current, ...input };
  checkText(problems, 'name', merged.name, 100);
  checkText(problems, 'entityId', merged.entityId, 1024);
  checkUrl(problems, 'ssoUrl', merged.ssoUrl, true);
  checkUrl(problems, 'sloUrl', merged.sloUrl, false);
  checkUrl(problems, 'metadataUrl', merged.metadataUrl, false);
  if (merged.ssoBinding && !['redirect', 'post'].includes(merged.ssoBinding))
    problems.ssoBinding = 'must be redirect or post';
  if (merged.mappingPreset && !MAPPING_PRESETS.includes(merged.mappingPreset as MappingPreset))
    problems.mappingPreset = `must be one of ${MAPPING_PRESETS.join(', ')}`;
  const certs = certificates(problems, 'certificates', input.certificates);
  const isOidc = (merged.protocol ?? 'saml') === 'oidc';
  if (merged.protocol && !['saml', 'oidc'].includes(merged.protocol)) problems.protocol = 'must be saml or oidc';
  // An OpenID Connect IdP's keys come from its JWKS, its endpoints from its discovery document (oidc-registration.ts).
  if (isOidc) {
    checkText(problems, 'oidcClientId', merged.oidcClientId, 512);
    if (!merged.oidcDiscovery) problems.issuer = problems.issuer ?? 'the discovery document is required';
    if (merged.oidcClientAuth !== 'private_key_jwt' && !merged.oidcClientSecret)
      problems.oidcClientSecret = 'is required';
    if (
      !/(^|\s)openid(\s|$)/.test(merged.oidcScopes ?? 'openid') ||
      (merged.oidcScopes ?? '').length > 512 ||
      !/^[\x21-\x7e ]*$/.test(merged.oidcScopes ?? '')
    )
      problems.oidcScopes = 'must be space-separated scopes including openid';
  } else if (!(certs ?? current?.certificates ?? []).length)
    problems.certificates =
      problems.certificates ?? 'at least one signing certificate of the identity provider is required';
  if (merged.wantResponseSigned === false && merged.wantAssertionSigned === false)
    problems.wantAssertionSigned = 'the response or the assertion (or both) must be signed';
  for (const [k, v] of Object.entries(merged.attributeMapping ?? {}))
    if (typeof v !== 'string' || v.length > 512) problems[`attributeMapping.${k}`] = 'must be an attribute name';
  const domains = emailDomains(problems, input.emailDomains);
  if (input.linkingMode !== undefined && !(LINKING_MODES as readonly string[]).includes(input.linkingMode))
    problems.linkingMode = `must be one of ${LINKING_MODES.join(', ')}`;
  if (Object.keys(problems).length) throw new ValidationError(problems);
  if (domains) await checkDomainsFree(store, domains, existingId);
  const data = { ...input, ...(certs && { certificates: certs }), ...(domains && { emailDomains: domains }) };
  try {
    return existingId
      ? await store.identityProviders.update(existingId, data)
      : await store.identityProviders.create(data as Parameters<TenantStore['identityProviders']['create']>[0]);
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002')
      throw new AppError(
        'idp_exists',
        `an identity provider with entity ID "${merged.entityId}" is already registered`,
      );
    throw err;
  }
}

export async function saveApplication(
  store: TenantStore,
  input: ApplicationInput,
  existingId?: string,
): Promise<Application> {
  const problems: Record<string, string> = {};
  const current = existingId ? await store.applications.findById(existingId) : null;
  const merged = { ...current, ...input };
  checkText(problems, 'name', merged.name, 100);
  checkText(problems, 'entityId', merged.entityId, 1024);
  if (!merged.acsUrls?.length) problems.acsUrls = 'at least one assertion consumer service URL is required';
  merged.acsUrls?.forEach((u, i) => checkUrl(problems, `acsUrls.${i}`, u, true));
  checkUrl(problems, 'sloUrl', merged.sloUrl, false);
  if (merged.nameIdFormat && !NAMEID_FORMATS.includes(merged.nameIdFormat))
    problems.nameIdFormat = `must be one of ${NAMEID_FORMATS.join(', ')}`;
  for (const a of merged.attributeRelease ?? [])
    if (!(RELEASABLE_ATTRIBUTES as readonly string[]).includes(a))
      problems.attributeRelease = `unknown attribute "${a}"; choose from ${RELEASABLE_ATTRIBUTES.join(', ')}`;
  let certificate: string | null | undefined = input.certificate;
  if (input.certificate) {
    try {
      certificate = normaliseCertificate(input.certificate);
    } catch {
      problems.certificate = 'is not an X.509 certificate (PEM or base64)';
    }
  }
  // An explicit null clears the stored certificate, so only an absent one falls back to it.
  if (
    (merged.wantAuthnRequestsSigned || merged.encryptAssertion) &&
    !(certificate !== undefined ? certificate : current?.certificate)
  )
    problems.certificate = 'is required to verify signed requests or encrypt assertions';
  if (merged.defaultRelayState && merged.defaultRelayState.length > 1024)
    problems.defaultRelayState = 'must be at most 1024 characters';
  if (merged.primaryIdpId && !(await store.identityProviders.findById(merged.primaryIdpId)))
    problems.primaryIdpId = 'is not an identity provider of this organisation';
  if (Object.keys(problems).length) throw new ValidationError(problems);
  const data = { ...input, ...(certificate !== undefined && { certificate }) };
  try {
    return existingId
      ? await store.applications.update(existingId, data)
      : await store.applications.create(data as Parameters<TenantStore['applications']['create']>[0]);
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002')
      throw new AppError('app_exists', `an application with entity ID "${merged.entityId}" is already registered`);
    throw err;
  }
}

/** The submitted fields whose stored value a save actually changed (what the audit line of an update names). */
export function changedFields<T extends object>(input: object, before: T, after: T): string[] {
  return Object.keys(input).filter((k) => JSON.stringify(before[k as keyof T]) !== JSON.stringify(after[k as keyof T]));
}

/** For the security settings among `changed`, their old and new values: the audit line then says what a trust
 *  decision was changed from and to, not only that it changed. */
export function settingChanges<T extends object>(
  changed: string[],
  before: T,
  after: T,
  settings: readonly (keyof T & string)[],
): Record<string, { from: unknown; to: unknown }> {
  return Object.fromEntries(
    changed
      .filter((k) => (settings as readonly string[]).includes(k))
      .map((k) => [k, { from: before[k as keyof T], to: after[k as keyof T] }]),
  );
}
