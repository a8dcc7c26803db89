// Console section "Audit log": filters (time range, type, user, app, IdP, actor), newest first in keyset pages,
// and the same filters as a streamed CSV export. The queries live in src/audit; this file only reads the form.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import type { AppContext } from '../../context.ts';
import { ValidationError } from '../../errors.ts';
import { auditQueryOf, cleanFilters } from '../../audit/audit-filters.ts';
import { auditPage } from '../../audit/audit-page.ts';
import { exportAuditCsv } from '../../audit/audit-csv.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

const PAGE_SIZE = 50;
const query = (request: FastifyRequest) => request.query as Record<string, string | undefined>;

export async function auditPages(app: FastifyInstance, { ctx: _ctx }: { ctx: AppContext }) {
  app.get('/admin/audit', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const q = query(request);
    const filters = cleanFilters(q);
    const [apps, idps] = await Promise.all([tenant.store.applications.list(), tenant.store.identityProviders.list()]);
    const data = {
      title: 'Audit log',
      filters,
      apps,
      idps,
      filterQuery: new URLSearchParams(filters as Record<string, string>).toString(),
    };
    try {
      const page = await auditPage(tenant.store, await auditQueryOf(tenant.store, filters), {
        before: q.before,
        after: q.after,
        take: PAGE_SIZE,
      });
      return adminPage(request, reply, 'admin/audit/list', 'audit', { ...data, page, errors: {} });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return adminPage(request, reply, 'admin/audit/list', 'audit', { ...data, page: null, errors: err.fields }, 400);
    }
  });

  app.get('/admin/audit/export.csv', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const auditQuery = await auditQueryOf(tenant.store, cleanFilters(query(request)));
    const out = new PassThrough();
    reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${tenant.org.slug}-audit.csv"`)
      .header('cache-control', 'no-store');
    exportAuditCsv(tenant.store, auditQuery, out).then(
      () => out.end(),
      (err) => out.destroy(err),
    );
    return reply.send(out);
  });
}
