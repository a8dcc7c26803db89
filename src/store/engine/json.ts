// JSON-shaped columns are TEXT in both databases; these keep parsing in one place and tolerate old/blank values.
export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
export const toJson = (value: unknown) => JSON.stringify(value ?? null);
