// Adding, changing, switching off and removing an organisation's apps, each change audited. The console, the API
// and the CLI call these; validation itself is saveApplication's (registrations.ts).
import { AppError } from '../../errors.ts';
import type { Application, ApplicationInput } from '../../store/applications.ts';
import type { TenantStore } from '../../store/store.ts';
import { changedFields, saveApplication, settingChanges } from './registrations.ts';

/** Who made a change and when, for the audit log. */
export interface ChangeBy {
  actor: string;
  at: Date;
}

/** The app with this id in this organisation; another organisation's id is "not found", never "forbidden". */
export async function findApp(store: TenantStore, id: string): Promise<Application> {
  const app = await store.applications.findById(id);
  if (!app) throw new AppError('app_not_found', 'There is no app with this id in this organisation.');
  return app;
}

/** Settings that decide what the broker accepts from the app and how it answers: an update's audit line records their
 *  old and new values (allowSha1 above all: a legacy switch that weakens request signatures). */
const SECURITY_SETTINGS = [
  'allowSha1',
  'wantAuthnRequestsSigned',
  'signResponse',
  'signAssertion',
  'encryptAssertion',
] as const;

/** Who decided that an app's requests must be signed. The app table keeps no metadata document, so the reason is
 *  the audit line of the registration (app.created says whether the app's metadata asked for it). */
export type SignedRequestsReason =
  { by: 'metadata'; at: Date } | { by: 'admin'; actor: string | null; at: Date } | { by: 'unknown' };

export interface CreateAppOptions {
  /** the fields read from the app's SP metadata, when it was registered from metadata */
  fromMetadata?: ApplicationInput;
}

export async function createApp(
  store: TenantStore,
  input: ApplicationInput,
  by: ChangeBy,
  opts: CreateAppOptions = {},
): Promise<Application> {
  const app = await saveApplication(store, input);
  const requiredBy = app.wantAuthnRequestsSigned
    ? opts.fromMetadata?.wantAuthnRequestsSigned
      ? 'metadata'
      : 'admin'
    : undefined;
  await store.audit.record({
    type: 'app.created',
    actor: by.actor,
    appId: app.id,
    at: by.at,
    details: {
      name: app.name,
      entityId: app.entityId,
      source: opts.fromMetadata ? 'metadata' : 'manual',
      allowSha1: app.allowSha1,
      ...(requiredBy && { signedRequestsRequiredBy: requiredBy }),
    },
  });
  return app;
}

export async function updateApp(
  store: TenantStore,
  id: string,
  input: ApplicationInput,
  by: ChangeBy,
): Promise<Application> {
  const before = await findApp(store, id);
  const app = await saveApplication(store, input, id);
  const changed = changedFields(input, before, app);
  const changes = settingChanges(changed, before, app, SECURITY_SETTINGS);
  if (changed.length)
    await store.audit.record({
      type: 'app.updated',
      actor: by.actor,
      appId: id,
      at: by.at,
      details: { changed, ...(Object.keys(changes).length && { changes }) },
    });
  return app;
}

/** Why this app's AuthnRequests must be signed (null when they need not be): the latest audit line that set it. */
export async function signedRequestsReason(store: TenantStore, app: Application): Promise<SignedRequestsReason | null> {
  if (!app.wantAuthnRequestsSigned) return null;
  for (const e of await store.audit.list({ appId: app.id, typePrefix: 'app.', take: 1000 })) {
    if (
      e.type === 'app.updated' &&
      ((e.details.changed as string[] | undefined) ?? []).includes('wantAuthnRequestsSigned')
    )
      return { by: 'admin', actor: e.actor, at: e.at };
    if (e.type === 'app.created') {
      if (e.details.signedRequestsRequiredBy === 'metadata') return { by: 'metadata', at: e.at };
      // A registration line from before the reason was recorded (no source) cannot tell.
      return e.details.source ? { by: 'admin', actor: e.actor, at: e.at } : { by: 'unknown' };
    }
  }
  return { by: 'unknown' };
}

export async function setAppEnabled(
  store: TenantStore,
  id: string,
  enabled: boolean,
  by: ChangeBy,
): Promise<Application> {
  const before = await findApp(store, id);
  if (before.enabled === enabled) return before;
  const app = await store.applications.update(id, { enabled });
  await store.audit.record({
    type: enabled ? 'app.enabled' : 'app.disabled',
    actor: by.actor,
    appId: id,
    at: by.at,
    details: { name: app.name },
  });
  return app;
}

export async function deleteApp(store: TenantStore, id: string, by: ChangeBy): Promise<void> {
  const app = await findApp(store, id);
  await store.applications.delete(id);
  await store.audit.record({
    type: 'app.deleted',
    actor: by.actor,
    appId: id,
    at: by.at,
    details: { name: app.name, entityId: app.entityId },
  });
}
