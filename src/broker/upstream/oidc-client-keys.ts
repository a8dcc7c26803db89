// private_key_jwt client authentication (OpenID Connect Core 9) toward OpenID Connect IdPs, with the organisation's
// own signing key (the one its SAML metadata publishes): no client secret to store, rotate or leak. The IdP's admin
// registers our JWKS URL (orgs/hosted/oidc-jwks.ts), where the key is found by the kid we put in the assertion.
import * as jose from 'jose';
import type { AppContext } from '../../context.ts';
import { CLIENT_ASSERTION_ALG, publicJwkOf } from '../../orgs/hosted/oidc-jwks.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { localSp } from '../identities.ts';

/** The active private key, for signing a client assertion, with the kid the JWKS gives it. */
export async function clientAssertionKey(ctx: AppContext, tenant: Tenant): Promise<{ key: CryptoKey; kid: string }> {
  const sp = await localSp(ctx, tenant);
  const { kid } = await publicJwkOf(sp.certificatePem);
  return { key: await jose.importPKCS8(sp.signingKeyPem, CLIENT_ASSERTION_ALG), kid };
}
