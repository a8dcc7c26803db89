// The app's one error handler renders from the error catalogue (src/errors.ts): the page's heading and its "Try
// again" offer come from the code's entry, the JSON answer keeps { error: { code, message } }, and a fault of ours
// shows the catalogue's text, never the exception's message (which stays in the log).
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { CATALOGUE } from '../../src/errors.ts';
import { createOrg, createTestContext } from '../helpers/context.ts';

const heading = (html: string) => /<h1>([^<]*)<\/h1>/.exec(html)?.[1];
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];

t.test('error pages and JSON from the catalogue', async (t) => {
  const tc = await createTestContext();
  const logged: string[] = [];
  const app = await buildApp(tc.ctx, {
    logger: { level: 'info', stream: { write: (line: string) => logged.push(line) } },
  });
  // A route with a bug: registered before the app is ready, under the app's error handler.
  app.get('/test-only/boom', async () => {
    throw new TypeError('secret detail of a bug');
  });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await tc.cleanup();
  });
  const { org, store } = await createOrg(tc.ctx, 'piedpipers', 'Pied Pipers');
  const host = `piedpipers.${tc.config.baseDomain}`;
  const get = (url: string, accept = 'text/html') => app.inject({ method: 'GET', url, headers: { host, accept } });

  t.test("a fault of ours: the catalogue's text, not the exception's message", async (t) => {
    const page = await get('/test-only/boom');
    t.equal(page.statusCode, 500);
    t.equal(codeOf(page.body), 'internal_error');
    t.equal(heading(page.body), 'Something went wrong');
    t.match(page.body, CATALOGUE.internal_error.text);
    t.notMatch(page.body, /secret detail/);
    const json = await get('/test-only/boom', 'application/json');
    t.same(json.json(), { error: { code: 'internal_error', message: CATALOGUE.internal_error.text } });
    t.ok(
      logged.some((l) => l.includes('secret detail of a bug')),
      'the exception is in the log',
    );
  });

  t.test('a code with its own page title', async (t) => {
    const page = await get('/flow/no-such-flow/continue');
    t.equal(page.statusCode, 410);
    t.equal(codeOf(page.body), 'flow_not_found');
    t.equal(heading(page.body), CATALOGUE.flow_not_found.title);
    t.match(page.body, 'This sign-in has expired or was already completed.', 'the message, as thrown');
    const json = await get('/flow/no-such-flow/continue', 'application/json');
    t.equal(json.statusCode, 410);
    t.match(json.json(), { error: { code: 'flow_not_found', message: /has expired/ } });
  });

  t.test('a code without one: the heading by status', async (t) => {
    const page = await get('/nothing-here');
    t.equal(page.statusCode, 404);
    t.equal(codeOf(page.body), 'not_found');
    t.equal(heading(page.body), 'Page not found');
    t.notMatch(page.body, /Try again/, 'nothing to retry');
  });

  t.test('a passing outage offers "Try again" (catalogue: retry) with Retry-After', async (t) => {
    const app1 = await store.applications.create({
      name: 'Wiki',
      entityId: 'https://wiki.example',
      acsUrls: ['https://wiki.example/acs'],
    });
    const url = `/apps/${app1.id}/launch`;
    const page = await get(url);
    t.equal(page.statusCode, 503, 'no identity provider yet');
    t.equal(codeOf(page.body), 'no_identity_provider');
    t.equal(heading(page.body), 'Temporarily unavailable');
    t.ok(page.headers['retry-after']);
    t.match(page.body, `<a class="button" href="${url}">Try again</a>`);
    t.match(page.body, org.name, 'the message names the organisation');
  });
});
