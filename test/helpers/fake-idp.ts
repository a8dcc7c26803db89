// A small upstream IdP for tests: real RSA keys, real signatures (our response builder with the IdP's key), and
// hooks to tamper with the XML before or after signing. Interop with an IdP we did not write is in test/interop.
import { SignedXml } from 'xml-crypto';
import { generateSigningCredential, type GeneratedCredential } from '../../src/saml/certificates.ts';
import { buildLoginResponse, type DownstreamApp } from '../../src/saml/downstream/response.ts';

export interface FakeIdpOptions {
  entityId?: string;
  credential?: GeneratedCredential;
}

export interface ResponseOptions {
  acsUrl: string;
  audience: string;
  inResponseTo: string | null;
  nameId?: string;
  attributes?: Record<string, string[]>;
  now?: Date;
  lifetimeSeconds?: number;
  signResponse?: boolean;
  signAssertion?: boolean;
  encryptTo?: string;
  issuer?: string;
  /** key that signs (default: the IdP's own) */
  signWith?: GeneratedCredential;
}

export const OKTA_ATTRIBUTES = (email: string, groups = ['jira-customers']) => ({
  firstName: ['Ann'],
  lastName: ['Lee'],
  Email: [email],
  groups,
});
export const WSO2_ATTRIBUTES = (email: string, roles = ['Internal/everyone']) => ({
  'http://wso2.org/claims/emailaddress': [email],
  'http://wso2.org/claims/givenname': ['Ann'],
  'http://wso2.org/claims/lastname': ['Lee'],
  'http://wso2.org/claims/role': roles,
});

export class FakeIdp {
  readonly entityId: string;
  readonly credential: GeneratedCredential;
  constructor(opts: FakeIdpOptions = {}) {
    this.entityId = opts.entityId ?? 'https://idp.example/saml';
    this.credential = opts.credential ?? generateSigningCredential('fake-idp');
  }

  get certificatePem() {
    return this.credential.certificatePem;
  }

  /** Response XML (decoded). */
  async responseXml(o: ResponseOptions): Promise<string> {
    const signer = o.signWith ?? this.credential;
    const app: DownstreamApp = {
      entityId: o.audience,
      acsUrl: o.acsUrl,
      signResponse: o.signResponse ?? true,
      signAssertion: o.signAssertion ?? true,
      encryptAssertion: !!o.encryptTo,
      certificatePem: o.encryptTo ?? null,
      nameIdFormat: 'emailAddress',
    };
    const now = o.now ?? new Date();
    const built = await buildLoginResponse({
      idp: {
        entityId: o.issuer ?? this.entityId,
        signingKeyPem: signer.privateKeyPem,
        certificatePem: signer.certificatePem,
      },
      app,
      inResponseTo: o.inResponseTo,
      nameId: o.nameId ?? 'ann@customer.example',
      sessionIndex: '_idp_session_1',
      attributes: o.attributes ?? OKTA_ATTRIBUTES(o.nameId ?? 'ann@customer.example'),
      now,
      authnInstant: now,
      lifetimeSeconds: o.lifetimeSeconds,
    });
    return Buffer.from(built.samlResponse, 'base64').toString();
  }

  async response(o: ResponseOptions): Promise<string> {
    return Buffer.from(await this.responseXml(o)).toString('base64');
  }
}

/** Signs `xml` (no signature yet) with SHA-1 algorithms, as a legacy IdP would. */
export function signSha1(xml: string, key: GeneratedCredential, elementName: 'Assertion' | 'Response'): string {
  return signWithXmlCrypto(xml, key, elementName, 'sha1');
}

/** Signs `xml` (no signature yet) as an IdP would, with xml-crypto: enveloped, exclusive C14N, RSA-SHA256 by default. */
export function signWithXmlCrypto(
  xml: string,
  key: GeneratedCredential,
  elementName: 'Assertion' | 'Response',
  hash: 'sha1' | 'sha256' = 'sha256',
): string {
  const algorithms =
    hash === 'sha1'
      ? { signature: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', digest: 'http://www.w3.org/2000/09/xmldsig#sha1' }
      : {
          signature: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
          digest: 'http://www.w3.org/2001/04/xmlenc#sha256',
        };
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: algorithms.signature,
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: `//*[local-name(.)='${elementName}']`,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: algorithms.digest,
  });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: `//*[local-name(.)='${elementName}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}

export const b64 = (xml: string) => Buffer.from(xml).toString('base64');
