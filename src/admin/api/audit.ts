// /api/audit: the organisation's audit log with the console's filters, newest first in keyset pages, and as CSV.
import type { FastifyInstance } from 'fastify';
import { PassThrough } from 'node:stream';
import type { AppContext } from '../../context.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { auditQueryOf, cleanFilters } from '../../audit/audit-filters.ts';
import { auditPage } from '../../audit/audit-page.ts';
import { exportAuditCsv } from '../../audit/audit-csv.ts';
import { access } from '../roles.ts';

const nullableString = { type: ['string', 'null'] };
const filterProperties = {
  from: { type: 'string', description: 'ISO 8601 time (UTC when no zone is given); events at or after it' },
  to: { type: 'string', description: 'ISO 8601 time (UTC when no zone is given); events at or before it' },
  type: { type: 'string', description: 'exact event type (login.denied), or a family ending in * (mfa.*)' },
  user: { type: 'string', description: "a user's email (must exist) or id" },
  userId: { type: 'string', description: 'a user id (also of a deleted user)' },
  app: { type: 'string', description: 'app id' },
  idp: { type: 'string', description: 'identity provider id' },
  actor: { type: 'string', description: 'who made a change: an admin email, api-token:<name>, cli' },
  code: { type: 'string', description: 'error code of a refusal (saml_bad_signature, link_refused…)' },
};
const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    type: { type: 'string' },
    outcome: { type: 'string', enum: ['success', 'failure'] },
    code: nullableString,
    actor: nullableString,
    userId: nullableString,
    userEmail: nullableString,
    appId: nullableString,
    appName: nullableString,
    idpId: nullableString,
    idpName: nullableString,
    flowId: nullableString,
    details: { type: 'object', additionalProperties: true },
  },
};

export async function auditApi(app: FastifyInstance, { ctx: _ctx }: { ctx: AppContext }) {
  app.get<{ Querystring: Record<string, string | undefined> & { take?: number } }>(
    '/api/audit',
    {
      ...access('viewer'),
      schema: {
        tags: ['audit'],
        summary: 'Audit events, newest first',
        description:
          'Keyset pages: pass `before` = `older` of the previous answer for older events, `after` = `newer` for newer ones.',
        querystring: {
          type: 'object',
          properties: {
            ...filterProperties,
            before: { type: 'string' },
            after: { type: 'string' },
            take: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { events: { type: 'array', items: eventSchema }, older: nullableString, newer: nullableString },
          },
        },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      const q = request.query;
      return auditPage(tenant.store, await auditQueryOf(tenant.store, cleanFilters(q)), {
        before: q.before,
        after: q.after,
        take: q.take ?? 100,
      });
    },
  );

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/api/audit/export',
    {
      ...access('viewer'),
      schema: {
        tags: ['audit'],
        summary: 'Audit events as CSV (same filters), newest first',
        querystring: { type: 'object', properties: filterProperties, additionalProperties: false },
        response: {
          200: {
            description: 'CSV (UTF-8 with BOM); cells that spreadsheets would run as formulas start with an apostrophe',
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      const query = await auditQueryOf(tenant.store, cleanFilters(request.query));
      const out = new PassThrough();
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${tenant.org.slug}-audit.csv"`);
      exportAuditCsv(tenant.store, query, out).then(
        () => out.end(),
        (err) => out.destroy(err),
      );
      return reply.send(out);
    },
  );
}
