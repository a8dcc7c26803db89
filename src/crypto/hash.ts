// Bearer secrets (admin API tokens, SCIM tokens, invitation links): a kind prefix and 32 random bytes, stored only as
// their SHA-256 in hex, so the database never holds one in clear. Browser bindings and sessions are hashed the same way.
import { createHash, randomBytes } from 'node:crypto';

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** A new secret of one kind, e.g. `brk_…`: the prefix says what it is when it turns up in a log or a paste. */
export const newBearerSecret = (prefix: string) => `${prefix}_${randomBytes(32).toString('base64url')}`;

/** The shape of a secret made by newBearerSecret(prefix), for the patterns that recognise one. */
export const bearerSecretPattern = (prefix: string) => `${prefix}_[A-Za-z0-9_-]{43}`;
