// A complete brokered SSO world for end-to-end tests: the broker (real HTTP app, real database), an organisation,
// fake upstream IdPs that sign real responses, and downstream apps played by @node-saml/node-saml.
import { inflateRawSync } from 'node:zlib';
import { SAML } from '@node-saml/node-saml';
import type { LightMyRequestResponse } from 'fastify';
import { ManualClock } from '../../src/clock.ts';
import { saveApplication, saveIdentityProvider } from '../../src/orgs/remote/registrations.ts';
import type { Application } from '../../src/store/applications.ts';
import type { IdentityProvider, LinkingMode, MappingPreset } from '../../src/store/identity-providers.ts';
import { createTestApp, type TestApp } from './app.ts';
import { Browser, formIn } from './browser.ts';
import { createOrg } from './context.ts';
import { FakeIdp, OKTA_ATTRIBUTES } from './fake-idp.ts';

export interface World {
  ta: TestApp;
  org: Awaited<ReturnType<typeof createOrg>>;
  base: string;
  idpCert: string;
  addIdp(
    name: string,
    opts?: {
      preset?: MappingPreset;
      allowIdpInitiated?: boolean;
      defaultAppId?: string;
      entityId?: string;
      emailDomains?: string[];
      linkingMode?: LinkingMode;
    },
  ): Promise<{ fake: FakeIdp; idp: IdentityProvider }>;
  addApp(name: string, opts?: Partial<Application>): Promise<{ app: Application; sp: SAML }>;
  nodeSaml(app: Application, validateInResponseTo?: 'always' | 'never' | 'ifPresent'): SAML;
}

export async function createWorld(
  slug = 'piedpipers',
  provider?: 'sqlite' | 'postgresql',
  opts: { logger?: object; env?: Record<string, string> } = {},
): Promise<World> {
  // node-saml checks times against the real clock, so the broker's injectable clock starts at real time here.
  const ta = await createTestApp({ clock: new ManualClock(new Date()), ...(provider && { provider }), ...opts });
  const org = await createOrg(ta.ctx, slug, 'Pied Pipers');
  const base = `http://${slug}.${ta.config.baseDomain}`;
  const idpCert = (await org.store.signingKeys.active())!.certificatePem;
  const world: World = {
    ta,
    org,
    base,
    idpCert,
    async addIdp(name, opts = {}) {
      const fake = new FakeIdp({ entityId: opts.entityId ?? `https://${name.toLowerCase()}.idp.example/saml` });
      const idp = await saveIdentityProvider(org.store, {
        name,
        entityId: fake.entityId,
        ssoUrl: `https://${name.toLowerCase()}.idp.example/sso`,
        certificates: [fake.certificatePem],
        mappingPreset: opts.preset ?? 'okta',
        allowIdpInitiated: !!opts.allowIdpInitiated,
        defaultAppId: opts.defaultAppId ?? null,
        ...(opts.emailDomains && { emailDomains: opts.emailDomains }),
        ...(opts.linkingMode && { linkingMode: opts.linkingMode }),
      });
      return { fake, idp };
    },
    async addApp(name, opts = {}) {
      const slugName = name.toLowerCase().replace(/\W+/g, '-');
      const app = await saveApplication(org.store, {
        name,
        entityId: `https://${slugName}.example/sp`,
        acsUrls: [`https://${slugName}.example/acs`],
        ...opts,
      });
      return { app, sp: world.nodeSaml(app) };
    },
    nodeSaml(app, validateInResponseTo = 'always') {
      return new SAML({
        entryPoint: `${base}/saml/idp/sso`,
        issuer: app.entityId,
        audience: app.entityId,
        callbackUrl: app.acsUrls[0],
        idpCert,
        wantAssertionsSigned: false,
        wantAuthnResponseSigned: true,
        validateInResponseTo: validateInResponseTo as never,
        acceptedClockSkewMs: 5000,
      });
    },
  };
  return world;
}

/** The upstream AuthnRequest the broker sent (from the redirect URL to the IdP). */
export function upstreamRequest(url: string) {
  const u = new URL(url);
  const xml = inflateRawSync(Buffer.from(u.searchParams.get('SAMLRequest')!, 'base64')).toString();
  return {
    id: /ID="([^"]+)"/.exec(xml)![1],
    relayState: u.searchParams.get('RelayState')!,
    xml,
    ssoUrl: `${u.origin}${u.pathname}`,
  };
}

/** The IdP answers the broker's request: a signed response POSTed (cross-site) to the broker's ACS. */
export async function idpAnswers(
  world: World,
  browser: Browser,
  fake: FakeIdp,
  upstreamUrl: string,
  user: { email: string; attributes: Record<string, string[]> } = {
    email: 'ann@customer.example',
    attributes: OKTA_ATTRIBUTES('ann@customer.example'),
  },
) {
  const req = upstreamRequest(upstreamUrl);
  const samlResponse = await fake.response({
    acsUrl: world.org.urls.spAcs,
    audience: world.org.urls.spEntityId,
    inResponseTo: req.id,
    nameId: user.email,
    attributes: user.attributes,
  });
  return {
    samlResponse,
    relayState: req.relayState,
    res: await browser.post(
      world.org.urls.spAcs,
      { SAMLResponse: samlResponse, RelayState: req.relayState },
      { crossSite: true },
    ),
  };
}

/** The auto-POST form the broker renders for the app, and what node-saml makes of it. */
export async function appReceives(sp: SAML, page: LightMyRequestResponse) {
  const form = formIn(page.body);
  if (!form || !form.fields.SAMLResponse)
    throw new Error(`no SAML form in page (${page.statusCode}): ${page.body.slice(0, 500)}`);
  const result = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse });
  return { form, profile: result.profile! };
}
