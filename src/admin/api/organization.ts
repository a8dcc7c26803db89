// /api/organization: the organisation's settings and URLs (GET) and changes to them (PATCH, the same validation as
// the console). The logo itself is not part of it: it is served at /branding/logo.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import { logoUrlOf } from '../../orgs/hosted/logo.ts';
import { updateOrganizationSettings } from '../../orgs/hosted/settings.ts';
import type { OrgUrls } from '../../orgs/urls.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import type { BrandingUpdate, Organization, SettingsUpdate } from '../../store/organizations.ts';
import { access } from '../roles.ts';

const nullableString = { type: ['string', 'null'] } as const;

/** The fields PATCH accepts, with their types (the values are checked by updateOrganizationSettings). */
const settingsProperties = {
  name: { type: 'string', description: 'Display name shown on every page' },
  logoUrl: { ...nullableString, description: 'https URL of a logo, used when none is uploaded in the console' },
  primaryColor: { type: 'string', description: '#rrggbb' },
  accentColor: { type: 'string', description: '#rrggbb' },
  loginMessage: { ...nullableString, description: 'Shown on the login page' },
  jitProvisioning: {
    type: 'boolean',
    description: 'Create users on their first sign-in when no directory entry matches',
  },
  sessionTtlSeconds: { type: 'integer', description: 'Broker session lifetime, 60 s to 30 days' },
  totpDigits: { type: 'integer', enum: [6, 8], description: 'For new TOTP enrolments' },
  totpPeriod: { type: 'integer', description: 'For new TOTP enrolments, 15-120 s' },
  totpAlgorithm: { type: 'string', enum: ['SHA1', 'SHA256', 'SHA512'], description: 'For new TOTP enrolments' },
  requireAdminTotp: { type: 'boolean', description: 'Admins must set up two-factor sign-in before using the console' },
  notifyNewDevice: { type: 'boolean', description: 'E-mail users after a sign-in from a new device (needs SMTP_URL)' },
  webauthnCounterPolicy: {
    type: 'string',
    enum: ['refuse', 'allow-flagged'],
    description:
      'A security key whose signature counter went backwards (a possible clone): refuse the sign-in (default), or accept it, flag the key and audit webauthn.counter_regressed',
  },
} as const;
const SETTINGS = Object.keys(settingsProperties) as (keyof typeof settingsProperties)[];

const urlNames = [
  'base',
  'login',
  'admin',
  'idpEntityId',
  'idpMetadata',
  'idpSso',
  'idpSlo',
  'spEntityId',
  'spMetadata',
  'spAcs',
  'spSlo',
] as const;

const organizationSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    slug: { type: 'string', description: 'The subdomain; it never changes' },
    ...settingsProperties,
    effectiveLogoUrl: {
      ...nullableString,
      description: 'What pages show: /branding/logo when a logo is uploaded, else logoUrl',
    },
    hasUploadedLogo: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    urls: { type: 'object', properties: Object.fromEntries(urlNames.map((n) => [n, { type: 'string' }])) },
  },
} as const;

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

function present(org: Organization, urls: OrgUrls) {
  return {
    id: org.id,
    slug: org.slug,
    name: org.name,
    logoUrl: org.logoUrl,
    primaryColor: org.primaryColor,
    accentColor: org.accentColor,
    loginMessage: org.loginMessage,
    jitProvisioning: org.jitProvisioning,
    sessionTtlSeconds: org.sessionTtlSeconds,
    totpDigits: org.totpDigits,
    totpPeriod: org.totpPeriod,
    totpAlgorithm: org.totpAlgorithm,
    requireAdminTotp: org.requireAdminTotp,
    notifyNewDevice: org.notifyNewDevice,
    webauthnCounterPolicy: org.webauthnCounterPolicy,
    effectiveLogoUrl: logoUrlOf(org),
    hasUploadedLogo: Boolean(org.logoContentType),
    createdAt: org.createdAt,
    updatedAt: org.updatedAt,
    urls: Object.fromEntries(urlNames.map((n) => [n, urls[n]])),
  };
}

export async function organizationApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.get(
    '/api/organization',
    {
      ...access('viewer'),
      schema: {
        tags: ['organization'],
        summary: "The organisation's settings, branding and URLs",
        response: { 200: organizationSchema },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      return present(tenant.org, tenant.urls);
    },
  );

  app.patch<{ Body: Record<string, unknown> }>(
    '/api/organization',
    {
      ...access('admin'),
      schema: {
        tags: ['organization'],
        summary: 'Change settings or branding (only the fields sent); the slug cannot be changed',
        body: { type: 'object', properties: settingsProperties, minProperties: 1 },
        response: { 200: organizationSchema, 400: errorSchema },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      // Unknown fields are refused rather than ignored, so a typo (or an attempt to change the slug) is not a silent no-op.
      const unknown = Object.keys(request.body).filter((k) => !(SETTINGS as string[]).includes(k));
      if (unknown.length)
        throw new ValidationError(
          Object.fromEntries(
            unknown.map((k) => [
              k,
              k === 'slug'
                ? "cannot be changed: it is the organisation's address and part of its entity IDs"
                : 'is not a setting',
            ]),
          ),
        );
      const input = Object.fromEntries(
        SETTINGS.filter((k) => k in request.body).map((k) => [k, request.body[k]]),
      ) as BrandingUpdate & SettingsUpdate;
      const updated = await updateOrganizationSettings(ctx, tenant.org.id, input, request.apiActor ?? 'api');
      return present(updated, tenant.urls);
    },
  );
}
