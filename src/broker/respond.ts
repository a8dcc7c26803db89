// How a finished step answers the browser: the auto-POST form to the app, the denied page (with a button that takes
// the SAML error Response to the app), or the second-factor page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { page } from '../plugins/view.ts';
import { allowFormTarget } from '../plugins/content-security-policy.ts';
import { cookieOptions, SESSION_COOKIE } from './browser-binding.ts';
import type { Completion } from './complete-flow.ts';
import type { PostToApp } from './downstream-response.ts';

export const flowUrl = (flowId: string, step: 'continue' | 'idp' | 'mfa' | 'finish') => `/flow/${encodeURIComponent(flowId)}/${step}`;

export function postForm(request: FastifyRequest, reply: FastifyReply, action: string, fields: Record<string, string>, target: string) {
  allowFormTarget(reply, action);
  return page(request, reply, 'saml-post', { title: `Signing you in to ${target}`, action, fields, target });
}

const fieldsOf = (post: PostToApp) => ({ SAMLResponse: post.samlResponse, ...(post.relayState !== null && { RelayState: post.relayState }) });

export function postToApp(request: FastifyRequest, reply: FastifyReply, post: PostToApp) {
  return postForm(request, reply, post.acsUrl, fieldsOf(post), post.appName);
}

export function answer(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, tenant: Tenant, outcome: Completion) {
  if (outcome.kind === 'mfa') return reply.redirect(flowUrl(outcome.flowId, 'mfa'), 303);
  if (outcome.kind === 'denied') {
    const { post } = outcome;
    allowFormTarget(reply, post.acsUrl);
    return page(request, reply, 'denied', { title: 'Access denied', message: outcome.message, code: outcome.code, action: post.acsUrl, fields: fieldsOf(post), appName: post.appName }, 403);
  }
  if (outcome.newSessionToken) reply.setCookie(SESSION_COOKIE, outcome.newSessionToken, cookieOptions(ctx.config, tenant.org.sessionTtlSeconds));
  return postToApp(request, reply, outcome.post);
}
