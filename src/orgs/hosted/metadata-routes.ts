// The organisation's two metadata documents at stable URLs: the broker as IdP (for apps such as the Jira SSO app)
// and the broker as SP (for upstream IdPs such as Okta and WSO2); and the same keys as a JWK set for OpenID Connect
// IdPs that authenticate us by private_key_jwt.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { requireTenant, type Tenant } from '../../plugins/tenant.ts';
import { idpMetadata, spMetadata } from '../../saml/metadata.ts';
import { organisationJwks } from './oidc-jwks.ts';

export async function publishedCertificates(tenant: Tenant) {
  return (await tenant.store.signingKeys.published()).map((k) => k.certificatePem);
}

export async function buildIdpMetadata(tenant: Tenant) {
  return idpMetadata({
    entityId: tenant.urls.idpEntityId,
    ssoUrl: tenant.urls.idpSso,
    sloUrl: tenant.urls.idpSlo,
    certificates: await publishedCertificates(tenant),
    organizationName: tenant.org.name,
    organizationUrl: tenant.urls.base,
  });
}

/** Metadata must not promise what we do not do: AuthnRequestsSigned only while every enabled IdP of the organisation
 *  gets signed requests (signRequests, on by default). One IdP switched to unsigned makes it "false". */
export async function allUpstreamRequestsSigned(tenant: Tenant): Promise<boolean> {
  return (await tenant.store.identityProviders.list({ enabledOnly: true })).every((idp) => idp.signRequests);
}

export async function buildSpMetadata(tenant: Tenant) {
  return spMetadata({
    entityId: tenant.urls.spEntityId,
    acsUrl: tenant.urls.spAcs,
    sloUrl: tenant.urls.spSlo,
    certificates: await publishedCertificates(tenant),
    authnRequestsSigned: await allUpstreamRequestsSigned(tenant),
    wantAssertionsSigned: true,
    organizationName: tenant.org.name,
    organizationUrl: tenant.urls.base,
  });
}

export async function metadataRoutes(app: FastifyInstance, _opts: { ctx: AppContext }) {
  const send = (xml: string, download: boolean, name: string) => ({ xml, download, name });
  for (const [path, build, name] of [
    ['/saml/idp/metadata', buildIdpMetadata, 'idp-metadata.xml'],
    ['/saml/sp/metadata', buildSpMetadata, 'sp-metadata.xml'],
  ] as const) {
    app.get<{ Querystring: { download?: string } }>(path, async (request, reply) => {
      const tenant = requireTenant(request);
      const doc = send(await build(tenant), request.query.download !== undefined, `${tenant.org.slug}-${name}`);
      reply
        .header('content-type', 'application/samlmetadata+xml; charset=utf-8')
        .header('cache-control', 'public, max-age=300');
      if (doc.download) reply.header('content-disposition', `attachment; filename="${doc.name}"`);
      return doc.xml;
    });
  }
  app.get('/oidc/jwks.json', async (request, reply) => {
    reply.header('content-type', 'application/jwk-set+json').header('cache-control', 'public, max-age=300');
    return organisationJwks(requireTenant(request));
  });
}
