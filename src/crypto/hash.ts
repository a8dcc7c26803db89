// SHA-256 as hex: how bearer secrets (admin sessions, API and SCIM tokens, invitation links, browser bindings) are
// stored and looked up, so the database never holds one in clear.
import { createHash } from 'node:crypto';

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
