// /api/users: list, bulk import (a job to poll) and export of the organisation's directory.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { exportUsersCsv } from '../../users/export-csv.ts';
import { UserImportService } from '../../users/import/import-service.ts';
import { PassThrough } from 'node:stream';

const MAX_IMPORT_BYTES = 50 * 1024 * 1024;
const flag = (v: unknown) => v === '1' || v === 'true';

export async function usersApi(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const imports = new UserImportService({ store: ctx.store, clock: ctx.clock }, { maxFileBytes: MAX_IMPORT_BYTES });

  app.get<{ Querystring: { search?: string; skip?: string; take?: string } }>('/api/users', async (request) => {
    const tenant = requireTenant(request);
    const skip = Math.max(0, Number(request.query.skip ?? 0) || 0);
    const take = Math.min(500, Math.max(1, Number(request.query.take ?? 50) || 50));
    const users = await tenant.store.users.list({ search: request.query.search, skip, take });
    return { users: users.map(({ emailLower: _e, orgId: _o, ...u }) => u), skip, take, total: await tenant.store.users.count() };
  });

  // Import files are read as bytes, whatever their type: the import parses them itself, streaming and bounded.
  await app.register(async (raw) => {
  raw.removeContentTypeParser(['application/json', 'text/plain']);
  raw.addContentTypeParser(['application/json', 'text/csv', 'text/plain', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  raw.post<{ Querystring: Record<string, string | undefined>; Body: Buffer }>('/api/users/import', { bodyLimit: MAX_IMPORT_BYTES }, async (request, reply) => {
    const tenant = requireTenant(request);
    const q = request.query;
    if (!Buffer.isBuffer(request.body) || !request.body.length) throw new AppError(400, 'import_empty_body', 'Send the CSV or JSON file as the request body.');
    if (q.mode && !['create', 'upsert'].includes(q.mode)) throw new AppError(400, 'import_bad_mode', 'mode must be create or upsert');
    const format = q.format ?? (String(request.headers['content-type']).startsWith('application/json') ? 'json' : undefined);
    const started = await imports.start(tenant.org.id, { data: request.body, name: format === 'json' ? 'upload.json' : 'upload.csv' }, {
      mode: (q.mode as 'create' | 'upsert' | undefined) ?? 'create', format: format as 'csv' | 'json' | undefined,
      disableMissing: flag(q.disableMissing), dryRun: flag(q.dryRun), allOrNothing: flag(q.allOrNothing), actor: request.apiActor,
    });
    started.done.then(
      () => ctx.metrics.importJobs.inc({ org: tenant.org.slug, outcome: 'done' }),
      (err) => { ctx.metrics.importJobs.inc({ org: tenant.org.slug, outcome: 'failed' }); request.log.warn({ err, jobId: started.jobId }, 'import failed'); },
    );
    return reply.code(202).header('location', `/api/users/import/${started.jobId}`).send({ jobId: started.jobId, status: `/api/users/import/${started.jobId}` });
  });
  });

  app.get<{ Params: { jobId: string } }>('/api/users/import/:jobId', async (request) => {
    const tenant = requireTenant(request);
    const job = await imports.getJob(tenant.org.id, request.params.jobId);
    if (!job) throw new AppError(404, 'import_not_found', 'No such import job in this organisation.');
    return job;
  });

  app.get('/api/users/export', async (request, reply) => {
    const tenant = requireTenant(request);
    const out = new PassThrough();
    reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${tenant.org.slug}-users.csv"`);
    exportUsersCsv(tenant.store, out).then(() => out.end(), (err) => out.destroy(err));
    return reply.send(out);
  });
}
