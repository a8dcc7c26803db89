// One error type for everything the broker refuses on purpose. `code` is a stable string (logs, audit, API);
// `expose` says whether the message may be shown to the caller. The error handler in app.ts turns an AppError
// into a branded page, JSON, or (via the SAML layer) a SAML error Response.
export class AppError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly expose = true,
    public readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const badRequest = (code: string, message: string, details?: Record<string, unknown>) => new AppError(400, code, message, true, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) => new AppError(409, code, message, true, details);
export const forbidden = (code: string, message: string) => new AppError(403, code, message);

/** Field-level validation failure: `fields` maps a form field to the message shown next to it. */
export class ValidationError extends AppError {
  constructor(public readonly fields: Record<string, string>) {
    super(400, 'validation_failed', Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join('; '), true, { fields });
    this.name = 'ValidationError';
  }
}
