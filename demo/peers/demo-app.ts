// DEMO ONLY: a tiny downstream app (a SAML SP built with @node-saml/node-saml, an implementation we did not write)
// that shows what the broker released about you.
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { SAML } from '@node-saml/node-saml';
import { xmlEscape as e } from '../../src/saml/xml.ts';

export interface DemoAppOptions {
  port: number;
  brokerSso: string;
  brokerIdpCert: string;
  appName: string;
}

export const demoAppEntityId = (port: number) => `http://localhost:${port}/metadata`;
export const demoAppAcs = (port: number) => `http://localhost:${port}/acs`;

const page = (body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo app</title>
<style>body{font:16px system-ui;background:#ecfdf5;margin:0}main{max-width:36rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 3px #0002}
.badge{background:#047857;color:#fff;padding:.2rem .5rem;border-radius:4px;font-size:.8rem}a.button{display:inline-block;margin-top:1rem;padding:.7rem 1.2rem;background:#047857;color:#fff;border-radius:8px;text-decoration:none}
td{padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}</style></head><body><main>${body}</main></body></html>`;

export async function startDemoApp(o: DemoAppOptions) {
  const sp = new SAML({
    entryPoint: o.brokerSso,
    issuer: demoAppEntityId(o.port),
    audience: demoAppEntityId(o.port),
    callbackUrl: demoAppAcs(o.port),
    idpCert: o.brokerIdpCert,
    wantAuthnResponseSigned: true,
    wantAssertionsSigned: false,
    validateInResponseTo: 'ifPresent' as never,
    acceptedClockSkewMs: 5000,
  });
  const app = Fastify({ logger: false });
  await app.register(formbody);
  app.get('/', async (_req, reply) =>
    reply.type('text/html').send(
      page(`<span class="badge">DEMO APP</span><h1>${e(o.appName)}</h1>
<p>This stands in for the Jira Service Management customer portal. Signing in goes through the broker, which sends you to the organisation's identity provider.</p>
<a class="button" href="/login">Sign in with SSO</a>`),
    ),
  );
  app.get('/login', async (_req, reply) => reply.redirect(await sp.getAuthorizeUrlAsync('/', undefined, {})));
  app.post<{ Body: { SAMLResponse?: string; RelayState?: string } }>('/acs', async (req, reply) => {
    reply.type('text/html');
    try {
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: req.body.SAMLResponse ?? '' });
      const rows = Object.entries(profile ?? {})
        .filter(
          ([, v]) =>
            v !== undefined && v !== null && typeof v !== 'function' && (typeof v !== 'object' || Array.isArray(v)),
        )
        .map(([k, v]) => `<tr><td>${e(k)}</td><td>${e(Array.isArray(v) ? v.join(', ') : String(v))}</td></tr>`)
        .join('');
      return page(
        `<span class="badge">DEMO APP</span><h1>Signed in as ${e(String(profile?.nameID))}</h1><p>The broker's signed response was verified by node-saml. It said:</p><table>${rows}</table><a class="button" href="/">Back</a>`,
      );
    } catch (err) {
      return reply
        .code(401)
        .send(
          page(
            `<span class="badge">DEMO APP</span><h1>Sign-in refused</h1><p>${e((err as Error).message)}</p><a class="button" href="/">Back</a>`,
          ),
        );
    }
  });
  await app.listen({ port: o.port, host: '127.0.0.1' });
  return app;
}
