// An app registration from the app's SP metadata (uploaded, pasted or fetched): the fields the metadata decides.
// Shared by the CLI, the console and the API so an app added one way looks the same as one added another way.
import { ValidationError } from '../../errors.ts';
import type { ApplicationInput } from '../../store/applications.ts';
import { fetchMetadata, parseSpMetadata, type ImportedSp } from './metadata-import.ts';

export function applicationFromSpMetadata(m: ImportedSp): ApplicationInput {
  return {
    entityId: m.entityId,
    acsUrls: m.acsUrls,
    sloUrl: m.sloUrl,
    // An SP that only publishes an encryption key still gets encrypted assertions if the admin asks for them.
    certificate: m.certificate ?? m.encryptionCertificate,
    // Signed requests can only be checked with a signing certificate.
    wantAuthnRequestsSigned: m.wantAuthnRequestsSigned && !!m.certificate,
    signAssertion: m.signAssertion,
  };
}

export type SpMetadataSource = { xml: string; url?: undefined } | { url: string; xml?: undefined };

/** Reads SP metadata from a document or a URL. Problems are reported under `field` (the form or API field the
 *  admin used), so they appear next to what they typed or uploaded. */
export async function spMetadataInput(
  source: SpMetadataSource,
  opts: { allowPrivate: boolean; field: string },
): Promise<ApplicationInput> {
  try {
    const xml = source.xml ?? (await fetchMetadata(source.url!, { allowPrivate: opts.allowPrivate }));
    return applicationFromSpMetadata(parseSpMetadata(xml));
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ValidationError({ [opts.field]: Object.values(err.fields).join('; ') });
    throw err;
  }
}
