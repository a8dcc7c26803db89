// The columns of a user file, shared by import (CSV header / JSON keys) and export. Headers are matched without
// regard to case, spaces, '_' or '-' ("First Name", "first_name" and "firstName" are the same column).
export const COLUMNS = [
  'email',
  'username',
  'firstName',
  'lastName',
  'phone',
  'groups',
  'status',
  'idp',
  'nameId',
] as const;
export type Column = (typeof COLUMNS)[number];

/** Longest accepted value per column, in characters (groups: per group name). */
export const MAX_LENGTH: Record<Column, number> = {
  email: 254, // RFC 5321 path limit
  username: 128,
  firstName: 128,
  lastName: 128,
  phone: 40,
  groups: 128,
  status: 16,
  idp: 1024, // entity IDs are URIs
  nameId: 512,
};
export const MAX_GROUPS = 100;

const byKey = new Map<string, Column>(COLUMNS.map((c) => [headerKey(c), c]));

function headerKey(name: string) {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

/** The column a header cell or JSON key names, or null when it names none. */
export function columnFor(name: string): Column | null {
  return byKey.get(headerKey(name)) ?? null;
}

export const knownColumnsText = COLUMNS.join(', ');
