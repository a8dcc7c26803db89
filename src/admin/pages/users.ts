// Console section "Users": the directory (search, keyset pages), add/edit, disable/enable, delete, second-factor
// actions, linked identities, and bulk import with its report. The work is done by src/users; this file only turns
// forms into calls and results into pages.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import type { User } from '../../store/users.ts';
import {
  BULK_ACTIONS,
  BULK_MAX,
  bulkTargets,
  isBulkAction,
  runBulkAction,
  type BulkActionName,
} from '../../users/bulk-actions.ts';
import { directoryPage } from '../../users/directory-page.ts';
import {
  directoryQueryString,
  isFiltered,
  readDirectoryQuery,
  type DirectoryQuery,
} from '../../users/directory-query.ts';
import { exportUsersCsv } from '../../users/export-csv.ts';
import { importLiveness, UserImportService } from '../../users/import/import-service.ts';
import { EDITABLE_FIELDS, UserAdmin } from '../../users/user-admin.ts';
import { checkbox, lines, optionalText, text, upload, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access, assertCanUse, type AdminRole } from '../roles.ts';

const PAGE_SIZE = 50;
/** The list's own parameters, kept across a bulk action (the way back to the same filtered, sorted list). */
const LIST_KEYS = ['q', 'status', 'group', 'idp', 'secondFactor', 'sort', 'order'];

/** The list's query string from a form field: only its own parameters, so the redirect goes to the list and nowhere else. */
function listQueryOf(value: unknown): URLSearchParams {
  const given = new URLSearchParams(typeof value === 'string' && value.length <= 2000 ? value : '');
  const kept = new URLSearchParams();
  for (const key of LIST_KEYS) {
    const v = given.get(key);
    if (v) kept.set(key, v.slice(0, 320));
  }
  return kept;
}
const withParams = (base: URLSearchParams, extra: Record<string, string>) => {
  const out = new URLSearchParams(base);
  for (const [k, v] of Object.entries(extra)) out.set(k, v);
  return out.toString();
};
/** The result banner of a bulk action, from the redirect's numbers (only numbers and a known action are read). */
function bulkResultOf(q: Record<string, string | undefined>) {
  if (!isBulkAction(q.bulk)) return null;
  const count = (v: string | undefined) => (v && /^\d{1,4}$/.test(v) ? Number(v) : 0);
  return { action: q.bulk, changed: count(q.changed), unchanged: count(q.unchanged) };
}
const BULK_ERRORS: Record<string, string> = {
  bulk_no_users: 'Select at least one user first.',
  bulk_too_many: `At most ${BULK_MAX} users can be changed at once. Narrow the list with the filters, or go page by page.`,
  bulk_users_not_found:
    'Some of the selected users are not in this organisation any more. Nothing was changed: select again.',
};
const bulkErrorOf = (q: Record<string, string | undefined>) =>
  q.bulkError && Object.hasOwn(BULK_ERRORS, q.bulkError) ? BULK_ERRORS[q.bulkError] : null;

/** A column heading's link: this sort, ascending, or the other way round when it is the current sort already. */
function sortLink(listLink: string, current: { sort: string; order: string }, column: string) {
  const params = new URLSearchParams(listLink);
  params.set('sort', column);
  params.set('order', current.sort === column && current.order === 'asc' ? 'desc' : 'asc');
  if (column === 'email' && params.get('order') === 'asc') params.delete('sort');
  if (params.get('order') === 'asc') params.delete('order');
  return `/admin/users?${params}`;
}
/** Rejected rows shown on the job page; the rest are counted (the API and CLI give all of them). */
const SHOWN_REJECTIONS = 500;

type Params = { id: string };
const query = (request: FastifyRequest) => request.query as Record<string, string | undefined>;

/** The form's fields as the domain reads them (groups: one per line). */
const userForm = (body: FormBody) => ({
  email: text(body, 'email'),
  username: optionalText(body, 'username'),
  firstName: optionalText(body, 'firstName'),
  lastName: optionalText(body, 'lastName'),
  phone: optionalText(body, 'phone'),
  groups: lines(body, 'groups'),
});
/** What was typed, to show again next to the errors. */
const submitted = (body: FormBody) => Object.fromEntries(EDITABLE_FIELDS.map((f) => [f, text(body, f)]));
const formValues = (u: Pick<User, 'email' | 'username' | 'firstName' | 'lastName' | 'phone' | 'groups'>) => ({
  email: u.email,
  username: u.username ?? '',
  firstName: u.firstName ?? '',
  lastName: u.lastName ?? '',
  phone: u.phone ?? '',
  groups: u.groups.join('\n'),
});

export async function userPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const imports = new UserImportService({ store: ctx.store, clock: ctx.clock }, { ...importLiveness(ctx.config) });
  const usersOf = (request: FastifyRequest) => {
    const { tenant, session } = adminOf(request);
    return { tenant, actor: session.admin.email, users: new UserAdmin(ctx, tenant) };
  };

  app.get('/admin/users', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const raw = query(request);
    const [idps, groups] = await Promise.all([tenant.store.identityProviders.list(), tenant.store.users.groupNames()]);
    const options = { idps: idps.map((i) => ({ id: i.id, name: i.name })), groups };
    const banners = { bulkResult: bulkResultOf(raw), bulkError: bulkErrorOf(raw) };
    let listQuery: DirectoryQuery;
    try {
      listQuery = await readDirectoryQuery(tenant.store, raw);
    } catch (err) {
      // A hand-edited or stale address: the filters are shown as sent with what is wrong, and no list.
      if (!(err instanceof ValidationError)) throw err;
      const asSent = {
        search: raw.q ?? '',
        status: raw.status ?? '',
        group: raw.group ?? '',
        idpId: raw.idp ?? '',
        secondFactor: raw.secondFactor ?? '',
        sort: 'email',
        order: 'asc',
      };
      return adminPage(
        request,
        reply,
        'admin/users/list',
        'users',
        {
          title: 'Users',
          page: null,
          filters: asSent,
          queryErrors: err.fields,
          listLink: '',
          options,
          ...banners,
          now: ctx.clock.now(),
          sortLink,
          bulkActions: BULK_ACTIONS,
        },
        400,
      );
    }
    const page = await directoryPage(tenant.store, { ...listQuery, take: PAGE_SIZE }, ctx.clock.now());
    return adminPage(request, reply, 'admin/users/list', 'users', {
      title: 'Users',
      page,
      filters: { ...listQuery, search: listQuery.search ?? '' },
      queryErrors: {},
      listLink: directoryQueryString(listQuery),
      filtered: isFiltered(listQuery),
      options,
      ...banners,
      now: ctx.clock.now(),
      sortLink,
      bulkActions: BULK_ACTIONS,
    });
  });

  // Bulk actions: the list's check boxes lead to a confirmation page (GET: nothing changes), whose form POSTs to the
  // action's own route (its role is the single-user action's); the result comes back to the list as a banner. The
  // confirmation is open to every console role at the gate and then decided by the rule of the route it posts to
  // (assertCanUse), so that it refuses exactly whom that route refuses, in the same words.
  app.get('/admin/users/bulk', access('viewer'), async (request, reply) => {
    const { users } = usersOf(request);
    const { session } = adminOf(request);
    const raw = query(request) as Record<string, unknown>;
    const back = listQueryOf(raw.back);
    const action = raw.action;
    if (!isBulkAction(action)) throw new AppError('bulk_bad_action', 'Choose one of the actions of the list.');
    // Who may see this confirmation is who may use the route its form posts to: that route's own rule decides.
    assertCanUse(request.server.registeredRoutes, session.admin.role, 'POST', `/admin/users/bulk/${action}`);
    let targets: User[];
    try {
      targets = await bulkTargets(users, (request.query as Record<string, unknown>).id);
    } catch (err) {
      if (err instanceof AppError && err.code.startsWith('bulk_'))
        return reply.redirect(`/admin/users?${withParams(back, { bulkError: err.code })}`, 303);
      throw err;
    }
    return adminPage(request, reply, 'admin/users/bulk-confirm', 'users', {
      title: 'Confirm bulk action',
      action,
      spec: BULK_ACTIONS[action],
      targets,
      back,
    });
  });
  for (const [name, action] of Object.entries(BULK_ACTIONS)) {
    app.post(`/admin/users/bulk/${name}`, access(action.role), async (request, reply) => {
      const { users, actor } = usersOf(request);
      const body = request.body as FormBody;
      const back = listQueryOf(body.back);
      try {
        const result = await runBulkAction(users, name as BulkActionName, body.id, actor);
        return reply.redirect(
          `/admin/users?${withParams(back, { bulk: name, changed: String(result.changed.length), unchanged: String(result.unchanged.length) })}`,
          303,
        );
      } catch (err) {
        if (err instanceof AppError && err.code.startsWith('bulk_'))
          return reply.redirect(`/admin/users?${withParams(back, { bulkError: err.code })}`, 303);
        throw err;
      }
    });
  }

  // Add
  app.get('/admin/users/new', access('admin'), async (request, reply) =>
    renderForm(
      request,
      reply,
      null,
      { email: '', username: '', firstName: '', lastName: '', phone: '', groups: '' },
      {},
    ),
  );
  app.post('/admin/users', access('admin'), async (request, reply) => {
    const { users, actor } = usersOf(request);
    const body = request.body as FormBody;
    const saved = await withFieldErrors(() => users.create(userForm(body), actor));
    if (!saved.ok) return renderForm(request, reply, null, submitted(body), saved.errors, 400);
    return reply.redirect(`/admin/users/${saved.value.id}?done=created`, 303);
  });

  // Import and export (static paths: found before /admin/users/:id)
  app.get('/admin/users/import', access('admin'), async (request, reply) => renderImport(request, reply, {}, {}));
  app.post('/admin/users/import', access('admin'), async (request, reply) => {
    const { tenant, actor } = usersOf(request);
    const body = request.body as FormBody;
    const file = upload(body, 'file');
    const mode = text(body, 'mode') || 'create';
    const options = {
      mode,
      disableMissing: checkbox(body, 'disableMissing'),
      dryRun: checkbox(body, 'dryRun'),
      allOrNothing: checkbox(body, 'allOrNothing'),
    };
    const errors: Record<string, string> = {};
    if (!file) errors.file = 'Choose a CSV or JSON file.';
    if (mode !== 'create' && mode !== 'upsert') errors.mode = 'Choose one of the modes.';
    if (Object.keys(errors).length) return renderImport(request, reply, options, errors, 400);
    let jobId: string, abandoned: { id: string }[];
    try {
      ({ jobId, abandoned } = await imports.start(
        tenant.org.id,
        { data: file!, name: 'upload' },
        { ...options, mode: mode as 'create' | 'upsert', actor },
      ));
    } catch (err) {
      // Too large, or another import of this organisation still running: said next to the file field.
      if (err instanceof AppError && err.status < 500)
        return renderImport(request, reply, options, { file: err.message }, err.status === 413 ? 413 : 409);
      throw err;
    }
    // An earlier import whose process died was taken over: the job page says which (ids only travel in the URL).
    const tookOver = abandoned.map((j) => `&took_over=${encodeURIComponent(j.id)}`).join('');
    return reply.redirect(`/admin/users/import/${jobId}?done=imported${tookOver}`, 303);
  });
  app.get<{ Params: { jobId: string }; Querystring: { took_over?: string | string[] } }>(
    '/admin/users/import/:jobId',
    access('viewer'),
    async (request, reply) => {
      const { tenant } = adminOf(request);
      const job = await imports.getJob(tenant.org.id, request.params.jobId);
      if (!job) throw new AppError('import_not_found', 'There is no such import in this organisation.');
      // Looked up in this organisation: an id from another one, or made up, shows nothing.
      const tookOverIds = ([] as string[]).concat(request.query.took_over ?? []).slice(0, 5);
      const tookOver = (await Promise.all(tookOverIds.map((id) => imports.getJob(tenant.org.id, id)))).filter(
        (j) => j !== null && j.error?.code === 'import_abandoned',
      );
      const rejections = job.report?.rejections ?? [];
      return adminPage(request, reply, 'admin/users/import-job', 'users', {
        title: 'User import',
        job,
        tookOver,
        ...(job.status === 'running' && { refresh: '2' }),
        rejections: rejections.slice(0, SHOWN_REJECTIONS),
        moreRejections:
          rejections.length - Math.min(rejections.length, SHOWN_REJECTIONS) + (job.report?.rejectionsOmitted ?? 0),
      });
    },
  );
  app.get('/admin/users/export.csv', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const out = new PassThrough();
    reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${tenant.org.slug}-users.csv"`)
      .header('cache-control', 'no-store');
    exportUsersCsv(tenant.store, out).then(
      () => out.end(),
      (err) => out.destroy(err),
    );
    return reply.send(out);
  });

  // One user
  app.get<{ Params: Params }>('/admin/users/:id', access('viewer'), async (request, reply) => {
    const { users } = usersOf(request);
    const user = await users.get(request.params.id);
    return renderForm(request, reply, user, formValues(user), {});
  });
  app.post<{ Params: Params }>('/admin/users/:id', access('admin'), async (request, reply) => {
    const { users, actor } = usersOf(request);
    const user = await users.get(request.params.id);
    const body = request.body as FormBody;
    const saved = await withFieldErrors(() => users.update(user.id, userForm(body), actor));
    if (!saved.ok) return renderForm(request, reply, user, submitted(body), saved.errors, 400);
    return reply.redirect(`/admin/users/${user.id}?done=saved`, 303);
  });

  // Actions without a form of their own: each a POST button on the user's page.
  const actions: Record<
    string,
    { role: AdminRole; done: string; run: (users: UserAdmin, id: string, actor: string) => Promise<unknown> }
  > = {
    disable: { role: 'admin', done: 'disabled', run: (u, id, a) => u.setStatus(id, 'disabled', a) },
    enable: { role: 'admin', done: 'enabled', run: (u, id, a) => u.setStatus(id, 'active', a) },
    'reset-totp': { role: 'helpdesk', done: 'totp-reset', run: (u, id, a) => u.resetTotp(id, a) },
    unlock: { role: 'helpdesk', done: 'unlocked', run: (u, id, a) => u.unlock(id, a) },
    'revoke-devices': { role: 'helpdesk', done: 'devices-revoked', run: (u, id, a) => u.revokeDevices(id, a) },
    'sessions/revoke': {
      role: 'helpdesk',
      done: 'signed-out-everywhere',
      run: (u, id, a) => u.signOutEverywhere(id, a),
    },
  };
  for (const [name, action] of Object.entries(actions)) {
    app.post<{ Params: Params }>(`/admin/users/:id/${name}`, access(action.role), async (request, reply) => {
      const { users, actor } = usersOf(request);
      await action.run(users, request.params.id, actor);
      return reply.redirect(`/admin/users/${request.params.id}?done=${action.done}`, 303);
    });
  }
  // A lost or suspect passkey / security key: helpdesk removes it (the user then uses another, or a recovery code).
  app.post<{ Params: Params & { passkeyId: string } }>(
    '/admin/users/:id/passkeys/:passkeyId/remove',
    access('helpdesk'),
    async (request, reply) => {
      const { users, actor } = usersOf(request);
      await users.removePasskey(request.params.id, request.params.passkeyId, actor);
      return reply.redirect(`/admin/users/${request.params.id}?done=passkey-removed`, 303);
    },
  );
  app.post<{ Params: Params }>('/admin/users/:id/identities', access('admin'), async (request, reply) => {
    const { users, actor } = usersOf(request);
    const user = await users.get(request.params.id);
    const body = request.body as FormBody;
    const link = { idp: text(body, 'idp'), nameId: text(body, 'nameId') };
    try {
      await users.addIdentity(user.id, link, actor);
      return reply.redirect(`/admin/users/${user.id}?done=identity-linked`, 303);
    } catch (err) {
      // Shown next to the form's fields; held by another user: next to the NameID.
      if (err instanceof ValidationError)
        return renderForm(request, reply, user, formValues(user), {}, 400, { values: link, errors: err.fields });
      if (err instanceof AppError && err.code === 'identity_taken')
        return renderForm(request, reply, user, formValues(user), {}, 409, {
          values: link,
          errors: { nameId: err.message },
        });
      throw err;
    }
  });
  app.post<{ Params: Params & { linkId: string } }>(
    '/admin/users/:id/identities/:linkId/unlink',
    access('admin'),
    async (request, reply) => {
      const { users, actor } = usersOf(request);
      await users.unlink(request.params.id, request.params.linkId, actor);
      return reply.redirect(`/admin/users/${request.params.id}?done=identity-unlinked`, 303);
    },
  );

  // Delete, after a confirmation page
  app.get<{ Params: Params }>('/admin/users/:id/delete', access('admin'), async (request, reply) => {
    const { users } = usersOf(request);
    return adminPage(request, reply, 'admin/users/delete', 'users', {
      title: 'Delete user',
      user: await users.get(request.params.id),
    });
  });
  app.post<{ Params: Params }>('/admin/users/:id/delete', access('admin'), async (request, reply) => {
    const { users, actor } = usersOf(request);
    await users.delete(request.params.id, actor);
    return reply.redirect('/admin/users?done=deleted', 303);
  });

  /** The user's page; `link`: the add-identity form as submitted, with its errors. */
  async function renderForm(
    request: FastifyRequest,
    reply: FastifyReply,
    user: User | null,
    values: Record<string, string>,
    errors: Record<string, string>,
    status = 200,
    link: { values: Record<string, string>; errors: Record<string, string> } = {
      values: { idp: '', nameId: '' },
      errors: {},
    },
  ) {
    const { users, tenant } = usersOf(request);
    const [details, idps] = user
      ? await Promise.all([users.details(user.id), tenant.store.identityProviders.list()])
      : [null, []];
    return adminPage(
      request,
      reply,
      'admin/users/user',
      'users',
      {
        title: user ? user.email : 'Add user',
        user,
        details,
        values,
        errors,
        idps: idps.map((i) => ({ id: i.id, name: i.name })),
        link,
      },
      status,
    );
  }

  async function renderImport(
    request: FastifyRequest,
    reply: FastifyReply,
    options: Record<string, unknown>,
    errors: Record<string, string>,
    status = 200,
  ) {
    const { tenant } = adminOf(request);
    const recent = await imports.listJobs(tenant.org.id, 10);
    return adminPage(
      request,
      reply,
      'admin/users/import',
      'users',
      { title: 'Import users', options: { mode: 'create', ...options }, errors, recent },
      status,
    );
  }
}
