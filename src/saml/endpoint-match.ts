// Whether a URL a SAML message names (a Destination, a bearer confirmation's Recipient) is the endpoint that received
// it. SAML asks the receiver to check that they "match"; compared as strings, an app or IdP configured with our URL
// spelled another valid way (the host in capitals, an explicit default port) was refused. Compared as OpenSAML does:
// scheme and host without regard to case, a default port the same as none, and everything from the path on exactly
// as written (paths are case-sensitive, and no dot segment or escape is resolved). A URL with user information never
// matches.
const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };

function endpointKey(url: string): string | null {
  const parts = URL_PARTS.exec(url);
  if (!parts) return null;
  const scheme = parts[1].toLowerCase();
  const authority = parts[2];
  // Only ASCII hosts are folded: toLowerCase maps some other characters onto ASCII letters (the Kelvin sign onto
  // "k"), which would let a lookalike host match ours. A non-ASCII spelling matches only when identical.
  if (authority.includes('@') || authority === '' || /[^\x21-\x7e]/.test(authority)) return null;
  // host, or [IPv6 literal], then an optional :port
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!hostPort) return null;
  const host = hostPort[1].toLowerCase();
  const port =
    hostPort[2] === undefined || hostPort[2] === '' || hostPort[2] === DEFAULT_PORTS[scheme]
      ? ''
      : String(Number(hostPort[2]));
  return `${scheme}://${host}${port ? `:${port}` : ''}${parts[3]}`;
}

/** true when `named` (from the message) is `ours` (the endpoint the organisation published), as described above. */
export function sameEndpoint(named: string, ours: string): boolean {
  if (named === ours) return true;
  const a = endpointKey(named);
  return a !== null && a === endpointKey(ours);
}
