// /api/idps: the organisation's upstream identity providers. Create from metadata (URL fetched here, or the XML
// in the body) or from explicit fields; update, enable/disable, delete. Only translation between JSON and the
// domain calls in src/orgs; every lookup goes through the tenant's store.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import {
  createIdp,
  deleteIdp,
  findIdp,
  setIdpEnabled,
  sourceOf,
  updateIdp,
  type IdpChangeBy,
} from '../../orgs/remote/idp-lifecycle.ts';
import { idpFromMetadata } from '../../orgs/remote/idp-registration-input.ts';
import { MAPPING_PRESETS } from '../../orgs/remote/attribute-presets.ts';
import { refreshIdpMetadataNow } from '../../orgs/remote/metadata-refresh.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { certificateFingerprint } from '../../saml/certificates.ts';
import { errorJson, fieldErrorsFromSchema } from './schema-errors.ts';
import { LINKING_MODES, type IdentityProvider, type IdentityProviderInput } from '../../store/identity-providers.ts';
import { access } from '../roles.ts';
import { OIDC_PRESETS, oidcIdpInput, type OidcIdpSource } from '../../orgs/remote/oidc-registration.ts';
import type { OrgUrls } from '../../orgs/urls.ts';
import { OIDC_CLIENT_AUTHS } from '../../store/identity-providers.ts';

const tags = ['Identity providers'];
const nullableString = { type: ['string', 'null'] };
const dateTime = { type: ['string', 'null'], format: 'date-time' };

/** Settings that can be given with or without metadata. */
const optionProperties = {
  name: { type: 'string', maxLength: 100, description: 'Shown to users on the sign-in chooser' },
  sloUrl: { ...nullableString, description: 'Single logout URL of the IdP' },
  signRequests: {
    type: 'boolean',
    description:
      'Sign our AuthnRequests (RSA-SHA256). Default true; false only for an IdP that cannot take signed requests. Metadata saying WantAuthnRequestsSigned="false" does not turn it off.',
  },
  acceptUnsignedLogoutResponse: {
    type: 'boolean',
    description:
      'Accept unsigned LogoutResponses (SimpleSAMLphp and Entra ID send them unsigned); they are matched to the LogoutRequest we sent by Issuer, Destination and InResponseTo. Default false.',
  },
  sendLoginHint: {
    type: 'boolean',
    description:
      "Send a known email (the app's Subject or login_hint, or the address typed on the chooser) as the Subject of our AuthnRequest (NameID, emailAddress format), so the IdP prefills its sign-in (Okta, Entra ID, ADFS). Only a hint: who signs in is what the assertion says. Default false.",
  },
  emailDomains: {
    type: 'array',
    maxItems: 100,
    items: { type: 'string', maxLength: 255 },
    description:
      'Email domains this IdP is authoritative for: "acme.example", or "*.acme.example" for its subdomains. Stored lower case; two IdPs of one organisation cannot claim overlapping domains (409 `idp_domain_taken`, naming the IdP that holds the domain).',
  },
  linkingMode: {
    type: 'string',
    enum: [...LINKING_MODES],
    description:
      "How a first login from this IdP may be linked to an existing directory user with the same email: `never`, `verified-domains` (default: only for emails in this IdP's emailDomains) or `any-email` (any email the IdP asserts: it can then sign in as any user of the organisation; audited as `idp.linking_any_email`).",
  },
  wantResponseSigned: { type: 'boolean' },
  wantAssertionSigned: { type: 'boolean' },
  allowIdpInitiated: { type: 'boolean' },
  defaultAppId: { ...nullableString, description: 'App that IdP-initiated logins go to when RelayState names none' },
  allowSha1: { type: 'boolean', description: 'Accept SHA-1 signatures (legacy IdPs only)' },
  mappingPreset: { type: 'string', enum: MAPPING_PRESETS },
  attributeMapping: {
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Profile field (email, firstName, lastName, groups) → SAML attribute name; overrides the preset',
  },
} as const;
/** What the metadata decides when it is used. */
const manualProperties = {
  entityId: { type: 'string' },
  ssoUrl: { type: 'string' },
  ssoBinding: { type: 'string', enum: ['redirect', 'post'] },
  certificates: {
    type: 'array',
    items: { type: 'string' },
    description: 'PEM or base64 signing certificates (several during a rollover)',
  },
} as const;
const METADATA_DECIDED = Object.keys(manualProperties) as (keyof typeof manualProperties)[];

const idpSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    entityId: { type: 'string' },
    ssoUrl: { type: 'string' },
    ssoBinding: { type: 'string' },
    sloUrl: nullableString,
    certificates: {
      type: 'array',
      items: { type: 'object', properties: { pem: { type: 'string' }, fingerprintSha256: { type: 'string' } } },
    },
    signRequests: { type: 'boolean' },
    wantResponseSigned: { type: 'boolean' },
    wantAssertionSigned: { type: 'boolean' },
    acceptUnsignedLogoutResponse: { type: 'boolean' },
    sendLoginHint: { type: 'boolean' },
    emailDomains: { type: 'array', items: { type: 'string' } },
    linkingMode: { type: 'string', enum: [...LINKING_MODES] },
    allowIdpInitiated: { type: 'boolean' },
    defaultAppId: nullableString,
    allowSha1: { type: 'boolean' },
    mappingPreset: { type: 'string' },
    attributeMapping: { type: 'object', additionalProperties: { type: 'string' } },
    enabled: { type: 'boolean' },
    source: { type: 'string', enum: ['metadata_url', 'metadata_file', 'manual'] },
    metadataUrl: nullableString,
    metadataFetchedAt: dateTime,
    metadataValidUntil: dateTime,
    metadataError: nullableString,
    metadataSigned: {
      type: 'boolean',
      description: 'fetched metadata must be signed by the configured metadata signing certificate',
    },
    protocol: { type: 'string', enum: ['saml', 'oidc'] },
    oidc: {
      type: ['object', 'null'],
      description:
        'OpenID Connect IdPs only (protocol oidc); entityId is the issuer. The client secret is never shown.',
      properties: {
        redirectUri: { type: 'string', description: 'The redirect URI to register at the IdP (one per organisation)' },
        postLogoutRedirectUri: {
          type: 'string',
          description: 'The post-logout redirect URI to register at the IdP (RP-initiated logout)',
        },
        initiateLoginUri: {
          type: 'string',
          description: 'The initiate login URI to register at the IdP (third-party initiated login)',
        },
        jwksUri: { type: 'string', description: "The JWKS URL of the organisation's signing key (private_key_jwt)" },
        clientId: { type: 'string' },
        clientAuth: { type: 'string' },
        hasClientSecret: { type: 'boolean' },
        scopes: { type: 'string' },
        userinfo: { type: 'boolean' },
        endSessionEndpoint: nullableString,
      },
    },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } };

const endSessionOf = (idp: IdentityProvider) => {
  try {
    return (JSON.parse(idp.oidcDiscovery ?? '{}') as { end_session_endpoint?: string }).end_session_endpoint ?? null;
  } catch {
    return null;
  }
};

/** The registration without the stored metadata document or anything internal (the orgId, the refresh schedule). */
function idpView(
  idp: IdentityProvider,
  urls: Pick<OrgUrls, 'oidcCallback' | 'oidcLogoutCallback' | 'oidcInitiate' | 'oidcJwks'>,
) {
  const fingerprint = (pem: string) => {
    try {
      return certificateFingerprint(pem);
    } catch {
      return 'unreadable';
    }
  };
  return {
    id: idp.id,
    name: idp.name,
    entityId: idp.entityId,
    ssoUrl: idp.ssoUrl,
    ssoBinding: idp.ssoBinding,
    sloUrl: idp.sloUrl,
    certificates: idp.certificates.map((pem) => ({ pem, fingerprintSha256: fingerprint(pem) })),
    signRequests: idp.signRequests,
    wantResponseSigned: idp.wantResponseSigned,
    wantAssertionSigned: idp.wantAssertionSigned,
    acceptUnsignedLogoutResponse: idp.acceptUnsignedLogoutResponse,
    sendLoginHint: idp.sendLoginHint,
    emailDomains: idp.emailDomains,
    linkingMode: idp.linkingMode,
    allowIdpInitiated: idp.allowIdpInitiated,
    defaultAppId: idp.defaultAppId,
    allowSha1: idp.allowSha1,
    mappingPreset: idp.mappingPreset,
    attributeMapping: idp.attributeMapping,
    enabled: idp.enabled,
    source: sourceOf(idp),
    metadataUrl: idp.metadataUrl,
    metadataFetchedAt: idp.metadataFetchedAt?.toISOString() ?? null,
    metadataValidUntil: idp.metadataValidUntil?.toISOString() ?? null,
    metadataError: idp.metadataError,
    metadataSigned: !!idp.metadataSigningCertificate,
    protocol: idp.protocol,
    oidc:
      idp.protocol === 'oidc'
        ? {
            redirectUri: urls.oidcCallback,
            postLogoutRedirectUri: urls.oidcLogoutCallback,
            initiateLoginUri: urls.oidcInitiate,
            jwksUri: urls.oidcJwks,
            clientId: idp.oidcClientId ?? '',
            clientAuth: idp.oidcClientAuth,
            hasClientSecret: !!idp.oidcClientSecret,
            scopes: idp.oidcScopes,
            userinfo: idp.oidcUserinfo,
            endSessionEndpoint: endSessionOf(idp),
          }
        : null,
    createdAt: idp.createdAt.toISOString(),
    updatedAt: idp.updatedAt.toISOString(),
  };
}

type CreateBody = IdentityProviderInput & {
  metadataUrl?: string;
  metadataXml?: string;
  metadataSigningCertificate?: string;
};
type IdRequest = { Params: { id: string } };
type OidcBody = Omit<OidcIdpSource, 'preset'> &
  Pick<IdentityProviderInput, 'name' | 'emailDomains' | 'linkingMode' | 'attributeMapping' | 'mappingPreset'>;

export async function idpsApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const by = (request: FastifyRequest): IdpChangeBy => ({ actor: request.apiActor ?? 'api', at: ctx.clock.now() });
  const common = { schemaErrorFormatter: fieldErrorsFromSchema };

  app.get(
    '/api/idps',
    {
      ...access('viewer'),
      ...common,
      schema: {
        tags,
        summary: 'List identity providers',
        response: { 200: { type: 'object', properties: { idps: { type: 'array', items: idpSchema } } } },
      },
    },
    async (request) => {
      const { store, urls } = requireTenant(request);
      return { idps: (await store.identityProviders.list()).map((idp) => idpView(idp, urls)) };
    },
  );

  app.get<IdRequest>(
    '/api/idps/:id',
    {
      ...access('viewer'),
      ...common,
      schema: {
        tags,
        summary: 'Get one identity provider',
        params: idParams,
        response: { 200: idpSchema, 404: errorJson },
      },
    },
    async (request) =>
      idpView(await findIdp(requireTenant(request).store, request.params.id), requireTenant(request).urls),
  );

  app.post<{ Body: CreateBody }>(
    '/api/idps',
    {
      ...access('admin'),
      ...common,
      schema: {
        tags,
        summary: 'Add an identity provider',
        description:
          'Send `{ name, metadataUrl }` (fetched by the server; optional `metadataSigningCertificate` to require signed metadata), `{ name, metadataXml }`, or the fields `entityId`, `ssoUrl`, `certificates` (and optional settings). Validation failures answer 400 `validation_failed` with `details.fields`; an already registered entity ID answers 409 `idp_exists`, an email domain another IdP of the organisation claims 409 `idp_domain_taken`. `signRequests` defaults to true whatever the metadata says.',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            ...optionProperties,
            ...manualProperties,
            metadataUrl: { type: 'string' },
            metadataXml: { type: 'string' },
            metadataSigningCertificate: { type: 'string' },
          },
        },
        response: { 201: idpSchema, 400: errorJson, 409: errorJson },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      const { metadataUrl, metadataXml, metadataSigningCertificate, ...settings } = request.body;
      let input: IdentityProviderInput = settings;
      if (metadataUrl !== undefined || metadataXml !== undefined) {
        const problems: Record<string, string> = {};
        if (metadataUrl !== undefined && metadataXml !== undefined)
          problems.metadataXml = 'cannot be sent together with metadataUrl; send one of them';
        for (const f of METADATA_DECIDED)
          if (settings[f] !== undefined)
            problems[f] = 'comes from the metadata; leave it out (change it afterwards with PATCH if needed)';
        if (metadataSigningCertificate && metadataUrl === undefined)
          problems.metadataSigningCertificate = 'only applies to metadata fetched from metadataUrl';
        if (Object.keys(problems).length) throw new ValidationError(problems);
        const opts = {
          allowPrivate: ctx.config.metadataAllowPrivate,
          timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
          now: ctx.clock.now(),
          field: metadataUrl !== undefined ? 'metadataUrl' : 'metadataXml',
        };
        const fromMetadata =
          metadataUrl !== undefined
            ? await idpFromMetadata(
                { kind: 'url', url: metadataUrl, signingCertificate: metadataSigningCertificate },
                opts,
              )
            : await idpFromMetadata({ kind: 'document', xml: metadataXml! }, opts);
        input = { ...fromMetadata, ...settings };
      } else if (metadataSigningCertificate) {
        throw new ValidationError({ metadataSigningCertificate: 'only applies to metadata fetched from metadataUrl' });
      }
      const idp = await createIdp(tenant.store, input, by(request));
      return reply.code(201).header('location', `/api/idps/${idp.id}`).send(idpView(idp, tenant.urls));
    },
  );

  app.post<{ Body: OidcBody }>(
    '/api/idps/oidc',
    {
      ...access('admin'),
      ...common,
      schema: {
        tags,
        summary: 'Add an OpenID Connect identity provider',
        description:
          'Send `{ name, issuer, clientId, clientSecret }`: the discovery document (`<issuer>/.well-known/openid-configuration`) is fetched by the server under the same network rules as SAML metadata, and refreshed like it. Or `discovery` (the document, as JSON text) instead of `issuer`. The client secret is sealed at rest and never shown again. Register the `oidc.redirectUri` of the answer at the IdP. Validation failures answer 400 `validation_failed`; an issuer already registered 409 `idp_exists`.',
        body: {
          type: 'object',
          required: ['name', 'clientId'],
          additionalProperties: false,
          properties: {
            name: optionProperties.name,
            emailDomains: optionProperties.emailDomains,
            linkingMode: optionProperties.linkingMode,
            issuer: { type: 'string', maxLength: 2048 },
            discovery: { type: 'string', maxLength: 262144 },
            clientId: { type: 'string', maxLength: 512 },
            clientSecret: { type: 'string', maxLength: 1024 },
            clientAuth: { type: 'string', enum: [...OIDC_CLIENT_AUTHS] },
            scopes: { type: 'string', maxLength: 512, description: 'Default "openid email profile"' },
            mappingPreset: {
              type: 'string',
              enum: OIDC_PRESETS,
              description:
                'Claim mapping: oidc-entra (identity tid/oid, preferred_username for a missing email), oidc-google (hd checked against emailDomains), oidc-okta, oidc-keycloak, custom',
            },
            attributeMapping: optionProperties.attributeMapping,
            userinfo: {
              type: 'boolean',
              description: "Merge the userinfo endpoint's claims into the ID token's (default false)",
            },
          },
        },
        response: { 201: idpSchema, 400: errorJson, 409: errorJson },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      const { name, emailDomains, linkingMode, attributeMapping, mappingPreset, ...source } = request.body;
      if ((source.issuer === undefined) === (source.discovery === undefined))
        throw new ValidationError({ issuer: 'send either issuer or discovery' });
      const input = await oidcIdpInput(
        { ...source, preset: mappingPreset ?? 'custom' },
        {
          orgId: tenant.org.id,
          box: ctx.box,
          now: ctx.clock.now(),
          allowPrivate: ctx.config.metadataAllowPrivate,
          timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
          refreshSeconds: ctx.config.metadataRefreshIntervalSeconds,
        },
      );
      const idp = await createIdp(
        tenant.store,
        {
          ...input,
          name,
          ...(emailDomains && { emailDomains }),
          ...(linkingMode && { linkingMode }),
          ...(attributeMapping && { attributeMapping }),
        },
        by(request),
      );
      return reply.code(201).header('location', `/api/idps/${idp.id}`).send(idpView(idp, tenant.urls));
    },
  );

  app.patch<IdRequest & { Body: IdentityProviderInput }>(
    '/api/idps/:id',
    {
      ...access('admin'),
      ...common,
      schema: {
        tags,
        summary: 'Change an identity provider',
        description:
          'Only the fields sent change (`emailDomains` replaces the whole list). 409 `idp_exists` or `idp_domain_taken` as on create.',
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: { ...optionProperties, ...manualProperties } },
        response: { 200: idpSchema, 400: errorJson, 404: errorJson, 409: errorJson },
      },
    },
    async (request) =>
      idpView(
        await updateIdp(requireTenant(request).store, request.params.id, request.body ?? {}, by(request)),
        requireTenant(request).urls,
      ),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post<IdRequest>(
      `/api/idps/:id/${action}`,
      {
        ...access('admin'),
        ...common,
        schema: {
          tags,
          summary:
            action === 'enable'
              ? 'Enable an identity provider'
              : 'Disable an identity provider (no new logins through it)',
          params: idParams,
          response: { 200: idpSchema, 404: errorJson },
        },
      },
      async (request) =>
        idpView(
          await setIdpEnabled(requireTenant(request).store, request.params.id, action === 'enable', by(request)),
          requireTenant(request).urls,
        ),
    );
  }

  app.post<IdRequest>(
    '/api/idps/:id/refresh-metadata',
    {
      ...access('admin'),
      ...common,
      schema: {
        tags,
        summary: 'Fetch the metadata of an identity provider added by URL now',
        description:
          'The scheduled refresh, run at once: `updated` (with the changes, if any) or `failed` (the previous copy stays in use). 400 when the identity provider has no metadata URL, 409 while another refresh runs.',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['updated', 'failed', 'superseded'] },
              error: { type: 'string' },
              changes: { type: ['object', 'null'], additionalProperties: true },
              idp: idpSchema,
            },
          },
          400: errorJson,
          404: errorJson,
          409: errorJson,
        },
      },
    },
    async (request) => {
      const { store, urls } = requireTenant(request);
      const outcome = await refreshIdpMetadataNow(ctx, store, request.params.id, request.apiActor ?? 'api');
      return { ...outcome, idp: idpView(await findIdp(store, request.params.id), urls) };
    },
  );

  app.delete<IdRequest>(
    '/api/idps/:id',
    {
      ...access('admin'),
      ...common,
      schema: {
        tags,
        summary: 'Delete an identity provider',
        description:
          'In one transaction: apps using it as primary identity provider are cleared, its identity links are removed and the broker sessions it started end.',
        params: idParams,
        response: { 204: { type: 'null' }, 404: errorJson },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      await findIdp(tenant.store, request.params.id);
      await deleteIdp(ctx.store, tenant.org.id, request.params.id, by(request));
      return reply.code(204).send();
    },
  );
}
