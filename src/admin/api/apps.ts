// /api/apps: the organisation's downstream apps. Create from SP metadata (URL or document) or field by field,
// change, delete, and read the values to configure in the app. Domain calls live in src/orgs.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { appConnectionDetails } from '../../orgs/remote/app-connection.ts';
import {
  createApp,
  deleteApp,
  findApp,
  setAppEnabled,
  updateApp,
  type ChangeBy,
} from '../../orgs/remote/app-lifecycle.ts';
import { RELEASABLE_ATTRIBUTES } from '../../orgs/remote/registrations.ts';
import { spMetadataInput } from '../../orgs/remote/sp-metadata-input.ts';
import { appPolicy } from '../../policy/app-policy.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { ValidationError } from '../../errors.ts';
import type { Application, ApplicationInput } from '../../store/applications.ts';
import { appIdParams, errorResponses, fieldErrorsFromSchema } from './schema-errors.ts';
import { access } from '../roles.ts';

const nullableString = (description: string, extra: Record<string, unknown> = {}) => ({
  type: ['string', 'null'],
  description,
  ...extra,
});

/** Writable fields of an app, shared by create and update. */
const appFields = {
  name: { type: 'string', maxLength: 100, description: 'Shown to admins and on the user portal.' },
  entityId: {
    type: 'string',
    maxLength: 1024,
    description: "The app's SP entity ID (the audience of our assertions).",
  },
  acsUrls: {
    type: 'array',
    items: { type: 'string' },
    description: 'Assertion consumer service URLs (HTTP-POST); the first is the default.',
  },
  sloUrl: nullableString("The app's single logout URL."),
  certificate: nullableString(
    "The app's X.509 certificate (PEM or base64): checks signed AuthnRequests, encrypts assertions.",
  ),
  wantAuthnRequestsSigned: { type: 'boolean', description: 'Refuse AuthnRequests without a valid signature.' },
  signResponse: { type: 'boolean', description: "Sign the Response (Jira's SSO app expects this)." },
  signAssertion: { type: 'boolean', description: 'Sign the Assertion.' },
  encryptAssertion: { type: 'boolean', description: 'Encrypt the assertion with the app certificate.' },
  allowSha1: {
    type: 'boolean',
    description:
      "Legacy switch, default false: accept RSA-SHA1 signatures on this app's requests (pysaml2's default and many older SP libraries). Changes are audited (app.updated with details.changes.allowSha1).",
  },
  nameIdFormat: { type: 'string', enum: ['emailAddress', 'persistent', 'unspecified'] },
  attributeRelease: {
    type: 'array',
    items: { type: 'string', enum: [...RELEASABLE_ATTRIBUTES] },
    description: 'Attributes sent to the app.',
  },
  defaultRelayState: nullableString('RelayState for launch-link logins.'),
  primaryIdpId: nullableString(
    'Identity provider used for this app; null lets the user choose (or uses the only one).',
  ),
  enabled: { type: 'boolean', description: 'A disabled app refuses logins.' },
} as const;

const appJson = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    ...appFields,
    twoFactor: {
      type: 'boolean',
      description: 'Whether the one-click 2-factor rule is on (see /api/apps/{id}/policy).',
    },
    launchUrl: { type: 'string', description: 'Starts a login to this app (IdP-initiated).' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const connectionJson = {
  type: 'object',
  properties: {
    idpEntityId: { type: 'string' },
    ssoUrlRedirect: { type: 'string' },
    ssoUrlPost: { type: 'string' },
    sloUrl: { type: 'string' },
    metadataUrl: { type: 'string' },
    certificatePem: { type: ['string', 'null'] },
    launchUrl: { type: 'string' },
  },
} as const;

type AppBody = ApplicationInput & { metadataUrl?: string; metadataXml?: string };
type IdParams = { Params: { id: string } };

export async function appsApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.setSchemaErrorFormatter(fieldErrorsFromSchema);
  const changeBy = (request: FastifyRequest): ChangeBy => ({ actor: request.apiActor ?? 'api', at: ctx.clock.now() });
  const toJson = (request: FastifyRequest, a: Application) => ({
    ...a,
    twoFactor: appPolicy(a).twoFactor,
    launchUrl: requireTenant(request).urls.appLaunch(a.id),
  });
  const tags = ['apps'];

  app.get(
    '/api/apps',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: 'List apps',
        response: {
          200: { type: 'object', properties: { apps: { type: 'array', items: appJson } } },
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      apps: (await requireTenant(request).store.applications.list()).map((a) => toJson(request, a)),
    }),
  );

  app.get<IdParams>(
    '/api/apps/:id',
    {
      ...access('viewer'),
      schema: { tags, summary: 'Get an app', params: appIdParams, response: { 200: appJson, ...errorResponses } },
    },
    async (request) => toJson(request, await findApp(requireTenant(request).store, request.params.id)),
  );

  app.post<{ Body: AppBody }>(
    '/api/apps',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Add an app',
        description:
          'From SP metadata (`metadataUrl` to fetch, or `metadataXml`) or field by field (`entityId`, `acsUrls`, …). Fields given next to metadata override what the metadata says.',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            ...appFields,
            metadataUrl: { type: 'string', maxLength: 2048 },
            metadataXml: { type: 'string' },
          },
        },
        response: { 201: appJson, ...errorResponses },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      const { metadataUrl, metadataXml, ...fields } = request.body;
      if (metadataUrl && metadataXml)
        throw new ValidationError({ metadataUrl: 'send metadataUrl or metadataXml, not both' });
      const fromMetadata = metadataXml
        ? await spMetadataInput(
            { xml: metadataXml },
            { allowPrivate: ctx.config.metadataAllowPrivate, field: 'metadataXml' },
          )
        : metadataUrl
          ? await spMetadataInput(
              { url: metadataUrl },
              { allowPrivate: ctx.config.metadataAllowPrivate, field: 'metadataUrl' },
            )
          : {};
      const created = await createApp(tenant.store, { ...fromMetadata, ...fields }, changeBy(request), {
        fromMetadata: metadataXml || metadataUrl ? fromMetadata : undefined,
      });
      return reply.code(201).header('location', `/api/apps/${created.id}`).send(toJson(request, created));
    },
  );

  app.patch<IdParams & { Body: ApplicationInput }>(
    '/api/apps/:id',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Change an app',
        description: 'Only the fields sent change. `null` clears an optional field.',
        params: appIdParams,
        body: { type: 'object', additionalProperties: false, properties: appFields },
        response: { 200: appJson, ...errorResponses },
      },
    },
    async (request) => {
      const { store } = requireTenant(request);
      const { enabled, ...fields } = request.body;
      // Switching an app on or off is its own audited event, as in the console.
      let updated = await updateApp(store, request.params.id, fields, changeBy(request));
      if (enabled !== undefined) updated = await setAppEnabled(store, updated.id, enabled, changeBy(request));
      return toJson(request, updated);
    },
  );

  app.delete<IdParams>(
    '/api/apps/:id',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Delete an app (and its login policy)',
        params: appIdParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await deleteApp(requireTenant(request).store, request.params.id, changeBy(request));
      return reply.code(204).send();
    },
  );

  app.get<IdParams>(
    '/api/apps/:id/metadata',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: 'What to configure in the app',
        description:
          "The organisation's IdP values for the app's SAML settings, and the app's launch URL. The same as the XML at /saml/idp/metadata.",
        params: appIdParams,
        response: { 200: connectionJson, ...errorResponses },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      return appConnectionDetails(tenant, await findApp(tenant.store, request.params.id));
    },
  );
}
