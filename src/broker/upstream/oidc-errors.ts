// Typed OpenID Connect refusals: every failure of an upstream OIDC login is an OidcError with a stable code (logged,
// audited, shown on the branded error page and in the admin's test connection), like SamlError for SAML. The codes,
// with their status, SAML status for the app and audit events, are in the error catalogue (src/errors.ts).
// `diagnosis` carries expected-vs-received facts for the admin's "test connection"; it is never shown to end users.
import { AppError, type OidcErrorCode } from '../../errors.ts';

export type { OidcErrorCode };

export class OidcError extends AppError {
  constructor(
    code: OidcErrorCode,
    message: string,
    public readonly diagnosis: Record<string, unknown> = {},
  ) {
    super(code, message);
    this.name = 'OidcError';
  }
}
