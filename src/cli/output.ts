// CLI output helpers: human text by default, JSON with --json for scripts.
import type { OrgUrls } from '../orgs/urls.ts';

export function printUrls(urls: OrgUrls, write: (line: string) => void = console.log) {
  const rows: [string, string][] = [
    ['Login', urls.login],
    ['Admin console', urls.admin],
    ['IdP metadata (for apps)', urls.idpMetadata],
    ['IdP SSO endpoint', urls.idpSso],
    ['SP metadata (for upstream IdPs)', urls.spMetadata],
    ['SP ACS endpoint', urls.spAcs],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) write(`  ${k.padEnd(width)}  ${v}`);
}

export class UsageError extends Error {}
