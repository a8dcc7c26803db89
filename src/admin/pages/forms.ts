// Reading HTML form fields: every value arrives as a string (or not at all), so these helpers turn them into the
// typed input the domain services validate. Nothing here decides whether a value is acceptable; the services do,
// and their ValidationError fields are shown next to the inputs.
import { ValidationError } from '../../errors.ts';

export type FormBody = Record<string, unknown>;

export const text = (body: FormBody, name: string): string => {
  const v = body[name];
  return typeof v === 'string' ? v.trim() : '';
};
export const optionalText = (body: FormBody, name: string): string | null => text(body, name) || null;
/** Checkboxes are present when ticked. */
export const checkbox = (body: FormBody, name: string): boolean =>
  body[name] === 'on' || body[name] === 'true' || body[name] === '1';
/** Several lines of a textarea, blank ones dropped. */
export const lines = (body: FormBody, name: string): string[] =>
  text(body, name)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
/** An uploaded file's bytes (multipart with attachFieldsToBody: 'keyValues'), or null when none was chosen. */
export const upload = (body: FormBody, name: string): Buffer | null => {
  const v = body[name];
  return Buffer.isBuffer(v) && v.length ? v : null;
};

/** Runs a save; a ValidationError becomes the field map for the form instead of an error page. */
export async function withFieldErrors<T>(
  save: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; errors: Record<string, string> }> {
  try {
    return { ok: true, value: await save() };
  } catch (err) {
    if (err instanceof ValidationError) return { ok: false, errors: err.fields };
    throw err;
  }
}
