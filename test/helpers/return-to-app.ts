// The "Return to <app>" button of a failure page (src/broker/flow/fail.ts): pressed as a browser would, it posts
// to /flow/:id/return and gets the auto-POST page that takes the app its signed error Response.
import type { LightMyRequestResponse } from 'fastify';
import type { Browser } from './browser.ts';

/** The return form's action on a failure page, or null when the page offers none. */
export function returnAction(html: string): string | null {
  return /<form method="post" action="(\/flow\/[^"]+\/return)">/.exec(html)?.[1] ?? null;
}

export async function pressReturn(browser: Browser, base: string, page: LightMyRequestResponse) {
  const action = returnAction(page.body);
  if (!action) throw new Error(`no "Return to" button on the page (${page.statusCode}): ${page.body.slice(0, 500)}`);
  return browser.post(`${base}${action}`, {});
}
