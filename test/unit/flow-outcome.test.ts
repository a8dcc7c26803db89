// The flow service's hops end in one Outcome, whatever they end with: what the edge (src/broker/http) renders.
import t from 'tap';
import { AppError } from '../../src/errors.ts';
import { BROWSER_COOKIE, bindBrowser, sameBrowser } from '../../src/broker/flow/browser.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { redirect, runHop } from '../../src/broker/flow/outcome.ts';

const token = 'a'.repeat(43);

t.test('a browser binding is issued only when the browser presents no well-formed token', async (t) => {
  t.same(bindBrowser(token), { hash: sha256(token) });
  for (const presented of [undefined, '', 'short', `${token}!`]) {
    const bound = bindBrowser(presented);
    t.ok(bound.issued && /^[A-Za-z0-9_-]{43}$/.test(bound.issued), 'a new token');
    t.equal(bound.hash, sha256(bound.issued!));
  }
  t.ok(sameBrowser(token, sha256(token)));
  t.notOk(sameBrowser(undefined, sha256(token)));
  t.notOk(sameBrowser(token, null));
  t.notOk(sameBrowser('b'.repeat(43), sha256(token)));
});

t.test('a hop keeps its cookies, flow id and offer, also when it ends in an error', async (t) => {
  const done = await runHop(async (hop) => {
    hop.bindBrowser(undefined);
    hop.about('flow-1');
    hop.about('flow-2');
    return redirect('/next');
  });
  t.equal(done.kind, 'redirect');
  t.equal(done.flowId, 'flow-1', 'the first flow named is the one logged');
  t.equal(done.cookies?.[0]?.name, BROWSER_COOKIE);

  const err = new AppError('policy_denied', 'no');
  const offer = { appName: 'App', answerable: true, action: '/flow/x/return', loginUrl: '/login' };
  const failed = await runHop(async (hop) => {
    hop.about('flow-3');
    hop.offer(offer);
    hop.warn({ code: 'denied' }, 'refused');
    throw err;
  });
  t.same(failed, {
    kind: 'error',
    error: err,
    offer,
    flowId: 'flow-3',
    warnings: [{ fields: { code: 'denied' }, message: 'refused' }],
  });

  const plain = await runHop(async () => redirect('/x', 302));
  t.same(plain, { kind: 'redirect', url: '/x', status: 302 }, 'nothing extra when nothing was gathered');
});
