// What one hop of a flow answers, for the edge (http/) to render: a redirect, an auto-POST form, a page, or an
// error (thrown there, so the app's one error handler renders it, with the "Return to <app>" offer when the flow
// made one). Any error, not only an AppError: an outage (503) or a bug (500) reaches the error handler as before,
// with the cookies the hop had set. Alongside: the cookies to set, the flow id the request's log lines carry, and
// lines to log. A hop collects these while it runs (Hop); `runHop` turns how it ends, value or exception, into one
// Outcome.
import { BROWSER_COOKIE, bindBrowser } from './browser.ts';

/** What a failure page offers: a button that posts to `action` (the app is waiting), or a link to `loginUrl`; or,
 *  `startAgainUrl`, a "Start again" link there (a sign-in that had already moved on, restart.ts). */
export interface ReturnOffer {
  appName: string;
  answerable: boolean;
  action: string;
  loginUrl: string;
  startAgainUrl?: string;
}

/** An auto-POST form: `target` names who receives it (the page says "Signing you in to <target>"). */
export interface AutoPost {
  action: string;
  fields: Record<string, string>;
  target: string;
}

/** A cookie to set (or, `clear`, to clear); its options are the broker's (path /, HttpOnly, SameSite=Lax, Secure
 *  under https). */
export type CookieWrite = { name: string; value: string; maxAgeSeconds?: number } | { name: string; clear: true };

/** What the page (or the error page) may frame, and whether our own pages may frame it (single logout). */
export interface Framing {
  frames: string[];
  bySameOrigin: boolean;
}

export type Outcome = (
  | { kind: 'redirect'; url: string; status: 302 | 303 }
  | { kind: 'post'; form: AutoPost }
  /** `formTargets`: other origins a form on the page may post (or redirect) to */
  | { kind: 'page'; template: string; data: Record<string, unknown>; status?: number; formTargets?: string[] }
  | { kind: 'error'; error: unknown; offer?: ReturnOffer }
) & { cookies?: CookieWrite[]; flowId?: string; warnings?: Warning[]; framing?: Framing };

/** A line for the request's log, at level warn (a refused upstream message, with its diagnosis). */
export interface Warning {
  fields: Record<string, unknown>;
  message: string;
}

export type Answer = Exclude<Outcome, { kind: 'error' }>;

export const redirect = (url: string, status: 302 | 303 = 303): Answer => ({ kind: 'redirect', url, status });
export const post = (form: AutoPost): Answer => ({ kind: 'post', form });
export const page = (
  template: string,
  data: Record<string, unknown>,
  status?: number,
  formTargets?: string[],
): Answer => ({
  kind: 'page',
  template,
  data,
  ...(status !== undefined && { status }),
  ...(formTargets && { formTargets }),
});

export const flowUrl = (flowId: string, step: 'continue' | 'idp' | 'mfa' | 'finish') =>
  `/flow/${encodeURIComponent(flowId)}/${step}`;

/** What a hop gathered on its way, whatever it ends with. */
export class Hop {
  readonly cookies: CookieWrite[] = [];
  flowId?: string;
  offered?: ReturnOffer;
  readonly warnings: Warning[] = [];
  readonly framing: Framing = { frames: [], bySameOrigin: false };

  /** The browser token's hash, issuing a token (cookie) when the browser presented none. */
  bindBrowser(token: string | undefined): string {
    const bound = bindBrowser(token);
    if (bound.issued) this.cookies.push({ name: BROWSER_COOKIE, value: bound.issued });
    return bound.hash;
  }

  /** The flow this request is about, for its log lines (the first one named wins). */
  about(flowId: string) {
    this.flowId ??= flowId;
  }

  /** The page may load `url` (an SLO URL) in a frame. */
  allowFrame(url: string | null | undefined) {
    if (url) this.framing.frames.push(url);
  }

  /** Our own pages may frame this answer, whatever it is (an error included). */
  allowSameOriginFraming() {
    this.framing.bySameOrigin = true;
  }

  warn(fields: Record<string, unknown>, message: string) {
    this.warnings.push({ fields, message });
  }

  /** What the error page offers if this hop ends in an error (a failed flow's way back to its app). */
  offer(offer: ReturnOffer) {
    this.offered = offer;
  }
}

export async function runHop(body: (hop: Hop) => Promise<Answer>): Promise<Outcome> {
  const hop = new Hop();
  const extras = () => ({
    ...(hop.cookies.length && { cookies: hop.cookies }),
    ...(hop.flowId && { flowId: hop.flowId }),
    ...(hop.warnings.length && { warnings: hop.warnings }),
    ...((hop.framing.frames.length || hop.framing.bySameOrigin) && { framing: hop.framing }),
  });
  try {
    const answer = await body(hop);
    return { ...answer, ...extras() };
  } catch (error) {
    return { kind: 'error', error, ...(hop.offered && { offer: hop.offered }), ...extras() };
  }
}
