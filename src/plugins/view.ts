// Server-rendered pages: Eta templates (escaping on by default) through @fastify/view. Every page gets the
// organisation's branding, so a page rendered for one tenant never shows another's name or colours.
import { join } from 'node:path';
import { PROJECT_ROOT } from '../project-root.ts';
import fp from 'fastify-plugin';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logoUrlOf } from '../orgs/hosted/logo.ts';
import { cspNonce } from './content-security-policy.ts';

export const TEMPLATES_DIR = join(PROJECT_ROOT, 'templates');

export interface Branding {
  name: string;
  logoUrl: string | null;
  primaryColor: string;
  accentColor: string;
  loginMessage: string | null;
}

const DEFAULT_BRANDING: Branding = {
  name: 'SAML Broker',
  logoUrl: null,
  primaryColor: '#1f4fd1',
  accentColor: '#0f172a',
  loginMessage: null,
};
const COLOR = /^#[0-9a-f]{6}$/i;

export function brandingFor(request: FastifyRequest): Branding {
  const org = request.tenant?.org;
  if (!org) return DEFAULT_BRANDING;
  return {
    name: org.name,
    // An uploaded logo takes precedence over the logo URL setting (which the CLI can still set).
    logoUrl: logoUrlOf(org),
    // Colours go into a <style> block: only strict hex values get there.
    primaryColor: COLOR.test(org.primaryColor) ? org.primaryColor : DEFAULT_BRANDING.primaryColor,
    accentColor: COLOR.test(org.accentColor) ? org.accentColor : DEFAULT_BRANDING.accentColor,
    loginMessage: org.loginMessage,
  };
}

export const viewPlugin = fp(async (app: FastifyInstance, opts: { production: boolean }) => {
  const eta = new Eta({ views: TEMPLATES_DIR, cache: opts.production, autoEscape: true });
  await app.register(view, { engine: { eta }, templates: TEMPLATES_DIR, production: opts.production });
});

/** Renders a full page with the tenant's branding. `status` defaults to 200. `nonce` goes on every inline <script>
 *  and <style>: the page's Content-Security-Policy runs nothing else. */
export function page(
  request: FastifyRequest,
  reply: FastifyReply,
  template: string,
  data: Record<string, unknown> = {},
  status = 200,
) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .viewAsync(`${template}.eta`, {
      brand: brandingFor(request),
      requestId: request.id,
      nonce: cspNonce(reply),
      ...data,
    });
}
