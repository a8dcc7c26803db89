// The edge of the broker: what every route shares to read a request into plain values and to write the outcome of
// a flow hop (flow/outcome.ts) into the reply: a redirect, an auto-POST form, a branded page, or an error thrown to
// the app's error handler with the "Return to <app>" offer it reads (returnOfferFor, app.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { allowFormTarget, allowFrame, allowSameOriginFraming } from '../../plugins/content-security-policy.ts';
import { logWith } from '../../plugins/request-log.ts';
import { page } from '../../plugins/view.ts';
import { BROWSER_COOKIE, bindBrowser, cookieOptions } from '../flow/browser.ts';
import type { ReturnOffer } from '../flow/outcome.ts';
import type { Outcome } from '../flow/outcome.ts';

export const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The raw query string as received (Redirect-binding signatures cover its exact octets). */
export const rawQueryOf = (request: FastifyRequest) =>
  request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';

/** The browser-binding cookie as presented. */
export const browserTokenOf = (request: FastifyRequest) => request.cookies[BROWSER_COOKIE];

/** The browser token's hash; issues a token when the browser has none (outside the flow service: the admin's test
 *  connection). */
export function browserBinding(request: FastifyRequest, reply: FastifyReply, config: AppContext['config']): string {
  const bound = bindBrowser(request.cookies[BROWSER_COOKIE]);
  if (bound.issued) reply.setCookie(BROWSER_COOKIE, bound.issued, cookieOptions(config));
  return bound.hash;
}

// The offer of the request being answered, read by the error handler (app.ts) when it renders the error page.
const offers = new WeakMap<FastifyRequest, ReturnOffer>();
export const returnOfferFor = (request: FastifyRequest): ReturnOffer | undefined => offers.get(request);

/** An auto-POST form to `action` (an app's ACS, an IdP's SSO URL): the page's CSP allows that form target. */
export function postForm(
  request: FastifyRequest,
  reply: FastifyReply,
  action: string,
  fields: Record<string, string>,
  target: string,
) {
  allowFormTarget(reply, action);
  return page(request, reply, 'saml-post', { title: `Signing you in to ${target}`, action, fields, target });
}

export function render(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, outcome: Outcome) {
  if (outcome.flowId) logWith(request, { flowId: outcome.flowId });
  for (const w of outcome.warnings ?? []) request.log.warn(w.fields, w.message);
  for (const c of outcome.cookies ?? []) {
    if ('clear' in c) reply.clearCookie(c.name, cookieOptions(ctx.config));
    else reply.setCookie(c.name, c.value, cookieOptions(ctx.config, c.maxAgeSeconds));
  }
  if (outcome.framing?.bySameOrigin) allowSameOriginFraming(reply);
  for (const url of outcome.framing?.frames ?? []) allowFrame(reply, url);
  switch (outcome.kind) {
    case 'redirect':
      return reply.redirect(outcome.url, outcome.status);
    case 'post':
      return postForm(request, reply, outcome.form.action, outcome.form.fields, outcome.form.target);
    case 'page':
      for (const target of outcome.formTargets ?? []) allowFormTarget(reply, target);
      return page(request, reply, outcome.template, outcome.data, outcome.status);
    case 'error':
      if (outcome.offer) offers.set(request, outcome.offer);
      throw outcome.error;
  }
}
