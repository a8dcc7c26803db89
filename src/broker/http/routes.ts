// HTTP endpoints of the login flow. Thin: each reads the request into plain values (cookies, the message, the
// form), calls one hop of the flow service (flow/), and renders the outcome it returns (render.ts): a redirect, an
// auto-POST form, a branded page, or an error for the app's error handler.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { acsRoutes } from './acs.ts';
import { flowRoutes } from './flow.ts';
import { ssoRoutes } from './sso.ts';

export async function brokerRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  ssoRoutes(app, ctx);
  flowRoutes(app, ctx);
  acsRoutes(app, ctx);
}
