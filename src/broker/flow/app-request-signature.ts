// An app's signed AuthnRequest, verified with the app's registered certificate only. RSA-SHA1 (pysaml2's default,
// older Shibboleth and SimpleSAMLphp SPs) is refused unless an administrator allowed it for this very app; the
// refusal says which setting changes it, and every SHA-1 request accepted is audited with its algorithms.
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { verifyAuthnRequestSignature } from '../../saml/downstream/authn-request.ts';
import { SamlError } from '../../saml/errors.ts';
import type { Application } from '../../store/applications.ts';

export interface SignedAppRequest {
  binding: 'redirect' | 'post';
  samlRequest: string;
  rawQuery?: string;
}

/** What an administrator changes to let this app sign with SHA-1 (console and CLI). */
export const allowSha1Hint = (tenant: Tenant, app: Application) =>
  `An administrator can allow SHA-1 for this app: Apps → ${app.name} → Accept RSA-SHA1 signatures, or \`npm run cli -- app update --org ${tenant.org.slug} --app ${app.id} --allow-sha1\`.`;

export async function verifyAppRequestSignature(
  ctx: AppContext,
  tenant: Tenant,
  app: Application & { certificate: string },
  input: SignedAppRequest,
): Promise<void> {
  let verified;
  try {
    verified = verifyAuthnRequestSignature({
      ...input,
      certificatePem: app.certificate,
      allowSha1: app.allowSha1,
      maxBytes: ctx.config.maxSamlMessageBytes,
    });
  } catch (err) {
    if (err instanceof SamlError && err.code === 'saml_weak_algorithm') {
      throw new SamlError(
        'saml_weak_algorithm',
        `The application "${app.name}" signs its login requests with RSA-SHA1, which is refused. ${allowSha1Hint(tenant, app)}`,
        err.diagnosis,
      );
    }
    throw err;
  }
  if (verified.sha1) {
    await tenant.store.audit.record({
      type: 'login.sha1_request_accepted',
      appId: app.id,
      at: ctx.clock.now(),
      details: { algorithm: verified.algorithm, digests: verified.digests, binding: input.binding },
    });
  }
}
