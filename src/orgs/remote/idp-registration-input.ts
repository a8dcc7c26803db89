// An identity provider registration as the console and the API receive it: from the IdP's SAML metadata (a file,
// pasted XML, or a URL fetched here) or typed by hand. Problems are reported under the field the admin used, so they
// appear next to what they typed or uploaded. Validation of the registration itself is saveIdentityProvider's.
import { AppError, ValidationError } from '../../errors.ts';
import { normaliseCertificate } from '../../saml/certificates.ts';
import type { CanonicalField, IdentityProviderInput } from '../../store/identity-providers.ts';
import { fetchMetadata, parseIdpMetadata, readIdpMetadata } from './metadata-import.ts';

/** The profile fields an IdP's attributes can be mapped to (see broker/profile.ts). */
export const MAPPABLE_FIELDS: readonly CanonicalField[] = ['email', 'firstName', 'lastName', 'groups'];

export type IdpMetadataSource =
  { kind: 'document'; xml: string } | { kind: 'url'; url: string; signingCertificate?: string | null };

export interface MetadataOptions {
  allowPrivate: boolean;
  now: Date;
  /** time limit of the fetch (the scheduled refresh's, METADATA_FETCH_TIMEOUT_SECONDS) */
  timeoutMs?: number;
  /** the form or API field the metadata came in: its problems are reported there */
  field: string;
  /** where problems with the metadata signing certificate itself are reported */
  signingCertificateField?: string;
}

/** The registration fields the metadata decides, plus where it came from. A URL's copy is recorded for the
 *  scheduled refresh (metadata-refresh.ts), which treats a null metadataRefreshAt as due and reads the document
 *  the same way (readIdpMetadata). */
export async function idpFromMetadata(
  source: IdpMetadataSource,
  opts: MetadataOptions,
): Promise<IdentityProviderInput> {
  let signingCertificate: string | null = null;
  if (source.kind === 'url' && source.signingCertificate?.trim()) {
    try {
      signingCertificate = normaliseCertificate(source.signingCertificate);
    } catch {
      throw new ValidationError({
        [opts.signingCertificateField ?? 'metadataSigningCertificate']: 'is not an X.509 certificate (PEM or base64)',
      });
    }
  }
  try {
    const xml =
      source.kind === 'document'
        ? source.xml
        : await fetchMetadata(source.url, { allowPrivate: opts.allowPrivate, timeoutMs: opts.timeoutMs });
    // The entity ID read here only names the entity to look for; with a signing certificate, readIdpMetadata then
    // reads everything (that entity included) from the copy the signature covers.
    const { entityId } = parseIdpMetadata(xml);
    const doc = readIdpMetadata(xml, { entityId, signingCertificate });
    if (doc.validUntil && doc.validUntil.getTime() <= opts.now.getTime())
      throw new ValidationError({
        metadata: `expired on ${doc.validUntil.toISOString()} (its validUntil); ask the identity provider for current metadata`,
      });
    // WantAuthnRequestsSigned only says whether the IdP insists on signed requests; false or absent must not switch
    // our signing off (it is on by default, and off only when an admin says the IdP cannot take signed requests).
    const { signRequests: _idpInsists, ...fromDocument } = doc.idp;
    return {
      ...fromDocument,
      metadataXml: xml,
      metadataUrl: source.kind === 'url' ? source.url : null,
      metadataFetchedAt: source.kind === 'url' ? opts.now : null,
      metadataValidUntil: doc.validUntil,
      metadataRefreshAt: null,
      metadataError: null,
      metadataSigningCertificate: signingCertificate,
    };
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ValidationError({ [opts.field]: Object.values(err.fields).join('; ') });
    // A refused metadata signature (SamlError) belongs next to the metadata too.
    if (err instanceof AppError && err.status === 400) throw new ValidationError({ [opts.field]: err.message });
    throw err;
  }
}

/** Certificates pasted into one text box, as IdP consoles show them: PEM blocks one after another, or bare base64
 *  bodies separated by blank lines. Leftover text is kept as an entry, so validation reports it instead of
 *  silently dropping it. */
export function splitCertificates(text: string): string[] {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
  const blocks = text.match(pem) ?? [];
  const rest = text.replace(pem, '\n\n');
  const bare = rest
    .split(/\r?\n\s*\r?\n/)
    .map((b) => b.trim())
    .filter(Boolean);
  return [...blocks, ...bare];
}

/** An attribute mapping may only name the profile fields the broker fills. */
export function checkAttributeMapping(
  mapping: Record<string, unknown> | undefined,
): Partial<Record<CanonicalField, string>> | undefined {
  if (mapping === undefined) return undefined;
  const problems: Record<string, string> = {};
  const out: Partial<Record<CanonicalField, string>> = {};
  for (const [field, attribute] of Object.entries(mapping)) {
    if (!(MAPPABLE_FIELDS as readonly string[]).includes(field))
      problems[`attributeMapping.${field}`] = `is not a profile field; map one of ${MAPPABLE_FIELDS.join(', ')}`;
    else if (typeof attribute !== 'string') problems[`attributeMapping.${field}`] = 'must be an attribute name';
    else if (attribute.trim()) out[field as CanonicalField] = attribute.trim();
  }
  if (Object.keys(problems).length) throw new ValidationError(problems);
  return out;
}
