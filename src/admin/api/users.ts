// /api/users: the organisation's directory: list (keyset or offset pages), one user, add, change, delete, the
// second-factor actions, linked identities, bulk import (a job to poll) and export. The work is done by src/users.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import type { User } from '../../store/users.ts';
import { SECOND_FACTOR_FILTERS, USER_SORTS, USER_STATUS_FILTERS } from '../../store/user-list-sql.ts';
import { directoryPage } from '../../users/directory-page.ts';
import { readDirectoryQuery, type RawDirectoryQuery } from '../../users/directory-query.ts';
import { exportUsersCsv } from '../../users/export-csv.ts';
import { importLiveness, MAX_IMPORT_FILE_BYTES, UserImportService } from '../../users/import/import-service.ts';
import { BULK_ACTIONS, BULK_MAX, runBulkAction, type BulkActionName } from '../../users/bulk-actions.ts';
import { UserAdmin } from '../../users/user-admin.ts';
import { PassThrough } from 'node:stream';
import { access, type AdminRole } from '../roles.ts';

const flag = (v: unknown) => v === '1' || v === 'true';

const nullableString = { type: ['string', 'null'] };
const nullableTime = { type: ['string', 'null'], format: 'date-time' };
const TWO_FACTOR_STATES = ['none', 'pending', 'active', 'locked'];
const userProperties = {
  id: { type: 'string' },
  email: { type: 'string' },
  username: nullableString,
  firstName: nullableString,
  lastName: nullableString,
  phone: nullableString,
  groups: { type: 'array', items: { type: 'string' } },
  status: { type: 'string', enum: ['active', 'disabled'] },
  source: { type: 'string', enum: ['admin', 'imported', 'jit', 'scim'] },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
  lastLoginAt: nullableTime,
};
const userSchema = { type: 'object', properties: userProperties };
const identitySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    idpId: { type: 'string' },
    idpName: nullableString,
    nameId: { type: 'string' },
    source: {
      type: 'string',
      enum: ['login', 'imported', 'admin', 'scim'],
      description:
        "login: linked or created at sign-in; imported: an import's pre-link; admin: added by an admin; scim: provisioned by the IdP's SCIM client",
    },
    createdAt: { type: 'string', format: 'date-time' },
  },
};
const sessionsSchema = {
  type: 'array',
  description:
    "Open broker sessions (single sign-on between this organisation's apps), newest first; no address or browser is stored with them",
  items: {
    type: 'object',
    properties: {
      ref: { type: 'string', description: 'a short reference (the start of the stored hash, not the cookie)' },
      idpId: { type: 'string' },
      idpName: nullableString,
      createdAt: { type: 'string', format: 'date-time' },
      lastUsedAt: {
        type: 'string',
        format: 'date-time',
        description: 'the last time an app received an assertion in it',
      },
      expiresAt: { type: 'string', format: 'date-time' },
      mfaAt: nullableTime,
      apps: { type: 'integer', description: 'apps signed in to in this session' },
    },
  },
};
const listedUserSchema = {
  type: 'object',
  properties: {
    ...userProperties,
    twoFactor: { type: 'string', enum: TWO_FACTOR_STATES, description: 'state of the authenticator app (TOTP)' },
    passkeys: { type: 'boolean', description: 'whether the user has a passkey or security key' },
  },
};
const userDetailsSchema = {
  type: 'object',
  properties: {
    ...userProperties,
    twoFactor: {
      type: 'object',
      properties: {
        state: { type: 'string', enum: TWO_FACTOR_STATES },
        lockedUntil: nullableTime,
        failedAttempts: { type: 'integer' },
      },
    },
    rememberedDevices: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          label: nullableString,
          createdAt: { type: 'string', format: 'date-time' },
          expiresAt: { type: 'string', format: 'date-time' },
        },
      },
    },
    identities: { type: 'array', items: identitySchema },
    sessions: sessionsSchema,
    passkeys: {
      type: 'array',
      description: 'Passkeys and security keys (WebAuthn) of the user',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          lastUsedAt: nullableTime,
          synced: { type: 'boolean', description: 'a passkey that may be synced between devices' },
          backedUp: { type: 'boolean' },
          counterWentBackAt: {
            ...nullableTime,
            description: 'when a signature counter that went backwards was seen (a possible copy)',
          },
        },
      },
    },
  },
};
/** Types only: the rules (email syntax, lengths, duplicates) are the domain's, answered as 400 with details.fields. */
const userBody = (required: string[]) => ({
  type: 'object',
  properties: {
    email: { type: 'string' },
    username: nullableString,
    firstName: nullableString,
    lastName: nullableString,
    phone: nullableString,
    groups: { type: 'array', items: { type: 'string' } },
  },
  required,
  additionalProperties: false,
});
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
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
};
const errors = { 400: errorSchema, 404: errorSchema };
const tags = ['users'];
const withoutKeys = ({ emailLower: _e, orgId: _o, ...u }: User) => u;
const detailsJson = (d: Awaited<ReturnType<UserAdmin['details']>>) => ({
  ...withoutKeys(d.user),
  twoFactor: d.twoFactor,
  rememberedDevices: d.devices,
  identities: d.identities,
  sessions: d.sessions,
  passkeys: d.passkeys,
});

export async function usersApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const imports = new UserImportService({ store: ctx.store, clock: ctx.clock }, { ...importLiveness(ctx.config) });

  const adminOf = (request: FastifyRequest) => new UserAdmin(ctx, requireTenant(request));
  const actorOf = (request: FastifyRequest) => request.apiActor ?? 'api';

  app.get<{ Querystring: RawDirectoryQuery & { skip?: number; take?: number } }>(
    '/api/users',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: 'List users, filtered and sorted',
        description:
          'Filters (all optional, combined with AND): `search` (start of an email, first name or last name), `status` (active, disabled, or locked: second factor locked after wrong codes), `group` (exact name), `idp` (id of an identity provider: users with an identity linked there), `secondFactor` (none, totp, passkey, both). Sort: `sort` = email (default), name (last name, first name), lastLogin (never signed in counts as oldest), created; `order` = asc (default) or desc. Pages: pass `after` = `next` (or `before` = `previous`) of the previous answer, with the same filters and sort (fast at any depth); `skip` still works for small directories and then counts the matches in `total`. Otherwise `total` (users in the organisation) comes with the first page of an unfiltered list only. An unknown value, IdP or cursor: 400 validation_failed naming the parameter in `details.fields`.',
        // Values are checked by the domain (users/directory-query.ts), so that any wrong one is validation_failed naming it.
        querystring: {
          type: 'object',
          properties: {
            search: { type: 'string', maxLength: 320 },
            status: { type: 'string', description: USER_STATUS_FILTERS.join(' | ') },
            group: { type: 'string', maxLength: 320 },
            idp: { type: 'string', maxLength: 64 },
            secondFactor: { type: 'string', description: SECOND_FACTOR_FILTERS.join(' | ') },
            sort: { type: 'string', description: USER_SORTS.join(' | ') },
            order: { type: 'string', description: 'asc | desc' },
            skip: { type: 'integer', minimum: 0, maximum: 100000 },
            take: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            after: { type: 'string', maxLength: 1200 },
            before: { type: 'string', maxLength: 1200 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              users: { type: 'array', items: listedUserSchema },
              skip: { type: 'integer' },
              take: { type: 'integer' },
              total: { type: ['integer', 'null'] },
              next: nullableString,
              previous: nullableString,
            },
          },
          400: errorSchema,
        },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      const { skip = 0, take = 50, ...raw } = request.query;
      const query = await readDirectoryQuery(tenant.store, raw);
      if (skip > 0 && (query.after || query.before))
        throw new ValidationError({ skip: 'give skip or a cursor (after, before), not both' });
      const page = await directoryPage(tenant.store, { ...query, take, skip, count: skip > 0 }, ctx.clock.now());
      return {
        users: page.users.map(withoutKeys),
        next: page.next,
        previous: page.previous,
        total: page.total,
        skip,
        take,
      };
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/api/users',
    {
      ...access('admin'),
      schema: { tags, summary: 'Add a user', body: userBody(['email']), response: { 201: userSchema, ...errors } },
    },
    async (request, reply) =>
      reply.code(201).send(withoutKeys(await adminOf(request).create(request.body, actorOf(request)))),
  );

  app.get<{ Params: { id: string } }>(
    '/api/users/:id',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: 'One user with second factor, remembered devices and linked identities',
        params: idParams,
        response: { 200: userDetailsSchema, 404: errorSchema },
      },
    },
    async (request) => detailsJson(await adminOf(request).details(request.params.id)),
  );

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/api/users/:id',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Change a user (fields not sent keep their value)',
        params: idParams,
        body: userBody([]),
        response: { 200: userSchema, ...errors },
      },
    },
    async (request) => withoutKeys(await adminOf(request).update(request.params.id, request.body, actorOf(request))),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/users/:id',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Delete a user with their links, second factor and remembered devices',
        params: idParams,
        response: { 204: { type: 'null' }, 404: errorSchema },
      },
    },
    async (request, reply) => {
      await adminOf(request).delete(request.params.id, actorOf(request));
      return reply.code(204).send();
    },
  );

  // Actions on one user: each answers with the user's details after the change.
  const actions: Record<
    string,
    { role: AdminRole; summary: string; run: (users: UserAdmin, id: string, actor: string) => Promise<unknown> }
  > = {
    disable: {
      role: 'admin',
      summary: 'Disable a user (every sign-in is refused)',
      run: (u, id, a) => u.setStatus(id, 'disabled', a),
    },
    enable: { role: 'admin', summary: 'Enable a disabled user', run: (u, id, a) => u.setStatus(id, 'active', a) },
    'reset-totp': {
      role: 'helpdesk',
      summary:
        'Remove the whole second factor (authenticator app, passkeys and security keys, recovery codes, remembered devices): the user enrols again',
      run: (u, id, a) => u.resetTotp(id, a),
    },
    unlock: {
      role: 'helpdesk',
      summary: 'Clear a second-factor lockout after too many wrong codes',
      run: (u, id, a) => u.unlock(id, a),
    },
    'revoke-devices': {
      role: 'helpdesk',
      summary: 'Revoke every remembered device of the user',
      run: (u, id, a) => u.revokeDevices(id, a),
    },
  };
  for (const [name, action] of Object.entries(actions)) {
    app.post<{ Params: { id: string } }>(
      `/api/users/:id/${name}`,
      {
        ...access(action.role),
        schema: {
          tags,
          summary: action.summary,
          params: idParams,
          response: { 200: userDetailsSchema, 404: errorSchema },
        },
      },
      async (request) => {
        const users = adminOf(request);
        await action.run(users, request.params.id, actorOf(request));
        return detailsJson(await users.details(request.params.id));
      },
    );
  }

  app.get<{ Params: { id: string } }>(
    '/api/users/:id/sessions',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: "The user's open broker sessions and remembered devices",
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: { sessions: sessionsSchema, rememberedDevices: userDetailsSchema.properties.rememberedDevices },
          },
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const d = await adminOf(request).details(request.params.id);
      return { sessions: d.sessions, rememberedDevices: d.devices };
    },
  );
  app.post<{ Params: { id: string } }>(
    '/api/users/:id/sessions/revoke',
    {
      ...access('helpdesk'),
      schema: {
        tags,
        summary: 'Sign out everywhere: end every broker session of the user and forget their remembered devices',
        description:
          'Apps then send the user to the identity provider again, and the second factor is asked again where a policy needs it. Sessions the apps keep themselves are theirs to end. Audited (user.signed_out_everywhere).',
        params: idParams,
        response: {
          200: {
            type: 'object',
            properties: { sessionsEnded: { type: 'integer' }, devicesRevoked: { type: 'integer' } },
          },
          404: errorSchema,
        },
      },
    },
    async (request) => adminOf(request).signOutEverywhere(request.params.id, actorOf(request)),
  );

  // Bulk actions: one route per action, so each declares the role its single-user action needs.
  for (const [name, action] of Object.entries(BULK_ACTIONS)) {
    app.post<{ Body: { ids: string[] } }>(
      `/api/users/bulk/${name}`,
      {
        ...access(action.role),
        schema: {
          tags,
          summary: `${action.verb} several users (at most ${BULK_MAX})`,
          description: `Each user is changed and audited as by the single-user action. All ids are checked first: one that is not a user of this organisation refuses the request (404 bulk_users_not_found, \`details.ids\`) and nothing is changed; more than ${BULK_MAX}: 400 bulk_too_many; none: 400 bulk_no_users. \`unchanged\`: users already in the state asked for.`,
          body: {
            type: 'object',
            properties: { ids: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 10000 } },
            required: ['ids'],
            additionalProperties: false,
          },
          response: {
            200: {
              type: 'object',
              properties: {
                action: { type: 'string' },
                changed: { type: 'array', items: { type: 'string' } },
                unchanged: { type: 'array', items: { type: 'string' } },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => runBulkAction(adminOf(request), name as BulkActionName, request.body.ids, actorOf(request)),
    );
  }

  app.delete<{ Params: { id: string; passkeyId: string } }>(
    '/api/users/:id/passkeys/:passkeyId',
    {
      ...access('helpdesk'),
      schema: {
        tags,
        summary: "Remove one of the user's passkeys or security keys (lost or suspect)",
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, passkeyId: { type: 'string' } },
          required: ['id', 'passkeyId'],
        },
        response: { 204: { type: 'null' }, 404: errorSchema },
      },
    },
    async (request, reply) => {
      await adminOf(request).removePasskey(request.params.id, request.params.passkeyId, actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/users/:id/identities',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: 'The upstream identities (IdP + NameID) linked to a user, oldest first',
        params: idParams,
        response: {
          200: { type: 'object', properties: { identities: { type: 'array', items: identitySchema } } },
          404: errorSchema,
        },
      },
    },
    async (request) => ({ identities: await adminOf(request).identities(request.params.id) }),
  );

  app.post<{ Params: { id: string }; Body: { idp: string; nameId: string } }>(
    '/api/users/:id/identities',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Link an upstream identity (IdP + NameID) to a user',
        description:
          "Logins through that IdP with that NameID then reach this user, whatever the IdP's linking mode. `idp`: one of this organisation's IdPs by id, entity ID or name. 201 when linked now, 200 when the user already had it; 409 identity_taken when another user holds it (unlink it there first).",
        params: idParams,
        body: {
          type: 'object',
          properties: { idp: { type: 'string' }, nameId: { type: 'string' } },
          required: ['idp', 'nameId'],
          additionalProperties: false,
        },
        response: { 200: identitySchema, 201: identitySchema, ...errors, 409: errorSchema },
      },
    },
    async (request, reply) => {
      const { identity, created } = await adminOf(request).addIdentity(
        request.params.id,
        request.body,
        actorOf(request),
      );
      return reply.code(created ? 201 : 200).send(identity);
    },
  );

  app.delete<{ Params: { id: string; linkId: string } }>(
    '/api/users/:id/identities/:linkId',
    {
      ...access('admin'),
      schema: {
        tags,
        summary: 'Unlink an upstream identity (IdP + NameID) from a user',
        params: {
          type: 'object',
          properties: { id: { type: 'string' }, linkId: { type: 'string' } },
          required: ['id', 'linkId'],
        },
        response: { 204: { type: 'null' }, 404: errorSchema },
      },
    },
    async (request, reply) => {
      await adminOf(request).unlink(request.params.id, request.params.linkId, actorOf(request));
      return reply.code(204).send();
    },
  );

  // Import files are read as bytes, whatever their type: the import parses them itself, streaming and bounded.
  await app.register(async (raw) => {
    raw.removeContentTypeParser(['application/json', 'text/plain']);
    raw.addContentTypeParser(
      ['application/json', 'text/csv', 'text/plain', 'application/octet-stream'],
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );
    raw.post<{ Querystring: Record<string, string | undefined>; Body: Buffer }>(
      '/api/users/import',
      {
        ...access('admin'),
        bodyLimit: MAX_IMPORT_FILE_BYTES,
        schema: {
          tags,
          summary: 'Start a bulk import (CSV or JSON file as the request body); poll the job it returns',
          description:
            'Columns: email (required), username, firstName, lastName, phone, groups (| or ; separated), status, idp + nameId. 413 import_too_large, 409 import_in_progress.',
          querystring: {
            type: 'object',
            properties: {
              mode: {
                type: 'string',
                enum: ['create', 'upsert'],
                description: 'create: new users only (default); upsert: also update existing ones',
              },
              format: { type: 'string', enum: ['csv', 'json'] },
              disableMissing: { type: 'string', enum: ['true', 'false', '1', '0'] },
              dryRun: { type: 'string', enum: ['true', 'false', '1', '0'] },
              allOrNothing: { type: 'string', enum: ['true', 'false', '1', '0'] },
            },
            additionalProperties: false,
          },
          response: {
            202: {
              type: 'object',
              properties: {
                jobId: { type: 'string' },
                status: { type: 'string' },
                notices: {
                  type: 'array',
                  items: { type: 'string' },
                  description:
                    'e.g. an earlier import found dead (no heartbeat) and marked abandoned; this one resumes it',
                },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const tenant = requireTenant(request);
        const q = request.query;
        if (!Buffer.isBuffer(request.body) || !request.body.length)
          throw new AppError('import_empty_body', 'Send the CSV or JSON file as the request body.');
        if (q.mode && !['create', 'upsert'].includes(q.mode))
          throw new AppError('import_bad_mode', 'mode must be create or upsert');
        const format =
          q.format ?? (String(request.headers['content-type']).startsWith('application/json') ? 'json' : undefined);
        const notices: string[] = [];
        const started = await imports.start(
          tenant.org.id,
          { data: request.body, name: format === 'json' ? 'upload.json' : 'upload.csv' },
          {
            mode: (q.mode as 'create' | 'upsert' | undefined) ?? 'create',
            format: format as 'csv' | 'json' | undefined,
            disableMissing: flag(q.disableMissing),
            dryRun: flag(q.dryRun),
            allOrNothing: flag(q.allOrNothing),
            actor: request.apiActor,
            onNotice: (message) => notices.push(message),
          },
        );
        started.done.then(
          () => ctx.metrics.importJobs.inc({ org: tenant.org.slug, outcome: 'done' }),
          (err) => {
            ctx.metrics.importJobs.inc({ org: tenant.org.slug, outcome: 'failed' });
            request.log.warn({ err, jobId: started.jobId }, 'import failed');
          },
        );
        return reply
          .code(202)
          .header('location', `/api/users/import/${started.jobId}`)
          .send({ jobId: started.jobId, status: `/api/users/import/${started.jobId}`, notices });
      },
    );
  });

  app.get<{ Params: { jobId: string } }>(
    '/api/users/import/:jobId',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: 'An import job: status while running, the report (counts and rejected rows) when done',
        params: { type: 'object', properties: { jobId: { type: 'string' } }, required: ['jobId'] },
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              status: { type: 'string', enum: ['running', 'done', 'failed'] },
              phase: { type: 'string' },
              mode: { type: 'string' },
              dryRun: { type: 'boolean' },
              rowsDone: { type: 'integer' },
              rowsTotal: { type: ['integer', 'null'] },
              errors: { type: 'integer' },
              createdAt: { type: 'string', format: 'date-time' },
              finishedAt: nullableTime,
              heartbeatAt: { type: 'string', format: 'date-time' },
              report: {
                type: ['object', 'null'],
                additionalProperties: true,
                description: 'counts, rejections (line, column, reason, email), written, rows, ...',
              },
              error: {
                type: ['object', 'null'],
                properties: { code: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const tenant = requireTenant(request);
      const job = await imports.getJob(tenant.org.id, request.params.jobId);
      if (!job) throw new AppError('import_not_found', 'No such import job in this organisation.');
      return job;
    },
  );

  app.get(
    '/api/users/export',
    {
      ...access('viewer'),
      schema: {
        tags,
        summary: "The directory as CSV in the import's columns (re-importing it changes nothing)",
        response: {
          200: { description: 'CSV (UTF-8 with BOM)', content: { 'text/csv': { schema: { type: 'string' } } } },
        },
      },
    },
    async (request, reply) => {
      const tenant = requireTenant(request);
      const out = new PassThrough();
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${tenant.org.slug}-users.csv"`);
      exportUsersCsv(tenant.store, out).then(
        () => out.end(),
        (err) => out.destroy(err),
      );
      return reply.send(out);
    },
  );
}
