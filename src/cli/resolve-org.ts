// CLI commands name the organisation by slug; everything after that goes through its tenant store.
import type { AppContext } from '../context.ts';
import { orgUrls } from '../orgs/urls.ts';
import type { Tenant } from '../plugins/tenant.ts';
import { UsageError } from './output.ts';

export async function tenantBySlug(ctx: AppContext, slug: string | undefined): Promise<Tenant> {
  if (!slug) throw new UsageError('--org <slug> is required');
  const org = await ctx.store.organizations.findBySlug(slug);
  if (!org) throw new UsageError(`no organisation "${slug}"`);
  return { org, store: ctx.store.forOrg(org.id), urls: orgUrls(ctx.config, org.slug) };
}
