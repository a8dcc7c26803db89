// Interop with pysaml2 as the upstream IdP (an implementation we did not write), registered from its own metadata
// and configured with our SP metadata: it requires signed AuthnRequests (want_authn_requests_signed) and answers our
// LogoutRequest with an unsigned LogoutResponse, as SimpleSAMLphp does by default.
import t from 'tap';
import { SAML } from '@node-saml/node-saml';
import { idpFromMetadata } from '../../src/orgs/remote/idp-registration-input.ts';
import { buildSpMetadata } from '../../src/orgs/hosted/metadata-routes.ts';
import { saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import { generateSigningCredential } from '../../src/saml/certificates.ts';
import { Browser, formIn } from '../helpers/browser.ts';
import { pysaml2Idp } from '../helpers/pysaml2.ts';
import { appReceives, createWorld, type World } from '../helpers/sso-world.ts';

const entityId = 'https://pysaml2.idp.example';
const user = { email: 'carol@customer.example', firstName: 'Carol', lastName: 'Diaz', groups: ['jira-customers'] };
const codeOf = (html: string) => /Error code: <code>([^<]+)<\/code>/.exec(html)?.[1];
const spMetadataOf = async (w: World) =>
  buildSpMetadata({
    org: (await w.ta.ctx.store.organizations.findById(w.org.org.id))!,
    store: w.org.store,
    urls: w.org.urls,
  });

async function setup() {
  const w = await createWorld();
  const key = generateSigningCredential('pysaml2-idp');
  const identity = { entityId, keyPem: key.privateKeyPem, certPem: key.certificatePem };
  // pysaml2 publishes its metadata: HTTP-POST SSO endpoint, WantAuthnRequestsSigned="true".
  const { metadata } = pysaml2Idp<{ metadata: string }>({
    command: 'metadata',
    ...identity,
    wantSigned: true,
    ssoBinding: 'post',
  });
  t.match(metadata, 'WantAuthnRequestsSigned="true"');
  const fromMetadata = await idpFromMetadata(
    { kind: 'document', xml: metadata },
    { allowPrivate: false, now: w.ta.clock.now(), field: 'metadata' },
  );
  const idp = await saveIdentityProvider(w.org.store, {
    name: 'pysaml2',
    ...fromMetadata,
    mappingPreset: 'okta',
    wantResponseSigned: true,
  });
  await w.ta.ctx.store.organizations.update(w.org.org.id, { jitProvisioning: true });
  const jiraKey = generateSigningCredential('jira');
  const { app } = await w.addApp('Jira', {
    primaryIdpId: idp.id,
    sloUrl: 'https://jira.example/slo',
    certificate: jiraKey.certificatePem,
  });
  const jira = new SAML({
    ...(w.nodeSaml(app) as unknown as { options: object }).options,
    logoutUrl: w.org.urls.idpSlo,
    signatureAlgorithm: 'sha256',
    privateKey: jiraKey.privateKeyPem,
  } as never);
  return { w, idp, identity, jira, browser: new Browser(w.ta) };
}

/** Jira asks, the broker sends its AuthnRequest to pysaml2 (auto-POST form): what pysaml2 receives. */
async function requestToIdp(s: Awaited<ReturnType<typeof setup>>) {
  const page = await s.browser.get(await s.jira.getAuthorizeUrlAsync('portal', undefined, {}));
  const form = formIn(page.body);
  if (!form) throw new Error(`no form to the IdP (${page.statusCode})`);
  t.equal(form.action, `${entityId}/sso`, "the broker POSTs to the endpoint from pysaml2's metadata");
  return form.fields;
}

t.test('pysaml2 requiring signed AuthnRequests, registered from its own metadata', async (t) => {
  const s = await setup();
  t.teardown(s.w.ta.cleanup);
  t.equal(s.idp.signRequests, true, 'registered to sign (its metadata asks, and it is the default)');
  t.equal(s.idp.ssoBinding, 'post');
  const spMetadata = await spMetadataOf(s.w);
  t.match(spMetadata, 'AuthnRequestsSigned="true"', 'our SP metadata promises signed requests');

  const fields = await requestToIdp(s);
  const answer = pysaml2Idp<{ samlResponse: string; destination: string }>({
    ...s.identity,
    wantSigned: true,
    ssoBinding: 'post',
    spMetadata,
    samlRequest: fields.SAMLRequest,
    user,
    profile: 'okta',
  });
  t.equal(answer.destination, s.w.org.urls.spAcs, 'pysaml2 verified our signed request and answers our ACS');
  const acs = await s.browser.post(
    s.w.org.urls.spAcs,
    { SAMLResponse: answer.samlResponse, RelayState: fields.RelayState },
    { crossSite: true },
  );
  t.equal(acs.statusCode, 303);
  const { profile, form } = await appReceives(s.jira, (await s.browser.follow(acs, s.w.base)).res);
  t.equal(profile.nameID, user.email);
  t.equal(form.fields.RelayState, 'portal');

  t.test(
    'the IdP switched to unsigned requests: our metadata says so, and pysaml2 refuses the unsigned request',
    async (t) => {
      await s.w.org.store.identityProviders.update(s.idp.id, { signRequests: false });
      const unsignedMetadata = await spMetadataOf(s.w);
      t.match(unsignedMetadata, 'AuthnRequestsSigned="false"');
      const b = new Browser(s.w.ta);
      const page = await b.get(await s.jira.getAuthorizeUrlAsync('', undefined, {}));
      const unsigned = formIn(page.body)!.fields;
      t.notMatch(Buffer.from(unsigned.SAMLRequest, 'base64').toString(), /<ds:Signature/, 'sent unsigned');
      t.throws(
        () =>
          pysaml2Idp({
            ...s.identity,
            wantSigned: true,
            ssoBinding: 'post',
            spMetadata: unsignedMetadata,
            samlRequest: unsigned.SAMLRequest,
            user,
            profile: 'okta',
          }),
        /IncorrectlySigned|SignatureError|not correctly signed/,
        'pysaml2 refuses it as unsigned',
      );
    },
  );
});

t.test(
  "pysaml2's unsigned LogoutResponse: refused by default, accepted as the answer to our request when allowed",
  async (t) => {
    const s = await setup();
    t.teardown(s.w.ta.cleanup);
    const spMetadata = await spMetadataOf(s.w);
    t.equal(s.idp.sloUrl, `${entityId}/slo`, "the SLO endpoint from pysaml2's metadata");

    /** Signs in to Jira through pysaml2, logs out from Jira, and brings pysaml2's LogoutResponse back to the broker. */
    const logoutThroughIdp = async () => {
      const browser = new Browser(s.w.ta);
      const fields = formIn((await browser.get(await s.jira.getAuthorizeUrlAsync('', undefined, {}))).body)!.fields;
      const answer = pysaml2Idp<{ samlResponse: string }>({
        ...s.identity,
        wantSigned: true,
        ssoBinding: 'post',
        spMetadata,
        samlRequest: fields.SAMLRequest,
        user,
        profile: 'okta',
      });
      const acs = await browser.post(
        s.w.org.urls.spAcs,
        { SAMLResponse: answer.samlResponse, RelayState: fields.RelayState },
        { crossSite: true },
      );
      const { profile } = await appReceives(s.jira, (await browser.follow(acs, s.w.base)).res);
      const chain = String((await browser.get(await s.jira.getLogoutUrlAsync(profile, '', {}))).headers.location);
      await browser.get(s.w.base + chain);
      const toIdp = new URL(String((await browser.get(`${s.w.base}${chain}/hop`)).headers.location));
      t.equal(`${toIdp.origin}${toIdp.pathname}`, `${entityId}/slo`);
      const idpAnswer = pysaml2Idp<{ location: string }>({
        command: 'logout',
        ...s.identity,
        spMetadata,
        samlRequest: toIdp.searchParams.get('SAMLRequest'),
        relayState: toIdp.searchParams.get('RelayState'),
      });
      t.ok(idpAnswer.location.startsWith(`${s.w.org.urls.spSlo}?SAMLResponse=`), 'pysaml2 answers at our SP SLO URL');
      t.notMatch(idpAnswer.location, /Signature=/, 'unsigned');
      return { res: await browser.get(idpAnswer.location), browser, chain };
    };

    const refused = await logoutThroughIdp();
    t.equal(refused.res.statusCode, 400);
    t.equal(codeOf(refused.res.body), 'saml_unsigned');
    t.match(refused.res.body, 'Accept unsigned LogoutResponses');

    await s.w.org.store.identityProviders.update(s.idp.id, { acceptUnsignedLogoutResponse: true });
    const accepted = await logoutThroughIdp();
    t.equal(accepted.res.statusCode, 200, 'accepted with the setting on');
    const final = await accepted.browser.get(s.w.base + accepted.chain);
    const toJira = String(final.headers.location);
    const jiraSees = await s.jira.validateRedirectAsync(
      Object.fromEntries(new URL(toJira).searchParams),
      toJira.slice(toJira.indexOf('?') + 1),
    );
    t.equal(jiraSees.loggedOut, true);
    t.equal(
      (await s.w.org.store.audit.list({ type: 'logout.completed' }))[0].outcome,
      'success',
      'a complete logout, not PartialLogout',
    );
  },
);
