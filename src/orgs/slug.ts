// An organisation's slug is its subdomain: one lowercase DNS label, chosen once and never changed.
export const RESERVED_SLUGS = new Set([
  'www',
  'admin',
  'api',
  'app',
  'apps',
  'auth',
  'login',
  'logout',
  'sso',
  'saml',
  'idp',
  'sp',
  'metadata',
  'static',
  'assets',
  'cdn',
  'mail',
  'smtp',
  'imap',
  'ftp',
  'ns',
  'ns1',
  'ns2',
  'dns',
  'localhost',
  'broker',
  'status',
  'health',
  'healthz',
  'readyz',
  'metrics',
  'root',
  'system',
  'support',
  'help',
  'docs',
  'test',
  'demo-internal',
]);

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Returns null when the slug is acceptable, otherwise a plain reason. */
export function slugProblem(slug: string): string | null {
  if (slug !== slug.toLowerCase()) return 'must be lowercase';
  if (!LABEL.test(slug)) return 'must be 1-63 characters of a-z, 0-9 and "-", not starting or ending with "-"';
  if (slug.length < 3) return 'must be at least 3 characters';
  if (slug.includes('--')) return 'must not contain "--" (reserved for internationalised names)';
  if (RESERVED_SLUGS.has(slug)) return `"${slug}" is reserved`;
  return null;
}
