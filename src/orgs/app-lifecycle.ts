// Adding, changing, switching off and removing an organisation's apps, each change audited. The console, the API
// and the CLI call these; validation itself is saveApplication's (registrations.ts).
import { notFound } from '../errors.ts';
import type { Application, ApplicationInput } from '../store/applications.ts';
import type { TenantStore } from '../store/store.ts';
import { changedFields, saveApplication } from './registrations.ts';

/** Who made a change and when, for the audit log. */
export interface ChangeBy { actor: string; at: Date }

/** The app with this id in this organisation; another organisation's id is "not found", never "forbidden". */
export async function findApp(store: TenantStore, id: string): Promise<Application> {
  const app = await store.applications.findById(id);
  if (!app) throw notFound('app_not_found', 'There is no app with this id in this organisation.');
  return app;
}

export async function createApp(store: TenantStore, input: ApplicationInput, by: ChangeBy): Promise<Application> {
  const app = await saveApplication(store, input);
  await store.audit.record({ type: 'app.created', actor: by.actor, appId: app.id, at: by.at, details: { name: app.name, entityId: app.entityId } });
  return app;
}

export async function updateApp(store: TenantStore, id: string, input: ApplicationInput, by: ChangeBy): Promise<Application> {
  const before = await findApp(store, id);
  const app = await saveApplication(store, input, id);
  const changed = changedFields(input, before, app);
  if (changed.length) await store.audit.record({ type: 'app.updated', actor: by.actor, appId: id, at: by.at, details: { changed } });
  return app;
}

export async function setAppEnabled(store: TenantStore, id: string, enabled: boolean, by: ChangeBy): Promise<Application> {
  const before = await findApp(store, id);
  if (before.enabled === enabled) return before;
  const app = await store.applications.update(id, { enabled });
  await store.audit.record({ type: enabled ? 'app.enabled' : 'app.disabled', actor: by.actor, appId: id, at: by.at, details: { name: app.name } });
  return app;
}

export async function deleteApp(store: TenantStore, id: string, by: ChangeBy): Promise<void> {
  const app = await findApp(store, id);
  await store.applications.delete(id);
  await store.audit.record({ type: 'app.deleted', actor: by.actor, appId: id, at: by.at, details: { name: app.name, entityId: app.entityId } });
}
