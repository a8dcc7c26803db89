// Turns a refused upstream Response (a SamlError with its expected-vs-received facts) into what the admin testing
// the connection needs: what went wrong in plain words, the facts that show it, and what to change where.
import type { ErrorCode } from '../../errors.ts';
import type { UpstreamRefusal } from '../upstream/protocol.ts';

export interface Fact {
  label: string;
  value: string | string[];
}
export interface Diagnosis {
  code: ErrorCode;
  title: string;
  explanation: string;
  facts: Fact[];
  fix: string | null;
}

export interface DiagnosisContext {
  spEntityId: string;
  acsUrl: string;
  skewSeconds: number;
  idpEntityId: string;
  /** OpenID Connect: the redirect URI registered for the organisation */
  redirectUri?: string;
  /** OpenID Connect: now, in seconds since the epoch (this server's clock) */
  nowSeconds?: number;
}

const STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';
const STATUS_EXPLAINED: Record<string, string> = {
  AuthnFailed: 'the user could not be authenticated (wrong credentials, or the sign-in was cancelled)',
  RequestDenied: 'the identity provider denied the request (often: the user is not assigned to this application there)',
  NoPassive: 'the identity provider would have had to show a page, and the request asked it not to',
  InvalidNameIDPolicy: 'the identity provider cannot issue the NameID format that was asked for',
  RequestUnsupported: 'the identity provider does not support something in our request',
  UnknownPrincipal: 'the identity provider does not know this user',
  NoAvailableIDP: 'the identity provider has no way to sign this user in',
};

const str = (v: unknown): string =>
  typeof v === 'string' ? v : v === null || v === undefined ? '(none)' : JSON.stringify(v);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : [str(v)]);
const seconds = (n: number) => `${Math.abs(n)} second${Math.abs(n) === 1 ? '' : 's'}`;

export function diagnose(err: UpstreamRefusal, c: DiagnosisContext): Diagnosis {
  const d = err.diagnosis as Record<string, unknown>;
  const base = { code: err.code, explanation: err.message, facts: [] as Fact[], fix: null as string | null };
  switch (err.code) {
    case 'saml_not_yet_valid':
    case 'saml_expired': {
      const ahead = typeof d.idpClockAheadSeconds === 'number' ? d.idpClockAheadSeconds : null;
      const facts: Fact[] = [];
      if (ahead !== null)
        facts.push({
          label: 'Measured clock offset (identity provider minus this server)',
          value: `${ahead >= 0 ? '+' : '−'}${seconds(ahead)}`,
        });
      if (d.issueInstant) facts.push({ label: 'Issued at (identity provider clock)', value: str(d.issueInstant) });
      if (d.notBefore) facts.push({ label: 'Not valid before', value: str(d.notBefore) });
      if (d.notOnOrAfter) facts.push({ label: 'Not valid on or after', value: str(d.notOnOrAfter) });
      facts.push({ label: 'Allowed clock difference', value: seconds(c.skewSeconds) });
      const explanation =
        err.code === 'saml_not_yet_valid'
          ? `The response is not valid yet by this server's clock: the identity provider's clock is ahead of this server's${ahead !== null ? ` by about ${seconds(ahead)}` : ''}.`
          : `The response had already expired when it arrived${ahead !== null && ahead < 0 ? `: it was issued ${seconds(ahead)} before this server received it` : ''}. Either the identity provider's clock is behind this server's, or the response was held back (for example a sign-in page left open).`;
      return {
        ...base,
        title: 'Clock skew',
        explanation,
        facts,
        fix: 'Synchronise the clocks of the identity provider and this server (NTP), then run the test again.',
      };
    }
    case 'saml_untrusted_certificate':
      return {
        ...base,
        title: 'Signed with a certificate that is not registered',
        explanation:
          'The identity provider signed with a certificate that is not one of the certificates registered here. This usually means it rolled over its signing certificate.',
        facts: [
          { label: 'Certificate that signed (SHA-256)', value: str(d.receivedFingerprint) },
          { label: 'Registered certificates (SHA-256)', value: list(d.expectedFingerprints ?? []) },
        ],
        fix: "Add the identity provider's current signing certificate (keep the old one until it stops using it), or re-import its metadata.",
      };
    case 'saml_bad_signature':
      return {
        ...base,
        title: 'The signature does not verify',
        facts: [
          { label: 'Registered certificates (SHA-256)', value: list(d.expectedFingerprints ?? []) },
          ...(d.signatureMethod ? [{ label: 'Signature method', value: str(d.signatureMethod) }] : []),
        ],
        fix: "Check that the certificate registered here is the identity provider's current signing certificate (its metadata shows it).",
      };
    case 'saml_weak_algorithm':
      return {
        ...base,
        title: 'SHA-1 signature refused',
        explanation: 'The identity provider signs with SHA-1, which this broker refuses because it is no longer safe.',
        facts: [
          { label: 'Signature method', value: str(d.signatureMethod) },
          { label: 'Digest methods', value: list(d.digests ?? []) },
        ],
        fix: "Set the identity provider's signature algorithm to RSA-SHA256. Only for a legacy IdP that cannot: allow SHA-1 on this page.",
      };
    case 'saml_unsigned':
      return {
        ...base,
        title: 'Not signed as required',
        explanation: `${err.message}${d.missing ? ` Missing signature: ${str(d.missing)}.` : ''}`,
        fix: 'Turn on signing of the response and/or the assertion in the identity provider (Okta: "Response" and "Assertion Signature"; WSO2: "Enable Response Signing"), or change which signatures this page requires.',
      };
    case 'saml_wrong_audience':
      return {
        ...base,
        title: 'Audience mismatch',
        explanation: 'The assertion is addressed to another service provider than this broker.',
        facts: [
          { label: 'Expected audience (our SP entity ID)', value: str(d.expected ?? c.spEntityId) },
          { label: 'Received audience', value: list(d.received ?? []) },
        ],
        fix: `In the identity provider, set the Audience URI / SP Entity ID to ${c.spEntityId}.`,
      };
    case 'saml_wrong_destination':
    case 'saml_wrong_recipient':
      return {
        ...base,
        title: err.code === 'saml_wrong_destination' ? 'Destination mismatch' : 'Recipient (ACS URL) mismatch',
        explanation:
          "The identity provider sent the response for another address than this broker's assertion consumer service.",
        facts: [
          { label: 'Expected (our ACS URL)', value: str(d.expected ?? c.acsUrl) },
          { label: 'Received', value: list(d.received ?? null) },
        ],
        fix: `In the identity provider, set the Single sign-on URL / ACS URL (and Recipient / Destination) to ${c.acsUrl}.`,
      };
    case 'saml_wrong_issuer':
      return {
        ...base,
        title: 'Entity ID mismatch',
        explanation: 'The response names another identity provider than the one registered here.',
        facts: [
          { label: 'Registered entity ID', value: str(d.expected ?? c.idpEntityId) },
          { label: 'Received issuer', value: str(d.received) },
        ],
        fix: "Correct the entity ID on this page (or re-import the identity provider's metadata).",
      };
    case 'saml_status_failure': {
      const codes = list(d.statusCodes ?? []);
      const top = codes[0]?.replace(STATUS, '') ?? '';
      const second = codes[1]?.replace(STATUS, '');
      const why =
        second && STATUS_EXPLAINED[second]
          ? STATUS_EXPLAINED[second]
          : top === 'Requester'
            ? 'the identity provider rejected our request'
            : 'the identity provider reports a failure';
      return {
        ...base,
        title: `The identity provider refused the sign-in${second ? ` (${second})` : top ? ` (${top})` : ''}`,
        explanation: `The identity provider answered with an error status: ${why}.`,
        facts: [
          { label: 'Status codes', value: codes },
          ...(d.message ? [{ label: 'Message from the identity provider', value: str(d.message) }] : []),
        ],
        fix:
          top === 'Requester'
            ? `Check the identity provider's settings for this broker: SP entity ID ${c.spEntityId}, ACS URL ${c.acsUrl}, and, if it wants signed requests, our signing certificate from the SP metadata.`
            : "Look at the identity provider's own log for this sign-in attempt.",
      };
    }
    case 'saml_wrong_in_response_to':
      return {
        ...base,
        title: 'Answer to another request',
        facts: [
          { label: 'Our request ID', value: str(d.expected) },
          { label: 'Answered request ID', value: str(d.received) },
        ],
        fix: 'Start the test again from the console rather than reusing an old sign-in tab.',
      };
    case 'saml_decryption_failed':
      return {
        ...base,
        title: 'The assertion could not be decrypted',
        fix: "Give the identity provider this broker's current SP metadata, so it encrypts to our current certificate (or turn assertion encryption off there).",
      };
    case 'saml_replayed':
      return { ...base, title: 'Response already used', fix: 'Run the test again.' };
    // OpenID Connect (src/broker/upstream/oidc-errors.ts)
    case 'oidc_expired':
    case 'oidc_not_yet_valid': {
      const received = typeof d.received === 'number' ? d.received : null;
      const facts: Fact[] = [{ label: 'Claim', value: str(d.claim) }];
      if (received !== null)
        facts.push({ label: 'Its value (identity provider clock)', value: new Date(received * 1000).toISOString() });
      if (c.nowSeconds !== undefined)
        facts.push({ label: "This server's time", value: new Date(c.nowSeconds * 1000).toISOString() });
      if (received !== null && c.nowSeconds !== undefined && d.claim === 'iat')
        facts.push({
          label: 'Measured clock offset (identity provider minus this server)',
          value: `${received - c.nowSeconds >= 0 ? '+' : '−'}${seconds(received - c.nowSeconds)}`,
        });
      return {
        ...base,
        title: 'Clock skew',
        facts,
        fix: `Synchronise the clocks of the identity provider and this server (NTP); up to ${seconds(c.skewSeconds)} of difference is allowed.`,
      };
    }
    case 'oidc_unknown_key':
      return {
        ...base,
        title: 'Signed by an unknown key',
        facts: [
          { label: 'Key ID (kid) of the token', value: str(d.kid) },
          { label: 'Algorithm', value: str(d.alg) },
        ],
        fix: 'The identity provider signed with a key its JWKS does not publish. If it has just rotated its keys, wait a minute and test again; otherwise check that the issuer URL is the right one.',
      };
    case 'oidc_groups_unavailable':
      return {
        ...base,
        title: 'Groups overage: Microsoft Graph did not give the groups',
        facts: [
          ...(d.graph ? [{ label: 'Asked', value: str(d.graph) }] : []),
          ...(d.status !== undefined ? [{ label: 'HTTP status', value: str(d.status) }] : []),
          ...(d.error ? [{ label: 'Graph error', value: str(d.error) }] : []),
          ...(d.problem ? [{ label: 'Problem', value: str(d.problem) }] : []),
          ...(d.source ? [{ label: 'Source named by the token (not called)', value: str(d.source) }] : []),
        ],
        fix: 'Grant the app registration the delegated Microsoft Graph permission GroupMember.Read.All with admin consent and add it to the scopes, or, to avoid the overage, emit only "Groups assigned to the application" (Token configuration) and assign the groups that matter.',
      };
    case 'oidc_wrong_issuer':
      return {
        ...base,
        title: 'Token from another issuer',
        facts: [
          { label: 'Expected issuer', value: c.idpEntityId },
          { label: 'Received', value: str(d.received) },
        ],
        fix: 'Register the identity provider with the issuer its tokens carry (Entra ID: https://login.microsoftonline.com/<tenant ID>/v2.0, not the "common" endpoint).',
      };
    case 'oidc_wrong_audience':
      return {
        ...base,
        title: 'Token for another application',
        facts: [
          { label: 'Expected client ID', value: str(d.expected) },
          { label: 'Received', value: list(d.received) },
        ],
        fix: 'Check the client ID registered here against the application at the identity provider.',
      };
    case 'oidc_code_rejected':
      return {
        ...base,
        title: 'The identity provider refused the code',
        facts: [
          { label: 'Error', value: str(d.error) },
          { label: 'Description', value: str(d.description) },
          ...(c.redirectUri ? [{ label: 'Our redirect URI', value: c.redirectUri }] : []),
        ],
        fix: 'Most often the redirect URI registered at the identity provider is not exactly ours (scheme, host, path, no trailing slash): register the one shown here. Otherwise start the test again (a code works once and expires quickly).',
      };
    case 'oidc_idp_error':
      return {
        ...base,
        title: 'The identity provider did not sign in',
        facts: [
          { label: 'Error', value: str(d.error) },
          { label: 'Description', value: str(d.description) },
          ...(c.redirectUri ? [{ label: 'Our redirect URI', value: c.redirectUri }] : []),
        ],
        fix: 'If the error mentions the redirect URI, register ours exactly at the identity provider; if the user is not assigned to the application there, assign them.',
      };
    case 'oidc_client_auth_failed':
      return {
        ...base,
        title: 'Client ID or secret refused',
        facts: [{ label: 'Error', value: str(d.error) }],
        fix: 'Paste the client secret again (it may have expired: Entra ID secrets do), and check the client authentication method.',
      };
    case 'saml_missing_name_id':
      return {
        ...base,
        title: 'No NameID',
        fix: 'Configure the identity provider to send a NameID (Okta: "Name ID format" EmailAddress, "Application username" Email).',
      };
    default:
      return {
        ...base,
        title: 'The response was refused',
        facts: Object.entries(d).map(([label, value]) => ({
          label,
          value: Array.isArray(value) ? value.map(str) : str(value),
        })),
      };
  }
}
