// Reading registration settings from command-line options, shared by `idp add|update` and `app add|update`: an
// update changes only what was given, so every helper returns undefined for an option that is absent.
import { UsageError } from '../output.ts';

type Values = Partial<Record<string, string | boolean | string[]>>;

/** A switch with its opposite (`--allow-sha1` / `--no-allow-sha1`): true, false, or undefined when neither is given. */
export function flag(values: Values, on: string, off: string): boolean | undefined {
  if (values[on] && values[off]) throw new UsageError(`--${on} and --${off} contradict each other`);
  return values[on] ? true : values[off] ? false : undefined;
}

/** An optional value that `--no-…` (or an empty value) clears: the value, null, or undefined when not given. */
export function orNull(values: Values, option: string, clear: string): string | null | undefined {
  const value = values[option] as string | undefined;
  if (value !== undefined && values[clear]) throw new UsageError(`--${option} and --${clear} contradict each other`);
  if (values[clear]) return null;
  return value === undefined ? undefined : value.trim() || null;
}

/** The object without its undefined entries: a stored value is only replaced by a value that was given. */
export function definedOnly<T extends object>(input: T): T {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as T;
}

/** `--map field=attribute` (repeatable) applied on top of `current`; `field=` removes that field's override.
 *  `given` says whether any --map was passed. */
export function mappingArgs(
  maps: string[] | undefined,
  current: Record<string, string>,
): { mapping: Record<string, string>; given: boolean } {
  const mapping = { ...current };
  for (const m of maps ?? []) {
    const eq = m.indexOf('=');
    if (eq < 1) throw new UsageError(`--map expects field=attribute, got "${m}"`);
    const [field, attribute] = [m.slice(0, eq).trim(), m.slice(eq + 1).trim()];
    if (attribute) mapping[field] = attribute;
    else delete mapping[field];
  }
  return { mapping, given: !!maps?.length };
}
