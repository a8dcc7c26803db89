// The upstream IdP's SessionNotOnOrAfter (in its AuthnStatement) bounds the broker session it starts: after it, the
// organisation's other apps go back to the IdP, whatever the organisation's session lifetime.
import t from 'tap';
import { sessionExpiry } from '../../src/broker/flow/session-expiry.ts';
import { Browser } from '../helpers/browser.ts';
import { b64, signWithXmlCrypto, type FakeIdp } from '../helpers/fake-idp.ts';
import { appReceives, createWorld, upstreamRequest, type World } from '../helpers/sso-world.ts';

const MINUTE = 60_000;

/** The IdP's signed answer to the request in `upstreamUrl`, its AuthnStatement saying SessionNotOnOrAfter=`until`. */
async function answerWithSessionLimit(w: World, fake: FakeIdp, upstreamUrl: string, until: Date) {
  const req = upstreamRequest(upstreamUrl);
  // The fake IdP's assertion, its signature removed, its session limit changed, then signed again.
  const xml = (
    await fake.responseXml({
      acsUrl: w.org.urls.spAcs,
      audience: w.org.urls.spEntityId,
      inResponseTo: req.id,
      now: w.ta.clock.now(),
      signResponse: false,
      signAssertion: true,
    })
  )
    .replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')
    .replace(/SessionNotOnOrAfter="[^"]+"/, `SessionNotOnOrAfter="${until.toISOString()}"`);
  if (!xml.includes(`SessionNotOnOrAfter="${until.toISOString()}"`)) throw new Error('no AuthnStatement to change');
  const signed = signWithXmlCrypto(xml, fake.credential, 'Assertion');
  return { samlResponse: b64(signed), relayState: req.relayState };
}

t.test("sessionExpiry: the earlier of the organisation's lifetime and the IdP's limit", async (t) => {
  const now = new Date('2026-12-04T10:00:00Z');
  t.same(sessionExpiry(now, 8 * 3600, {}), new Date('2026-12-04T18:00:00Z'), 'no limit from the IdP: the lifetime');
  t.same(
    sessionExpiry(now, 8 * 3600, { sessionNotOnOrAfter: '2026-12-04T10:10:00Z' }),
    new Date('2026-12-04T10:10:00Z'),
    "the IdP's limit when sooner",
  );
  t.same(
    sessionExpiry(now, 8 * 3600, { sessionNotOnOrAfter: '2026-12-05T10:00:00Z' }),
    new Date('2026-12-04T18:00:00Z'),
    'never longer than the lifetime',
  );
});

t.test(
  'SessionNotOnOrAfter 10 minutes ahead, organisation lifetime 8 h: the session ends after 10 minutes',
  async (t) => {
    const w = await createWorld();
    t.teardown(w.ta.cleanup);
    t.equal(
      (await w.ta.ctx.store.organizations.findById(w.org.org.id))!.sessionTtlSeconds,
      8 * 3600,
      "the organisation's lifetime: 8 h",
    );
    const { fake, idp } = await w.addIdp('Okta', { emailDomains: ['customer.example'] });
    const { sp: jira } = await w.addApp('Jira', { primaryIdpId: idp.id });
    const { sp: confluence } = await w.addApp('Confluence', { primaryIdpId: idp.id });
    await w.org.store.users.create({ email: 'ann@customer.example' });
    const browser = new Browser(w.ta);

    const until = new Date(w.ta.clock.now().getTime() + 10 * MINUTE);
    const start = await browser.get(await jira.getAuthorizeUrlAsync('', undefined, {}));
    const answer = await answerWithSessionLimit(w, fake, String(start.headers.location), until);
    const acs = await browser.post(
      w.org.urls.spAcs,
      { SAMLResponse: answer.samlResponse, RelayState: answer.relayState },
      { crossSite: true },
    );
    t.equal(acs.statusCode, 303, "the IdP's response is accepted");
    await appReceives(jira, (await browser.follow(acs, w.base)).res);
    const session = await w.ta.ctx.store.db.brokerSession.findFirstOrThrow({ where: { orgId: w.org.org.id } });
    t.same(session.expiresAt, until, "the session expires at the IdP's SessionNotOnOrAfter, not in 8 h");

    w.ta.clock.advance(9 * MINUTE);
    const before = await browser.get(await confluence.getAuthorizeUrlAsync('', undefined, {}));
    t.match(
      String(before.headers.location),
      /^\/flow\/[\w-]+\/continue$/,
      'before it: the second app rides on the session',
    );

    w.ta.clock.advance(MINUTE);
    const after = await browser.get(await confluence.getAuthorizeUrlAsync('', undefined, {}));
    t.match(
      String(after.headers.location),
      /^https:\/\/okta\.idp\.example\/sso\?SAMLRequest=/,
      'at it: the second app needs the IdP again',
    );
  },
);
