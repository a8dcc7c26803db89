// DEMO ONLY: a tiny upstream identity provider so a newcomer can click through a brokered login without an Okta
// account. It signs real SAML responses (with its own generated key) but authenticates nobody: you type who you are.
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { inflateRawSync } from 'node:zlib';
import { buildLoginResponse } from '../../src/saml/downstream/response.ts';
import type { GeneratedCredential } from '../../src/saml/certificates.ts';
import { xmlEscape as e } from '../../src/saml/xml.ts';

export interface DemoIdpOptions {
  port: number;
  credential: GeneratedCredential;
  brokerAcs: string;
  brokerSpEntityId: string;
}

export const demoIdpEntityId = (port: number) => `http://localhost:${port}/metadata`;

const page = (
  title: string,
  body: string,
) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px system-ui;background:#fef3c7;margin:0}main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 3px #0002}
.badge{background:#b45309;color:#fff;padding:.2rem .5rem;border-radius:4px;font-size:.8rem}label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font:inherit}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit;background:#b45309;color:#fff;border:0;border-radius:8px}</style></head><body><main>${body}</main></body></html>`;

export async function startDemoIdp(o: DemoIdpOptions) {
  const app = Fastify({ logger: false });
  await app.register(formbody);
  const entityId = demoIdpEntityId(o.port);

  app.get<{ Querystring: { SAMLRequest?: string; RelayState?: string } }>('/sso', async (req, reply) => {
    const xml = req.query.SAMLRequest
      ? inflateRawSync(Buffer.from(req.query.SAMLRequest, 'base64'), { maxOutputLength: 65536 }).toString()
      : '';
    const requestId = /ID="([^"]+)"/.exec(xml)?.[1] ?? '';
    reply.type('text/html');
    return page(
      'Demo IdP',
      `<span class="badge">DEMO IDENTITY PROVIDER</span><h1>Sign in (demo)</h1>
<p>This stands in for Okta or WSO2. Type any identity: it is signed and sent to the broker.</p>
<form method="post" action="/sso"><input type="hidden" name="requestId" value="${e(requestId)}"><input type="hidden" name="relayState" value="${e(req.query.RelayState ?? '')}">
<label for="email">Email</label><input id="email" name="email" value="ann@customer.example" autofocus>
<label for="firstName">First name</label><input id="firstName" name="firstName" value="Ann">
<label for="lastName">Last name</label><input id="lastName" name="lastName" value="Lee">
<label for="groups">Groups (comma-separated)</label><input id="groups" name="groups" value="jira-customers">
<button type="submit">Sign in</button></form>`,
    );
  });

  app.post<{ Body: Record<string, string> }>('/sso', async (req, reply) => {
    const b = req.body;
    const now = new Date();
    const built = await buildLoginResponse({
      idp: { entityId, signingKeyPem: o.credential.privateKeyPem, certificatePem: o.credential.certificatePem },
      app: {
        entityId: o.brokerSpEntityId,
        acsUrl: o.brokerAcs,
        signResponse: true,
        signAssertion: true,
        encryptAssertion: false,
        nameIdFormat: 'emailAddress',
      },
      inResponseTo: b.requestId || null,
      nameId: b.email,
      sessionIndex: `_demo_${Date.now()}`,
      now,
      authnInstant: now,
      attributes: {
        Email: [b.email],
        firstName: [b.firstName],
        lastName: [b.lastName],
        groups: String(b.groups ?? '')
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean),
      },
    });
    reply.type('text/html');
    return page(
      'Demo IdP',
      `<p>Returning to the broker…</p><form id="f" method="post" action="${e(o.brokerAcs)}"><input type="hidden" name="SAMLResponse" value="${built.samlResponse}">${b.relayState ? `<input type="hidden" name="RelayState" value="${e(b.relayState)}">` : ''}<button>Continue</button></form><script>document.getElementById('f').submit()</script>`,
    );
  });

  await app.listen({ port: o.port, host: '127.0.0.1' });
  return app;
}
