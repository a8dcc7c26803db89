// /api/apps/{id}/policy: an app's login policy. Read it, replace the ordered rule list, or flip the one-click
// 2-factor switch. Validation and audit live in src/policy/app-policy.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { findApp, type ChangeBy } from '../../orgs/remote/app-lifecycle.ts';
import { appPolicy, MAX_REMEMBER_DEVICE_DAYS, saveAppPolicy, setAppTwoFactor } from '../../policy/app-policy.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { appIdParams, errorResponses, fieldErrorsFromSchema } from './schema-errors.ts';
import { access } from '../roles.ts';

/** Documents a rule for the OpenAPI file and checks JSON types; the policy validation (rules.ts) has the last word. */
const ruleJson = {
  type: 'object',
  required: ['id', 'action'],
  additionalProperties: false,
  properties: {
    id: {
      type: 'string',
      description: 'Unique within the app: letters, digits, - and _. The one-click 2-factor rule is `everyone-totp`.',
    },
    name: { type: 'string', description: 'Shown to admins.' },
    conditions: {
      type: 'object',
      additionalProperties: false,
      description: 'All given conditions must match; each lists alternatives. No conditions: matches everyone.',
      properties: {
        idpIds: {
          type: 'array',
          items: { type: 'string' },
          description: 'Signed in through one of these identity providers.',
        },
        groups: {
          type: 'array',
          items: { type: 'string' },
          description: 'Member of one of these groups (directory or IdP).',
        },
        emailDomains: {
          type: 'array',
          items: { type: 'string' },
          description: 'Email address in one of these domains.',
        },
        userStatus: { type: 'string', enum: ['active', 'disabled'] },
      },
    },
    action: { type: 'string', enum: ['allow', 'deny', 'require_totp'] },
    message: { type: 'string', description: 'deny: what the user is told.' },
    freshFactor: {
      type: 'boolean',
      description: 'require_totp: ask again even after a code earlier in the broker session.',
    },
    rememberDeviceDays: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_REMEMBER_DEVICE_DAYS,
      description: 'require_totp: offer "remember this device" for N days.',
    },
    secondFactor: {
      type: 'string',
      enum: ['totp', 'any', 'webauthn'],
      description:
        'require_totp: which second factors count: `totp` (default) an authenticator app, `any` that or a passkey / security key, `webauthn` a passkey or security key only (phishing-resistant).',
    },
  },
} as const;

const policyJson = {
  type: 'object',
  properties: {
    appId: { type: 'string' },
    valid: {
      type: 'boolean',
      description: 'false: the stored rules cannot be read and every login is denied until they are replaced.',
    },
    twoFactor: { type: 'boolean', description: 'Whether the one-click 2-factor rule is on.' },
    rememberDeviceDays: { type: 'integer', description: 'Of the one-click 2-factor rule.' },
    rules: {
      type: 'array',
      items: ruleJson,
      description: 'In order: the first matching rule decides; none matching: allow.',
    },
  },
} as const;

type IdParams = { Params: { id: string } };

export async function policiesApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.setSchemaErrorFormatter(fieldErrorsFromSchema);
  const changeBy = (request: FastifyRequest): ChangeBy => ({ actor: request.apiActor ?? 'api', at: ctx.clock.now() });
  const tags = ['policies'];
  const reply200 = { 200: policyJson, ...errorResponses };

  app.get<IdParams>(
    '/api/apps/:id/policy',
    {
      ...access('viewer'),
      schema: { tags, summary: "Get an app's login policy", params: appIdParams, response: reply200 },
    },
    async (request) => {
      const target = await findApp(requireTenant(request).store, request.params.id);
      return { appId: target.id, ...appPolicy(target) };
    },
  );

  app.put<IdParams & { Body: { rules: unknown[] } }>(
    '/api/apps/:id/policy',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: "Replace an app's rules",
        description:
          'The whole ordered list. Invalid rules: 400 with `details.fields` such as `rules.2.action`; nothing is changed.',
        params: appIdParams,
        body: {
          type: 'object',
          required: ['rules'],
          additionalProperties: false,
          properties: { rules: { type: 'array', maxItems: 100, items: ruleJson } },
        },
        response: reply200,
      },
    },
    async (request) => {
      const { store } = requireTenant(request);
      const saved = await saveAppPolicy(
        store,
        await findApp(store, request.params.id),
        request.body.rules,
        changeBy(request),
      );
      return { appId: request.params.id, ...saved };
    },
  );

  app.post<IdParams & { Body: { enabled: boolean; rememberDeviceDays?: number } }>(
    '/api/apps/:id/policy/two-factor',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Switch 2-factor authentication on or off for an app',
        description:
          'The guides\' "Enable 2-Factor Authentication": one rule requiring TOTP for everyone, placed after any deny rules.',
        params: appIdParams,
        body: {
          type: 'object',
          required: ['enabled'],
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            rememberDeviceDays: { type: 'integer', minimum: 0, maximum: MAX_REMEMBER_DEVICE_DAYS },
          },
        },
        response: reply200,
      },
    },
    async (request) => {
      const { store } = requireTenant(request);
      const saved = await setAppTwoFactor(
        store,
        await findApp(store, request.params.id),
        request.body,
        changeBy(request),
      );
      return { appId: request.params.id, ...saved };
    },
  );
}
