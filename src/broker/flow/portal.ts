// The organisation's login page: branding, the admin's message, and the apps a user can start a login to.
import type { Tenant } from '../../plugins/tenant.ts';
import { page, runHop, type Outcome } from './outcome.ts';

export function portalPage(tenant: Tenant): Promise<Outcome> {
  return runHop(async () => {
    const apps = (await tenant.store.applications.list())
      .filter((a) => a.enabled)
      .map((a) => ({ name: a.name, launchUrl: tenant.urls.appLaunch(a.id) }));
    return page('login', { apps });
  });
}
