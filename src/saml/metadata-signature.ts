// Signed metadata (federation aggregates, some IdPs): when the admin configured the publisher's signing certificate,
// only a document whose root carries a valid signature by that certificate is accepted, and only what the signature
// covers (the verified root) is read. The check is the one used for IdP responses (signature/verify.ts), SHA-1 refused.
import { SamlError } from './errors.ts';
import { childElements, NS } from './xml-dom.ts';
import { verifyEnvelopedSignature } from './signature/verify.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';

/** Returns `root` (the parsed root of `xml`) once its signature is verified on that DOM (`xml` itself is not parsed
 *  again), or throws a SamlError saying what is wrong. */
export function verifyMetadataSignature(root: Element, certificatePem: string): Element {
  if (root.namespaceURI !== MD || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor')) {
    throw new SamlError('saml_malformed', 'The document is not SAML 2.0 metadata.');
  }
  const signatures = childElements(root, NS.ds, 'Signature');
  if (signatures.length === 0)
    throw new SamlError('saml_unsigned', 'The metadata is not signed, and a signing certificate is configured for it.');
  if (signatures.length > 1)
    throw new SamlError('saml_bad_signature', 'The metadata carries more than one signature on its root.');
  if (!root.getAttribute('ID'))
    throw new SamlError('saml_bad_signature', 'The metadata root has no ID for its signature to cover.');
  try {
    // A metadata signature decides which keys the broker trusts for logins: SHA-1 is never good enough here.
    return verifyEnvelopedSignature(root, signatures[0], {
      certificates: [certificatePem],
      allowSha1: false,
      what: 'metadata',
    });
  } catch (err) {
    // The shared check words two refusals for messages and IdPs; say them in terms of metadata.
    if (err instanceof SamlError && err.code === 'saml_weak_algorithm')
      throw new SamlError('saml_weak_algorithm', 'The metadata is signed with SHA-1, which is refused.', err.diagnosis);
    if (err instanceof SamlError && err.code === 'saml_untrusted_certificate')
      throw new SamlError(
        'saml_untrusted_certificate',
        'The metadata is signed with another certificate than the configured metadata signing certificate.',
        err.diagnosis,
      );
    throw err;
  }
}
