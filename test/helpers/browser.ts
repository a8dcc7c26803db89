// A minimal browser over app.inject: a cookie jar per host, manual redirects, and auto-POST forms read from the
// page the way a browser would submit them.
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.ts';

export interface PostForm {
  action: string;
  fields: Record<string, string>;
}

const decodeHtml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

export function formIn(html: string): PostForm | null {
  const form = /<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return null;
  const fields: Record<string, string> = {};
  for (const m of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields[decodeHtml(m[1])] = decodeHtml(m[2]);
  return { action: decodeHtml(form[1]), fields };
}

export class Browser {
  private jar = new Map<string, Map<string, string>>();
  constructor(private readonly ta: TestApp) {}

  private cookieHeader(host: string) {
    return [...(this.jar.get(host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  private store(host: string, res: LightMyRequestResponse) {
    const jar = this.jar.get(host) ?? new Map<string, string>();
    for (const c of res.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.maxAge === 0 || c.value === '') jar.delete(c.name);
      else jar.set(c.name, c.value);
    }
    this.jar.set(host, jar);
  }
  cookies(host: string) {
    return this.jar.get(host) ?? new Map<string, string>();
  }

  /** Sends a request to a broker URL (absolute, on an organisation's host). Cookies are sent unless `crossSite`
   *  is set (a cross-site POST does not carry SameSite=Lax cookies). */
  async request(
    method: 'GET' | 'POST',
    url: string,
    form?: Record<string, string>,
    opts: { crossSite?: boolean } = {},
  ) {
    const u = new URL(url);
    const host = u.host;
    const res = await this.ta.app.inject({
      method,
      url: u.pathname + u.search,
      headers: {
        host,
        ...(!opts.crossSite && { cookie: this.cookieHeader(host) }),
        ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(form && { payload: new URLSearchParams(form).toString() }),
    });
    this.store(host, res);
    return res;
  }
  get(url: string) {
    return this.request('GET', url);
  }
  post(url: string, form: Record<string, string>, opts?: { crossSite?: boolean }) {
    return this.request('POST', url, form, opts);
  }

  /** Follows same-origin redirects on the broker until a page that is not a redirect, or a redirect elsewhere. */
  async follow(res: LightMyRequestResponse, base: string): Promise<{ res: LightMyRequestResponse; external?: string }> {
    let current = res;
    for (let i = 0; i < 10 && current.statusCode >= 300 && current.statusCode < 400; i++) {
      const target = new URL(String(current.headers.location), base);
      if (target.host !== new URL(base).host) return { res: current, external: target.toString() };
      current = await this.get(target.toString());
    }
    return { res: current };
  }
}
