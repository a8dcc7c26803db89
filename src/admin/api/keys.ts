// /api/keys: signing-key rollover over the API, the same steps as the console and the CLI (orgs/hosted/key-rollover.ts):
// create a next key, promote it (now or on a date), retire previous keys. Every step is audited there.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import {
  createNextKey,
  listKeys,
  promoteNextKey,
  retirePreviousKeys,
  schedulePromotion,
} from '../../orgs/hosted/key-rollover.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import type { SigningKeyRow } from '../../store/signing-keys.ts';
import { access } from '../roles.ts';

const nullableDate = { type: ['string', 'null'], format: 'date-time' } as const;

const keySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['next', 'active', 'previous', 'retired'] },
    fingerprint: { type: 'string', description: 'SHA-256 of the DER certificate, colon-separated hex' },
    certificatePem: { type: 'string' },
    notAfter: { type: 'string', format: 'date-time', description: 'Expiry of the certificate' },
    createdAt: { type: 'string', format: 'date-time' },
    activatedAt: nullableDate,
    retiredAt: nullableDate,
    promoteAt: { ...nullableDate, description: 'Scheduled promotion of a next key' },
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

const present = (k: SigningKeyRow) => ({
  id: k.id,
  status: k.status,
  fingerprint: k.fingerprint,
  certificatePem: k.certificatePem,
  notAfter: k.notAfter,
  createdAt: k.createdAt,
  activatedAt: k.activatedAt,
  retiredAt: k.retiredAt,
  promoteAt: k.status === 'next' ? k.promoteAt : null,
});

export async function keysApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const actor = (request: { apiActor?: string }) => request.apiActor ?? 'api';

  app.get(
    '/api/keys',
    {
      ...access('viewer'),
      schema: {
        tags: ['keys'],
        summary: 'Signing keys: active, next, previous and retired',
        response: { 200: { type: 'object', properties: { keys: { type: 'array', items: keySchema } } } },
      },
    },
    async (request) => ({ keys: (await listKeys(requireTenant(request))).map(present) }),
  );

  app.post(
    '/api/keys/next',
    {
      ...access('admin'),
      schema: {
        tags: ['keys'],
        summary: 'Create the next key: published in both metadata documents, signing nothing yet',
        response: { 201: keySchema, 409: errorSchema },
      },
    },
    async (request, reply) =>
      reply.code(201).send(present(await createNextKey(ctx, requireTenant(request), actor(request)))),
  );

  app.post(
    '/api/keys/promote',
    {
      ...access('admin'),
      schema: {
        tags: ['keys'],
        summary: 'Promote the next key now: it signs from now on; the active key becomes previous',
        response: { 200: keySchema, 409: errorSchema },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      const promoted = await promoteNextKey(ctx, tenant, actor(request));
      return present((await tenant.store.signingKeys.active()) ?? promoted);
    },
  );

  app.post(
    '/api/keys/retire',
    {
      ...access('admin'),
      schema: {
        tags: ['keys'],
        summary: 'Retire previous keys (removes them from the metadata)',
        response: { 200: { type: 'object', properties: { retired: { type: 'integer' } } } },
      },
    },
    async (request) => ({ retired: await retirePreviousKeys(ctx, requireTenant(request), actor(request)) }),
  );

  app.put<{ Body: { at: string | null } }>(
    '/api/keys/next/promote-at',
    {
      ...access('admin'),
      schema: {
        tags: ['keys'],
        summary: 'Schedule the promotion of the next key (null cancels it)',
        body: {
          type: 'object',
          required: ['at'],
          properties: {
            at: { type: ['string', 'null'], format: 'date-time', description: 'When to promote, in the future' },
          },
        },
        response: { 200: keySchema, 400: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const key = await schedulePromotion(
        ctx,
        requireTenant(request),
        request.body.at === null ? null : new Date(request.body.at),
        actor(request),
      );
      return present(key);
    },
  );
}
