// Stage `completed`: the signed Response for the app, and the SAML error Response when a login is refused after
// the app's request was accepted. Which NameID and attributes an app receives is decided by its registration.
import { createHash } from 'node:crypto';
import { pooledRandomBytes } from '../../crypto/random-ids.ts';
import type { AppContext } from '../../context.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import { buildErrorResponse, buildLoginResponse } from '../../saml/downstream/response.ts';
import type { Application } from '../../store/applications.ts';
import type { User } from '../../store/users.ts';
import { localIdp } from '../identities.ts';
import type { AppStatus } from '../../errors.ts';
import type { AppRequest } from './stages.ts';
import { post, type Answer } from './outcome.ts';
import type { Profile } from '../upstream/profile.ts';

export interface PostToApp {
  acsUrl: string;
  samlResponse: string;
  relayState: string | null;
  appName: string;
}

/** The auto-POST of a Response to the app's ACS URL. */
export const postToApp = (p: PostToApp): Answer =>
  post({
    action: p.acsUrl,
    fields: { SAMLResponse: p.samlResponse, ...(p.relayState !== null && { RelayState: p.relayState }) },
    target: p.appName,
  });

/** The NameID value per the app's format: the email, or a stable pairwise identifier that reveals nothing. */
export function nameIdFor(app: Application, user: User): string {
  if (app.nameIdFormat === 'persistent')
    return createHash('sha256').update(`${app.orgId}:${app.id}:${user.id}`).digest('hex');
  return user.email;
}

/** The directory is the source of truth; what the IdP sent fills the gaps (an imported user without names). */
export function releasedAttributes(
  app: Application,
  user: User,
  profile: Pick<Profile, 'firstName' | 'lastName' | 'groups'>,
): Record<string, string[]> {
  const groups = [...new Set([...user.groups, ...profile.groups])];
  const firstName = user.firstName ?? profile.firstName;
  const lastName = user.lastName ?? profile.lastName;
  const all: Record<string, string[]> = {
    email: [user.email],
    firstName: firstName ? [firstName] : [],
    lastName: lastName ? [lastName] : [],
    groups,
    username: user.username ? [user.username] : [],
  };
  return Object.fromEntries(app.attributeRelease.filter((name) => all[name]?.length).map((name) => [name, all[name]]));
}

export async function successResponse(
  ctx: AppContext,
  tenant: Tenant,
  app: Application,
  request: AppRequest,
  user: User,
  profile: Pick<Profile, 'firstName' | 'lastName' | 'groups'>,
  authnInstant: Date,
): Promise<PostToApp & { sessionIndex: string; nameId: string }> {
  const sessionIndex = `_${pooledRandomBytes(16).toString('hex')}`;
  const nameId = nameIdFor(app, user);
  const built = await buildLoginResponse({
    idp: await localIdp(ctx, tenant),
    app: {
      entityId: app.entityId,
      acsUrl: request.acsUrl,
      signResponse: app.signResponse,
      signAssertion: app.signAssertion,
      encryptAssertion: app.encryptAssertion,
      certificatePem: app.certificate,
      nameIdFormat: app.nameIdFormat,
    },
    inResponseTo: request.id,
    nameId,
    sessionIndex,
    attributes: releasedAttributes(app, user, profile),
    now: ctx.clock.now(),
    authnInstant,
  });
  return {
    acsUrl: request.acsUrl,
    samlResponse: built.samlResponse,
    relayState: request.relayState,
    appName: app.name,
    sessionIndex,
    nameId,
  };
}

/** An error Response with the two levels of `status` (from the error catalogue, src/errors.ts). */
export async function errorResponse(
  ctx: AppContext,
  tenant: Tenant,
  app: Application,
  request: AppRequest,
  status: AppStatus,
  message: string,
): Promise<PostToApp> {
  const built = buildErrorResponse({
    idp: await localIdp(ctx, tenant),
    acsUrl: request.acsUrl,
    appEntityId: app.entityId,
    inResponseTo: request.id,
    status: status.status,
    subStatus: status.sub,
    message,
    now: ctx.clock.now(),
  });
  return {
    acsUrl: request.acsUrl,
    samlResponse: built.samlResponse,
    relayState: request.relayState,
    appName: app.name,
  };
}
