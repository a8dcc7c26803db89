// Scheduled metadata refresh against a real metadata server on 127.0.0.1 (private addresses allowed through the
// config), on both databases: rollovers land and are audited, failures keep the last good copy and are audited once,
// the schedule follows the metadata within the configured bounds, and each due IdP is fetched by one caller only.
import t from 'tap';
import { createServer, type RequestListener } from 'node:http';
import { SignedXml } from 'xml-crypto';
import { AppError, ValidationError } from '../../src/errors.ts';
import {
  refreshDueMetadata,
  refreshIdpMetadataNow,
  SCHEDULED_REFRESH_ACTOR,
} from '../../src/orgs/remote/metadata-refresh.ts';
import { ENVELOPED, EXC_C14N, RSA_SHA256, SHA256 } from '../../src/saml/algorithms.ts';
import {
  certificateFingerprint,
  generateSigningCredential,
  type GeneratedCredential,
} from '../../src/saml/certificates.ts';
import { idpMetadata } from '../../src/saml/metadata.ts';
import { createOrg, createTestContext, testProviders } from '../helpers/context.ts';

const ENTITY = 'http://www.okta.com/exk1';
const oldCred = generateSigningCredential('idp-2025');
const newCred = generateSigningCredential('idp-2026');
const federationCred = generateSigningCredential('federation');
const strangerCred = generateSigningCredential('stranger');

interface DocOptions {
  entityId?: string;
  ssoUrl?: string;
  certs?: string[];
  rootAttrs?: string;
}
/** Metadata as an aggregate with one IdP (an EntitiesDescriptor with an ID, so that it can be signed). */
function doc(o: DocOptions = {}) {
  const entity = idpMetadata({
    entityId: o.entityId ?? ENTITY,
    ssoUrl: o.ssoUrl ?? 'https://okta.example/sso',
    sloUrl: 'https://okta.example/slo',
    certificates: o.certs ?? [oldCred.certificatePem],
    organizationName: 'Okta',
    organizationUrl: 'https://okta.example',
  }).replace(/^<\?xml[^>]*>\s*/, '');
  return `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_md" ${o.rootAttrs ?? ''}>${entity}</md:EntitiesDescriptor>`;
}
function sign(xml: string, cred: GeneratedCredential) {
  const sig = new SignedXml({
    privateKey: cred.privateKeyPem,
    publicCert: cred.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  sig.addReference({ xpath: "/*[@ID='_md']", transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: '/*', action: 'prepend' } });
  return sig.getSignedXml();
}

const MINUTE = 60_000;

for (const provider of testProviders()) {
  t.test(provider, async (t) => {
    const tc = await createTestContext({
      provider,
      env: {
        METADATA_ALLOW_PRIVATE: 'true',
        METADATA_FETCH_TIMEOUT_SECONDS: '1',
        METADATA_REFRESH_MIN_SECONDS: '300',
        METADATA_REFRESH_INTERVAL_SECONDS: '3600',
      },
    });
    t.teardown(tc.cleanup);
    const { ctx, clock } = tc;
    const a = await createOrg(ctx, 'orga');
    const b = await createOrg(ctx, 'orgb');

    // The partner's metadata server: each path answers with whatever the test sets, and counts its requests.
    const routes = new Map<string, RequestListener>();
    const hits = new Map<string, number>();
    const server = createServer((req, res) => {
      hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
      const route = routes.get(req.url!);
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      server.closeAllConnections();
      server.close();
    });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const serve = (path: string, body: string) =>
      routes.set(path, (_req, res) => res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(body));

    type Subtest = { teardown(fn: () => unknown): void };
    const registered = async (t: Subtest, store: typeof a.store, path: string, extra: Record<string, unknown> = {}) => {
      const idp = await store.identityProviders.create({
        name: 'Okta',
        entityId: ENTITY,
        ssoUrl: 'https://okta.example/sso',
        sloUrl: 'https://okta.example/slo',
        certificates: [oldCred.certificatePem],
        metadataUrl: `${base}${path}`,
        ...extra,
      });
      // Each test leaves no due IdP behind for the next one (the scheduled refresh spans every organisation).
      t.teardown(() => store.identityProviders.delete(idp.id).catch(() => {}));
      return idp;
    };
    const audit = (store: typeof a.store, type: string) => store.audit.list({ type });

    t.test(
      'a rollover lands: certificates and SSO URL taken, audited with fingerprints and URLs; no change, no audit line',
      async (t) => {
        serve('/rollover', doc());
        const idp = await registered(t, a.store, '/rollover');
        const now = clock.now();
        const first = await refreshDueMetadata(ctx, now);
        t.match(first, { due: 1, updated: 1, changed: 0, failed: 0, skipped: 0 });
        let stored = (await a.store.identityProviders.findById(idp.id))!;
        t.equal(stored.metadataFetchedAt?.getTime(), now.getTime());
        t.equal(
          stored.metadataRefreshAt?.getTime(),
          now.getTime() + 60 * MINUTE,
          'next refresh after the configured interval',
        );
        t.equal(stored.metadataXml, doc());
        t.equal(stored.metadataError, null);
        t.equal((await audit(a.store, 'idp.metadata_changed')).length, 0, 'nothing changed, nothing audited');

        serve(
          '/rollover',
          doc({ certs: [oldCred.certificatePem, newCred.certificatePem], ssoUrl: 'https://okta.example/sso2' }),
        );
        clock.advance(30 * MINUTE);
        t.match(await refreshDueMetadata(ctx, clock.now()), { due: 0 }, 'not due before its time');
        t.equal(hits.get('/rollover'), 1);
        clock.advance(30 * MINUTE);
        t.match(await refreshDueMetadata(ctx, clock.now()), { due: 1, updated: 1, changed: 1 });
        stored = (await a.store.identityProviders.findById(idp.id))!;
        t.same(
          stored.certificates.map(certificateFingerprint),
          [oldCred.fingerprint, newCred.fingerprint],
          'both certificates trusted during the rollover',
        );
        t.equal(stored.ssoUrl, 'https://okta.example/sso2');
        const events = await audit(a.store, 'idp.metadata_changed');
        t.equal(events.length, 1);
        t.equal(events[0].actor, SCHEDULED_REFRESH_ACTOR);
        t.equal(events[0].idpId, idp.id);
        t.same(events[0].details.certificates, {
          old: [oldCred.fingerprint],
          new: [oldCred.fingerprint, newCred.fingerprint].sort(),
        });
        t.same(events[0].details.ssoUrl, { old: 'https://okta.example/sso', new: 'https://okta.example/sso2' });
        t.notOk('sloUrl' in events[0].details, 'only what changed');
        t.equal((await audit(b.store, 'idp.metadata_changed')).length, 0, 'nothing in another organisation’s log');

        // The old key retired: the certificate list shrinks, which is audited too.
        serve('/rollover', doc({ certs: [newCred.certificatePem], ssoUrl: 'https://okta.example/sso2' }));
        clock.advance(60 * MINUTE);
        await refreshDueMetadata(ctx, clock.now());
        stored = (await a.store.identityProviders.findById(idp.id))!;
        t.same(stored.certificates.map(certificateFingerprint), [newCred.fingerprint]);
        t.same((await audit(a.store, 'idp.metadata_changed'))[0].details.certificates, {
          old: [oldCred.fingerprint, newCred.fingerprint].sort(),
          new: [newCred.fingerprint],
        });
      },
    );

    t.test('the schedule follows cacheDuration and validUntil within the configured bounds', async (t) => {
      const idp = await registered(t, a.store, '/schedule');
      const next = async (body: string) => {
        serve('/schedule', body);
        await refreshIdpMetadataNow(ctx, a.store, idp.id, 'admin@orga.example');
        const stored = (await a.store.identityProviders.findById(idp.id))!;
        return {
          minutes: (stored.metadataRefreshAt!.getTime() - clock.now().getTime()) / MINUTE,
          validUntil: stored.metadataValidUntil,
        };
      };
      t.equal((await next(doc({ rootAttrs: 'cacheDuration="PT10M"' }))).minutes, 10);
      t.equal(
        (await next(doc({ rootAttrs: 'cacheDuration="P1D"' }))).minutes,
        60,
        'capped by METADATA_REFRESH_INTERVAL_SECONDS',
      );
      t.equal(
        (await next(doc({ rootAttrs: 'cacheDuration="PT30S"' }))).minutes,
        5,
        'not sooner than METADATA_REFRESH_MIN_SECONDS',
      );
      const validUntil = new Date(clock.now().getTime() + 40 * MINUTE);
      const withValidity = await next(doc({ rootAttrs: `validUntil="${validUntil.toISOString()}"` }));
      t.equal(withValidity.minutes, 30, 'well before the copy expires');
      t.equal(withValidity.validUntil?.getTime(), validUntil.getTime());
    });

    t.test(
      'failures keep the previous copy, set metadataError, back off, and are audited once per distinct error',
      async (t) => {
        serve('/flaky', doc());
        const idp = await registered(t, a.store, '/flaky');
        await refreshDueMetadata(ctx, clock.now());
        const good = (await a.store.identityProviders.findById(idp.id))!;
        const failures = () => audit(a.store, 'idp.metadata_refresh_failed');

        routes.set('/flaky', (_req, res) => res.writeHead(500).end('oops'));
        const waits: number[] = [];
        for (let i = 0; i < 4; i++) {
          clock.set((await a.store.identityProviders.findById(idp.id))!.metadataRefreshAt!);
          const summary = await refreshDueMetadata(ctx, clock.now());
          t.match(summary, {
            due: 1,
            failed: 1,
            failures: [{ orgId: a.org.id, idpId: idp.id, error: 'The metadata URL answered HTTP 500' }],
          });
          waits.push(
            ((await a.store.identityProviders.findById(idp.id))!.metadataRefreshAt!.getTime() - clock.now().getTime()) /
              MINUTE,
          );
        }
        t.same(waits, [5, 5, 10, 20], 'retries back off from the minimum, doubling');
        let stored = (await a.store.identityProviders.findById(idp.id))!;
        t.match(stored.metadataError, /^The metadata URL answered HTTP 500 \(failing since /);
        t.same(stored.certificates, good.certificates);
        t.equal(stored.ssoUrl, good.ssoUrl);
        t.equal(stored.metadataXml, good.metadataXml);
        t.equal(stored.metadataFetchedAt?.getTime(), good.metadataFetchedAt?.getTime());
        const events = await failures();
        t.equal(events.length, 1, 'four failed attempts, one audit line');
        t.match(events[0], {
          outcome: 'failure',
          actor: SCHEDULED_REFRESH_ACTOR,
          idpId: idp.id,
          details: { error: 'The metadata URL answered HTTP 500' },
        });

        // Every other way a refresh fails: one audit line each, the good copy untouched.
        const cases: [string, () => Promise<void> | void, RegExp][] = [
          [
            'timeout',
            () => {
              routes.set('/flaky', (_req, res) => {
                setTimeout(() => res.writeHead(200).end(doc()), 1500);
              });
            },
            /timed out/,
          ],
          [
            'oversize',
            () => {
              serve('/flaky', doc() + ' '.repeat(1024 * 1024));
            },
            /more than 1048576 bytes/,
          ],
          [
            'bad XML',
            () => {
              serve('/flaky', '<html><body>Maintenance');
            },
            /The metadata is not (well-formed XML|SAML 2\.0 metadata)/,
          ],
          [
            'expired validUntil',
            () => {
              serve(
                '/flaky',
                doc({ rootAttrs: `validUntil="${new Date(clock.now().getTime() - MINUTE).toISOString()}"` }),
              );
            },
            /The metadata expired at/,
          ],
          [
            'entity ID missing',
            () => {
              serve('/flaky', doc({ entityId: 'https://someone-else.example' }));
            },
            /does not contain the entity "http:\/\/www\.okta\.com\/exk1"/,
          ],
          [
            'unsigned while a signing certificate is configured',
            async () => {
              await a.store.identityProviders.update(idp.id, {
                metadataSigningCertificate: federationCred.certificatePem,
              });
              serve('/flaky', doc({ ssoUrl: 'https://evil.example/sso' }));
            },
            /The metadata is not signed/,
          ],
          [
            'signed by another key',
            () => {
              serve('/flaky', sign(doc({ ssoUrl: 'https://evil.example/sso' }), strangerCred));
            },
            /another certificate|signature is not valid/,
          ],
        ];
        for (const [name, arrange, expected] of cases) {
          await arrange();
          const before = (await failures()).length;
          const outcome = await refreshIdpMetadataNow(ctx, a.store, idp.id, 'admin@orga.example');
          t.match(outcome, { status: 'failed', error: expected }, name);
          stored = (await a.store.identityProviders.findById(idp.id))!;
          t.match(stored.metadataError, expected, `${name}: metadataError says why`);
          t.same(stored.certificates, good.certificates, `${name}: certificates kept`);
          t.equal(stored.ssoUrl, good.ssoUrl, `${name}: SSO URL kept`);
          t.equal(stored.metadataXml, good.metadataXml, `${name}: metadata copy kept`);
          const after = await failures();
          t.equal(after.length, before + 1, `${name}: one audit line`);
          t.equal(after[0].actor, 'admin@orga.example');
        }

        // Signed by the configured certificate: accepted, and the failure is over.
        serve('/flaky', sign(doc({ ssoUrl: 'https://okta.example/sso3' }), federationCred));
        t.match(await refreshIdpMetadataNow(ctx, a.store, idp.id, 'admin@orga.example'), {
          status: 'updated',
          changes: { ssoUrl: { new: 'https://okta.example/sso3' } },
        });
        stored = (await a.store.identityProviders.findById(idp.id))!;
        t.equal(stored.metadataError, null);
        t.equal(stored.ssoUrl, 'https://okta.example/sso3');
        t.equal(
          stored.metadataRefreshAt?.getTime(),
          clock.now().getTime() + 60 * MINUTE,
          'back on the normal schedule',
        );
      },
    );

    t.test('only enabled IdPs with a metadata URL whose time has come are due', async (t) => {
      serve('/due', doc());
      await registered(t, a.store, '/due', { enabled: false });
      await registered(t, b.store, '/due', { metadataRefreshAt: new Date(clock.now().getTime() + MINUTE) });
      const manual = await a.store.identityProviders.create({
        name: 'By hand',
        entityId: 'https://by-hand.example',
        ssoUrl: 'https://by-hand.example/sso',
        certificates: [oldCred.certificatePem],
      });
      t.teardown(() => a.store.identityProviders.delete(manual.id));
      hits.delete('/due');
      t.match(await refreshDueMetadata(ctx, clock.now()), { due: 0, updated: 0 });
      t.equal(hits.get('/due'), undefined, 'nothing fetched');
      clock.advance(MINUTE);
      t.match(await refreshDueMetadata(ctx, clock.now()), { due: 1, updated: 1 }, 'due once its time has come');
    });

    t.test('every organisation’s due IdPs are refreshed; one failure does not stop the others', async (t) => {
      serve('/a', doc({ ssoUrl: 'https://a.example/sso' }));
      routes.set('/b-broken', (_req, res) => res.writeHead(503).end());
      serve('/b', doc({ entityId: 'https://idp.b.example', ssoUrl: 'https://b.example/sso' }));
      const idpA = await registered(t, a.store, '/a');
      const brokenB = await registered(t, b.store, '/b-broken');
      const idpB = await registered(t, b.store, '/b', { entityId: 'https://idp.b.example' });
      const summary = await refreshDueMetadata(ctx, clock.now(), { concurrency: 1 });
      t.match(summary, {
        due: 3,
        updated: 3 - 1,
        failed: 1,
        failures: [{ orgId: b.org.id, idpId: brokenB.id, error: /HTTP 503/ }],
      });
      t.equal((await a.store.identityProviders.findById(idpA.id))!.ssoUrl, 'https://a.example/sso');
      t.equal((await b.store.identityProviders.findById(idpB.id))!.ssoUrl, 'https://b.example/sso');
      const failedFor = async (store: typeof a.store) =>
        (await audit(store, 'idp.metadata_refresh_failed')).filter((e) => e.idpId === brokenB.id);
      t.equal((await failedFor(b.store)).length, 1);
      t.equal((await failedFor(a.store)).length, 0, 'audited in its own organisation only');
    });

    t.test('two nodes refreshing at the same moment fetch each due IdP once', async (t) => {
      routes.set('/race', (_req, res) => {
        setTimeout(() => res.end(doc({ ssoUrl: 'https://race.example/sso' })), 50);
      });
      const idp = await registered(t, a.store, '/race');
      const now = clock.now();
      const [one, two] = await Promise.all([refreshDueMetadata(ctx, now), refreshDueMetadata(ctx, now)]);
      t.equal(hits.get('/race'), 1, 'fetched once');
      t.equal(one.updated + two.updated, 1);
      t.equal(one.skipped + two.skipped, one.due + two.due - 1, 'a caller that also saw it due lost the claim');
      t.equal((await audit(a.store, 'idp.metadata_changed')).filter((e) => e.idpId === idp.id).length, 1);

      // The claim itself, raced directly: of callers that saw the same due time, exactly one takes the IdP.
      const seen = (await a.store.identityProviders.findById(idp.id))!.metadataRefreshAt;
      const until = new Date(clock.now().getTime() + 5 * MINUTE);
      const claims = await Promise.all(
        Array.from({ length: 4 }, () =>
          ctx.store.forOrg(a.org.id).identityProviders.claimMetadataRefresh(idp.id, seen, until),
        ),
      );
      t.same(claims.filter(Boolean).length, 1);
      t.equal(
        await b.store.identityProviders.claimMetadataRefresh(idp.id, until, new Date(0)),
        false,
        'another organisation cannot claim it',
      );
    });

    t.test(
      'refresh now: scoped to the organisation; nothing written when the IdP changed during the fetch',
      async (t) => {
        serve('/now', doc({ ssoUrl: 'https://now.example/sso' }));
        const idp = await registered(t, a.store, '/now');
        const err = (await t.rejects(refreshIdpMetadataNow(ctx, b.store, idp.id, 'admin@orgb.example'))) as AppError;
        t.equal(err.code, 'idp_not_found', 'another organisation’s IdP is not found');
        t.equal(hits.get('/now'), undefined, 'and not fetched');
        t.equal((await a.store.identityProviders.findById(idp.id))!.metadataFetchedAt, null);

        const manual = await b.store.identityProviders.create({
          name: 'By hand',
          entityId: 'https://by-hand.example',
          ssoUrl: 'https://by-hand.example/sso',
          certificates: [oldCred.certificatePem],
        });
        t.teardown(() => b.store.identityProviders.delete(manual.id));
        const noUrl = (await t.rejects(
          refreshIdpMetadataNow(ctx, b.store, manual.id, 'admin@orgb.example'),
        )) as ValidationError;
        t.match(noUrl.fields, { metadataUrl: /not set/ });

        // The admin resets the schedule while the fetch is in flight: the refresh that started earlier writes nothing.
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let arrived!: () => void;
        const requested = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        routes.set('/now', (_req, res) => {
          arrived();
          void held.then(() => res.end(doc({ ssoUrl: 'https://late.example/sso' })));
        });
        const pending = refreshIdpMetadataNow(ctx, a.store, idp.id, 'admin@orga.example');
        await requested;
        await a.store.identityProviders.update(idp.id, { metadataRefreshAt: null });
        release();
        t.same(await pending, { status: 'superseded' });
        const stored = (await a.store.identityProviders.findById(idp.id))!;
        t.equal(stored.ssoUrl, 'https://okta.example/sso');
        t.equal(stored.metadataRefreshAt, null, 'the admin’s change stands');
      },
    );
  });
}
