// A browser over real HTTP for multi-process tests: a cookie jar per public host, and a choice of which node
// (port) each request goes to, as a load balancer would choose.
import { request as httpRequest } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class HttpBrowser {
  private jar = new Map<string, Map<string, string>>();

  async send(
    port: number,
    method: 'GET' | 'POST',
    url: string,
    form?: Record<string, string>,
    opts: { crossSite?: boolean; headers?: Record<string, string> } = {},
  ): Promise<HttpResponse> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.host) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const res = await new Promise<HttpResponse>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method,
          agent: false,
          path: u.pathname + u.search,
          headers: {
            host: u.host,
            ...(cookies && !opts.crossSite && { cookie: cookies }),
            ...(body && {
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(body),
            }),
            ...opts.headers,
          },
        },
        (r) => {
          let data = '';
          r.setEncoding('utf8');
          r.on('data', (d) => (data += d));
          r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body: data }));
        },
      );
      req.on('error', reject);
      if (body) req.write(body);
      req.end();
    });
    const jar = this.jar.get(u.host) ?? new Map<string, string>();
    for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    this.jar.set(u.host, jar);
    return res;
  }
}
