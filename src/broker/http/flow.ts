// The pages of a login flow in progress, for the browser that owns it: the IdP chooser, the continuation after the
// upstream login, the second factor, a failed flow's "Return to <app>", and a test connection's result.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { DEVICE_COOKIE } from '../../mfa/remembered-devices.ts';
import { requireTenant } from '../../plugins/tenant.ts';
import { chooseIdp, showChooser } from '../flow/choose-idp.ts';
import { continueFlow } from '../flow/continue.ts';
import { returnFromFailure } from '../flow/fail.ts';
import { showRestart } from '../flow/restart.ts';
import { flowUrl } from '../flow/outcome.ts';
import { finishAfterEnrolment, showSecondFactor, submitSecondFactor } from '../flow/second-factor.ts';
import { showTestResult } from '../test-connection/result.ts';
import { browserTokenOf, render, str } from './render.ts';

type FlowParams = { Params: { id: string } };
const visit = (request: FastifyRequest<FlowParams>) => ({
  flowId: request.params.id,
  browserToken: browserTokenOf(request),
});

export function flowRoutes(app: FastifyInstance, ctx: AppContext) {
  app.get<FlowParams>('/flow/:id/idp', async (request, reply) =>
    render(ctx, request, reply, await showChooser(ctx, requireTenant(request), visit(request))),
  );

  app.post<FlowParams & { Body: { idpId?: string; email?: string } }>('/flow/:id/idp', async (request, reply) =>
    render(
      ctx,
      request,
      reply,
      await chooseIdp(ctx, requireTenant(request), visit(request), {
        idpId: str(request.body?.idpId),
        email: str(request.body?.email),
      }),
    ),
  );

  // The outcome of a test connection, for the admin's browser that started it.
  app.get<FlowParams>('/flow/:id/test-result', async (request, reply) =>
    render(ctx, request, reply, await showTestResult(ctx, requireTenant(request), visit(request))),
  );

  // A failed flow's "Return to <app>" button: the app's signed error Response, once, for the flow's own browser.
  app.post<FlowParams>('/flow/:id/return', async (request, reply) =>
    render(ctx, request, reply, await returnFromFailure(ctx, requireTenant(request), visit(request))),
  );

  // The IdP's answer came again for a flow that had moved on (Back): say so, and offer to start again.
  app.get<FlowParams>('/flow/:id/restart', async (request, reply) =>
    render(ctx, request, reply, await showRestart(ctx, requireTenant(request), visit(request))),
  );

  // Stages 5–8: user, policy, response.
  app.get<FlowParams>('/flow/:id/continue', async (request, reply) =>
    render(
      ctx,
      request,
      reply,
      await continueFlow(ctx, requireTenant(request), {
        ...visit(request),
        deviceToken: request.cookies[DEVICE_COOKIE],
        userAgent: String(request.headers['user-agent'] ?? ''),
      }),
    ),
  );
}

/** Stage `mfa_enrol` / `mfa_verify` / `mfa_done`: the second-factor pages of a login (flow/second-factor.ts). */
export async function mfaRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  app.get<FlowParams>('/flow/:id/mfa', async (request, reply) =>
    render(ctx, request, reply, await showSecondFactor(ctx, requireTenant(request), visit(request))),
  );

  app.post<FlowParams & { Body: { code?: string; remember?: string; passkey?: string; passkeyName?: string } }>(
    '/flow/:id/mfa',
    async (request, reply) => {
      const form = {
        code: str(request.body?.code) ?? '',
        remember: request.body?.remember === 'on',
        ...(str(request.body?.passkey) !== undefined && {
          passkey: str(request.body?.passkey),
          passkeyName: str(request.body?.passkeyName),
        }),
      };
      return render(
        ctx,
        request,
        reply,
        await submitSecondFactor(
          ctx,
          requireTenant(request),
          visit(request),
          form,
          String(request.headers['user-agent'] ?? ''),
        ),
      );
    },
  );

  // After the recovery codes page: continue to the app.
  app.post<FlowParams>('/flow/:id/finish', async (request, reply) =>
    render(
      ctx,
      request,
      reply,
      await finishAfterEnrolment(
        ctx,
        requireTenant(request),
        visit(request),
        String(request.headers['user-agent'] ?? ''),
      ),
    ),
  );

  app.get<FlowParams>('/flow/:id/finish', async (request, reply) =>
    reply.redirect(flowUrl(request.params.id, 'mfa'), 303),
  );
}
