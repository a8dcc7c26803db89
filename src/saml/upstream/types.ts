// What the upstream adapter (we are the SP) needs to know about an IdP and about ourselves, and what it returns.
export interface UpstreamIdp {
  entityId: string;
  ssoUrl: string;
  ssoBinding: 'redirect' | 'post';
  /** PEM certificates trusted for this IdP; a certificate carried in a message is never trusted */
  certificates: string[];
  signRequests: boolean;
  wantResponseSigned: boolean;
  wantAssertionSigned: boolean;
  allowSha1: boolean;
}

export interface LocalSp {
  entityId: string;
  acsUrl: string;
  signingKeyPem: string;
  certificatePem: string;
  /** private keys to try on an EncryptedAssertion (every key we publish) */
  decryptionKeys: string[];
}

export interface VerifiedAssertion {
  assertionId: string;
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  /** NameQualifier and SPNameQualifier of the NameID: a logout request back to the IdP must repeat them */
  nameQualifier?: string;
  spNameQualifier?: string;
  sessionIndex?: string;
  /** the AuthnStatement's SessionNotOnOrAfter: the IdP wants our session to end by then */
  sessionNotOnOrAfter?: Date;
  attributes: Record<string, string[]>;
  inResponseTo: string | null;
  /** the latest instant at which this assertion could still be accepted (for the replay record) */
  notOnOrAfter: Date;
  authnInstant?: Date;
  responseSigned: boolean;
  assertionSigned: boolean;
}
