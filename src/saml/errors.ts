// Typed SAML failures: every failure of the adapters in src/saml is a SamlError with a stable code of the error
// catalogue (src/errors.ts: its status, its SAML status for the app, its audit events), logged, audited, and rendered by the broker.
// `diagnosis` carries expected-vs-received facts for the admin's "test connection" view; it is never shown to end users.
import { AppError, type SamlErrorCode } from '../errors.ts';

export type { SamlErrorCode };

export class SamlError extends AppError {
  constructor(
    code: SamlErrorCode,
    message: string,
    public readonly diagnosis: Record<string, unknown> = {},
  ) {
    super(code, message);
    this.name = 'SamlError';
  }
}
