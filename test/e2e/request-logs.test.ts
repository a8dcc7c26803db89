// Every log line of a request names the organisation and, on the login flow's routes, the stage and the flow, so one
// login can be followed through the JSON logs (and across nodes) by its flow id.
import t from 'tap';
import { Browser } from '../helpers/browser.ts';
import { appReceives, createWorld, idpAnswers, upstreamRequest } from '../helpers/sso-world.ts';

type Line = {
  msg: string;
  reqId?: string;
  org?: string;
  stage?: string;
  flowId?: string;
  req?: { url: string };
  code?: string;
};

/** Keys written more than once into one object of a JSON text (JSON.parse silently keeps the last of them). */
function duplicateKeys(json: string): string[] {
  const found: string[] = [];
  let i = 0;
  const ws = () => {
    while (/\s/.test(json[i])) i++;
  };
  const str = () => {
    const start = i++;
    while (json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(json.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    if (json[i] === '{') {
      i++;
      const seen = new Set<string>();
      for (ws(); json[i] !== '}'; ws()) {
        if (json[i] === ',') {
          i++;
          ws();
        }
        const key = str();
        if (seen.has(key)) found.push(key);
        seen.add(key);
        ws();
        i++; // ':'
        value();
      }
      i++;
    } else if (json[i] === '[') {
      i++;
      for (ws(); json[i] !== ']'; ws()) {
        if (json[i] === ',') i++;
        value();
      }
      i++;
    } else if (json[i] === '"') str();
    else while (i < json.length && !/[,}\]\s]/.test(json[i])) i++;
  };
  value();
  return found;
}

t.test('request logs carry organisation, stage and flow id', async (t) => {
  const lines: Line[] = [];
  const raw: string[] = [];
  const w = await createWorld('piedpipers', undefined, {
    logger: {
      level: 'info',
      stream: {
        write: (s: string) => {
          raw.push(s);
          lines.push(JSON.parse(s));
        },
      },
    },
  });
  t.teardown(w.ta.cleanup);
  const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
  const { sp } = await w.addApp('Jira', { primaryIdpId: idp.id });
  await w.org.store.users.create({ email: 'ann@customer.example' });
  const browser = new Browser(w.ta);

  const start = await browser.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
  const upstreamUrl = String(start.headers.location);
  const flowId = upstreamRequest(upstreamUrl).relayState;
  const acs = await idpAnswers(w, browser, fake, upstreamUrl);
  const { res: page } = await browser.follow(acs.res, w.base);
  await appReceives(sp, page);

  // Lines are matched to their request by reqId: the incoming line has the URL, the completed line the context.
  const completed = lines.filter((l) => l.msg === 'request completed');
  const urlOf = new Map(lines.filter((l) => l.msg === 'incoming request').map((l) => [l.reqId, l.req!.url]));
  const byStage = Object.fromEntries(completed.filter((l) => l.stage).map((l) => [l.stage, l]));
  t.same(Object.keys(byStage).sort(), ['acs', 'continue', 'sso'], 'the three hops of a login without a second factor');
  for (const stage of ['sso', 'acs', 'continue']) {
    t.equal(byStage[stage].org, 'piedpipers', `${stage}: organisation`);
    t.equal(
      byStage[stage].flowId,
      flowId,
      `${stage}: the flow, created at sso and named by the IdP's RelayState at the ACS`,
    );
  }
  t.match(urlOf.get(byStage.continue.reqId), `/flow/${flowId}/continue`);

  await t.test(
    'a refused request names organisation and stage; a forged flow id is logged only when it could be one',
    async (t) => {
      lines.length = 0;
      await w.ta.request('piedpipers', { method: 'GET', url: `/flow/${'x'.repeat(80)}/continue` });
      await w.ta.request('piedpipers', { method: 'GET', url: '/flow/unknown-flow/continue' });
      const done = lines.filter((l) => l.msg === 'request completed');
      t.equal(done.length, 2);
      t.same(
        done.map((l) => [l.org, l.stage, l.flowId]),
        [
          ['piedpipers', 'continue', undefined],
          ['piedpipers', 'continue', 'unknown-flow'],
        ],
      );
      t.ok(
        lines.some((l) => l.code === 'flow_not_found' && l.org === 'piedpipers' && l.flowId === 'unknown-flow'),
        'the refusal line carries the context too',
      );
    },
  );

  await t.test('requests outside the flow name only the organisation; probes name none', async (t) => {
    lines.length = 0;
    await w.ta.request('piedpipers', { method: 'GET', url: '/saml/idp/metadata' });
    await w.ta.request(null, { method: 'GET', url: '/healthz' });
    const [metadata, health] = lines.filter((l) => l.msg === 'request completed');
    t.equal(metadata.org, 'piedpipers');
    t.equal(metadata.stage, undefined);
    t.equal(health.org, undefined);
  });

  await t.test(
    'each key once per line: the organisation, stage and flow are bindings, never repeated by a log call',
    async (t) => {
      t.same(duplicateKeys('{"org":"a","x":{"org":1},"org":"b"}'), ['org'], 'the check finds a repeated key');
      raw.length = 0;
      lines.length = 0;
      // A full login, an upstream response refused at the ACS (its own warning line), refusals on every kind of route.
      const other = new Browser(w.ta); // no broker session yet: the login goes to the IdP
      const s2 = await other.get(await sp.getAuthorizeUrlAsync('', undefined, {}));
      const u2 = String(s2.headers.location);
      const { relayState } = upstreamRequest(u2);
      // A refusal at the ACS ends the flow it names (the app then hears back), so the refused message names none.
      void relayState;
      await other.post(
        w.org.urls.spAcs,
        { SAMLResponse: Buffer.from('<samlp:Response/>').toString('base64'), RelayState: 'no-flow-of-ours' },
        { crossSite: true },
      );
      const acs2 = await idpAnswers(w, other, fake, u2);
      await appReceives(sp, (await other.follow(acs2.res, w.base)).res);
      await w.ta.request('piedpipers', { method: 'GET', url: '/flow/unknown-flow/continue' });
      await w.ta.request('piedpipers', { method: 'GET', url: '/saml/idp/sso?SAMLRequest=%%%' });
      await w.ta.request('nowhere', { method: 'GET', url: '/login' });
      t.ok(
        lines.some((l) => l.msg === 'upstream response rejected' && l.org === 'piedpipers'),
        'the ACS warning names the organisation',
      );
      t.ok(
        lines.some((l) => l.code === 'flow_not_found' && l.org === 'piedpipers'),
        'so does a refusal',
      );
      t.ok(raw.length > 10);
      for (const line of raw) t.same(duplicateKeys(line), [], `each key once: ${line.slice(0, 120)}`);
    },
  );
});
