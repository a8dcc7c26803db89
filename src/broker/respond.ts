// How a finished step answers the browser: the auto-POST form to the app, the denied page (with a "Return to <app>"
// button, see flow-failure.ts), or the second-factor page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { page } from '../plugins/view.ts';
import { allowFormTarget } from '../plugins/content-security-policy.ts';
import { cookieOptions, SESSION_COOKIE } from './flow/browser.ts';
import { expired, type Completion } from './complete-flow.ts';
import type { PostToApp } from './flow/downstream-response.ts';
import { returnOffer, returnToApp } from './flow-failure.ts';
import type { FlowData } from './flow/stages.ts';
import type { LoginFlow } from '../store/login-flows.ts';

export const flowUrl = (flowId: string, step: 'continue' | 'idp' | 'mfa' | 'finish') => `/flow/${encodeURIComponent(flowId)}/${step}`;

export function postForm(request: FastifyRequest, reply: FastifyReply, action: string, fields: Record<string, string>, target: string) {
  allowFormTarget(reply, action);
  return page(request, reply, 'saml-post', { title: `Signing you in to ${target}`, action, fields, target });
}

const fieldsOf = (post: PostToApp) => ({ SAMLResponse: post.samlResponse, ...(post.relayState !== null && { RelayState: post.relayState }) });

export function postToApp(request: FastifyRequest, reply: FastifyReply, post: PostToApp) {
  return postForm(request, reply, post.acsUrl, fieldsOf(post), post.appName);
}

export async function answer(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, tenant: Tenant, outcome: Completion) {
  if (outcome.kind === 'mfa') return reply.redirect(flowUrl(outcome.flowId, 'mfa'), 303);
  if (outcome.kind === 'denied') {
    // The app asked for no page at all (IsPassive): its error Response goes at once.
    if (outcome.flow.data.failure?.subStatus === 'NoPassive') return returnNow(ctx, request, reply, tenant, outcome.flow);
    return page(request, reply, 'denied', { title: 'Access denied', message: outcome.message, code: outcome.code, returnTo: returnOffer(outcome.flow, outcome.appName) }, 403);
  }
  if (outcome.newSessionToken) reply.setCookie(SESSION_COOKIE, outcome.newSessionToken, cookieOptions(ctx.config, tenant.org.sessionTtlSeconds));
  return postToApp(request, reply, outcome.post);
}

/** A failed flow's signed error Response to the app, once (flow-failure.ts). */
export async function returnNow(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, tenant: Tenant, flow: LoginFlow<FlowData>) {
  const post = await returnToApp(ctx, tenant, flow);
  if (!post) throw expired();
  return postToApp(request, reply, post);
}
