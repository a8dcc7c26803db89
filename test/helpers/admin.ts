// A signed-in admin of one organisation, for page and API tests: creates the organisation with a known password,
// signs in through the real form (CSRF cookie and token), and exposes get/post with the session cookie attached.
// `apiToken()` creates a bearer token the way the console does; `adminWithRole()` adds another admin of the same
// organisation with a role and signs them in.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createApiToken, type TokenOptions } from '../../src/admin/api-tokens.ts';
import type { AdminRole } from '../../src/admin/roles.ts';
import { hashPassword } from '../../src/orgs/passwords.ts';
import type { TestApp } from './app.ts';

export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface AdminClient {
  slug: string;
  orgId: string;
  email: string;
  csrf: string;
  cookie(): string;
  get(url: string): Promise<LightMyRequestResponse>;
  /** POSTs a urlencoded form with the session's CSRF token added (unless `_csrf` is given). */
  post(url: string, form?: Record<string, string | string[]>): Promise<LightMyRequestResponse>;
  /** POSTs a multipart form (files as { filename, content }), CSRF token added. */
  upload(
    url: string,
    fields: Record<string, string>,
    files: Record<string, { filename: string; content: Buffer | string; contentType?: string }>,
  ): Promise<LightMyRequestResponse>;
  request(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** A bearer API token of this organisation (role admin unless given). */
  apiToken(name?: string, opts?: TokenOptions): Promise<string>;
}

export const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

export async function signedInAdmin(
  ta: TestApp,
  slug: string,
  opts: { name?: string; email?: string } = {},
): Promise<AdminClient> {
  const email = opts.email ?? `admin@${slug}.example`;
  const created = await ta.ctx.organizations.create(
    { slug, name: opts.name ?? slug, adminEmail: email, adminPassword: ADMIN_PASSWORD },
    'test',
  );
  return signInClient(ta, slug, created.org.id, email);
}

/** Another admin of `of`'s organisation, with `role`, signed in (password ADMIN_PASSWORD, no second factor). */
export async function adminWithRole(
  ta: TestApp,
  of: { slug: string; orgId: string },
  role: AdminRole,
  email = `${role}.admin@${of.slug}.example`,
): Promise<AdminClient> {
  await ta.ctx.store.forOrg(of.orgId).admins.create({ email, passwordHash: await hashPassword(ADMIN_PASSWORD), role });
  return signInClient(ta, of.slug, of.orgId, email);
}

export async function signInClient(ta: TestApp, slug: string, orgId: string, email: string): Promise<AdminClient> {
  const jar: Record<string, string> = {};
  // Like a browser: cookies the broker sets are sent back, cleared ones (empty value) are dropped.
  const keep = (res: LightMyRequestResponse) => {
    for (const c of res.cookies as { name: string; value: string }[]) {
      if (c.value) jar[c.name] = c.value;
      else delete jar[c.name];
    }
    return res;
  };
  const cookie = () =>
    Object.entries(jar)
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');

  const form = keep(await ta.request(slug, { method: 'GET', url: '/admin/login' }));
  const login = keep(
    await ta.request(slug, {
      method: 'POST',
      url: '/admin/login',
      headers: { cookie: cookie() },
      payload: { _csrf: csrfIn(form.body), email, password: ADMIN_PASSWORD },
    }),
  );
  if (login.statusCode !== 303 || login.headers.location !== '/admin')
    throw new Error(`admin sign-in failed: ${login.statusCode} ${login.headers.location ?? login.body.slice(0, 300)}`);
  const home = await ta.request(slug, { method: 'GET', url: '/admin', headers: { cookie: cookie() } });
  const csrf = csrfIn(home.body);
  if (!csrf) throw new Error('no CSRF token on the admin home page');

  const client: AdminClient = {
    slug,
    orgId,
    email,
    csrf,
    cookie,
    request: async (o) => keep(await ta.request(slug, { ...o, headers: { cookie: cookie(), ...(o.headers ?? {}) } })),
    get: (url) => client.request({ method: 'GET', url }),
    post: (url, f = {}) =>
      client.request({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(
          Object.entries({ _csrf: csrf, ...f }).flatMap(([k, v]) =>
            Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]],
          ),
        ).toString(),
      }),
    upload(url, fields, files) {
      const boundary = `----brokertest${Date.now().toString(16)}`;
      const parts: Buffer[] = [];
      for (const [k, v] of Object.entries({ _csrf: csrf, ...fields }))
        parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
      for (const [k, f] of Object.entries(files)) {
        parts.push(
          Buffer.from(
            `--${boundary}\r\ncontent-disposition: form-data; name="${k}"; filename="${f.filename}"\r\ncontent-type: ${f.contentType ?? 'application/octet-stream'}\r\n\r\n`,
          ),
        );
        parts.push(Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content));
        parts.push(Buffer.from('\r\n'));
      }
      parts.push(Buffer.from(`--${boundary}--\r\n`));
      return client.request({
        method: 'POST',
        url,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        payload: Buffer.concat(parts),
      });
    },
    async apiToken(name = 'test token', tokenOpts = {}) {
      const { token } = await createApiToken(ta.ctx.store.forOrg(orgId), ta.clock, name, email, tokenOpts);
      return token;
    },
  };
  return client;
}
