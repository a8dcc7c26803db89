// The OASIS SAML 2.0 metadata schema, from Debian's opensaml-schemas package (installed by .ci/run), with the
// W3C schemas it imports taken from python3-pysaml2's schema folder.
import { createXsdValidator } from '../../src/saml/schema-validator.ts';

export const METADATA_XSD = '/usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd';
export const PYSAML2_SCHEMAS = '/usr/lib/python3/dist-packages/saml2/data/schemas';

let validator: ReturnType<typeof createXsdValidator> | undefined;
export function validateMetadata(xml: string) {
  validator ??= createXsdValidator(METADATA_XSD, [PYSAML2_SCHEMAS]);
  validator.validate(xml);
}
