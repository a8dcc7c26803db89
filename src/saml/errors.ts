// Typed SAML failures: every failure of the adapters in src/saml is a SamlError with a stable code (logged, audited, and mapped to a page or a SAML status by the broker).
// `diagnosis` carries expected-vs-received facts for the admin's "test connection" view; it is never shown to end users.
import { AppError } from '../errors.ts';

export const SAML_ERROR_CODES = [
  'saml_too_large', 'saml_malformed', 'saml_doctype', 'saml_schema_invalid',
  'saml_unsigned', 'saml_bad_signature', 'saml_untrusted_certificate', 'saml_weak_algorithm',
  'saml_no_assertion', 'saml_multiple_assertions', 'saml_wrong_issuer', 'saml_status_failure',
  'saml_wrong_in_response_to', 'saml_unsolicited', 'saml_wrong_destination', 'saml_wrong_recipient',
  'saml_wrong_audience', 'saml_expired', 'saml_not_yet_valid', 'saml_replayed', 'saml_decryption_failed',
  'saml_missing_name_id', 'saml_unknown_app', 'saml_acs_not_registered', 'saml_request_unsigned',
  'saml_request_bad_signature', 'saml_unsupported_binding', 'saml_comment_injection', 'saml_duplicate_id',
] as const;
export type SamlErrorCode = (typeof SAML_ERROR_CODES)[number];

export class SamlError extends AppError {
  constructor(code: SamlErrorCode, message: string, public readonly diagnosis: Record<string, unknown> = {}) {
    super(400, code, message, true, undefined);
    this.name = 'SamlError';
  }
}
