// Which upstream IdP is authoritative for an email domain. An IdP lists exact domains ("acme.example") and
// subdomain wildcards ("*.acme.example": every subdomain, not acme.example itself). The same rules serve the
// linking decision (src/users/resolve-user.ts), home-realm discovery and the check that two IdPs of one
// organisation never claim the same address. Pure functions: no database, no HTTP.

/** A DNS name as admins type it: ASCII letters, digits and hyphens in labels of 1-63, at least two labels. Internationalised
 *  domains are entered in their A-label (punycode) form, so a look-alike Unicode spelling never equals a listed domain. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The canonical spelling of a domain entry (lower case, no trailing dot), or null if it is not a valid entry. */
export function normaliseDomainEntry(input: string): string | null {
  let s = input.trim().toLowerCase().replace(/\.$/, '');
  let wildcard = false;
  if (s.startsWith('*.')) {
    wildcard = true;
    s = s.slice(2);
  }
  if (!s || s.length > 253) return null;
  const labels = s.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return null; // an IP address is not a mail domain
  return wildcard ? `*.${s}` : s;
}

/** The domain of an email address, lower case, or null when the address has no usable domain. Only ASCII domains
 *  can match an entry (see LABEL), so a Unicode domain (e.g. with a Kelvin sign that lower-cases to 'k') never does. */
export function emailDomain(email: string | null | undefined): string | null {
  if (!email) return null;
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1) return null;
  const domain = email.slice(at + 1);
  if (!/^[A-Za-z0-9.-]+$/.test(domain)) return null;
  return normaliseDomainEntry(domain);
}

/** Whether one entry covers a (plain) domain. */
export function entryCovers(entry: string, domain: string): boolean {
  return entry.startsWith('*.') ? domain.endsWith(entry.slice(1)) : entry === domain;
}

/** Whether an IdP's entries cover the domain of `email`. */
export function coversEmail(entries: readonly string[], email: string | null | undefined): boolean {
  const domain = emailDomain(email);
  return domain !== null && entries.some((e) => entryCovers(e, domain));
}

/** Two entries claim at least one common address: equal, or one's domain lies under the other's wildcard. */
export function entriesOverlap(a: string, b: string): boolean {
  const base = (e: string) => (e.startsWith('*.') ? e.slice(2) : e);
  if (a === b) return true;
  if (a.startsWith('*.') && base(b) !== base(a) && entryCovers(a, base(b))) return true;
  // (two wildcards "*.x" and "*.y.x" share y.x's subdomains: caught above, as y.x lies under "*.x")
  return b.startsWith('*.') && base(a) !== base(b) && entryCovers(b, base(a));
}

/** The first of `idps` whose entries cover the domain of `email` (at most one can: overlaps are refused at registration). */
export function ownerOfEmail<T extends { emailDomains: readonly string[] }>(
  idps: readonly T[],
  email: string | null | undefined,
): T | null {
  return idps.find((idp) => coversEmail(idp.emailDomains, email)) ?? null;
}

/** For each entry of `entries`, the other IdP that already claims an overlapping entry, if any. */
export function domainClashes<T extends { id: string; emailDomains: readonly string[] }>(
  entries: readonly string[],
  others: readonly T[],
  selfId?: string,
): { entry: string; idp: T; theirs: string }[] {
  const clashes: { entry: string; idp: T; theirs: string }[] = [];
  for (const entry of entries) {
    for (const idp of others) {
      if (idp.id === selfId) continue;
      const theirs = idp.emailDomains.find((t) => entriesOverlap(entry, t));
      if (theirs) {
        clashes.push({ entry, idp, theirs });
        break;
      }
    }
  }
  return clashes;
}
