// Organisations are the one table looked up without an orgId: by slug from the Host header, or by id.
import type { Db } from './database.ts';

export type Organization = Awaited<ReturnType<Db['organization']['findUniqueOrThrow']>>;

export type BrandingUpdate = Partial<Pick<Organization, 'name' | 'logoUrl' | 'primaryColor' | 'accentColor' | 'loginMessage'>>;
export type SettingsUpdate = Partial<Pick<Organization, 'jitProvisioning' | 'sessionTtlSeconds' | 'totpDigits' | 'totpPeriod' | 'totpAlgorithm' | 'requireAdminTotp'>>;

export class OrganizationRepository {
  constructor(private readonly db: Db) {}

  findBySlug(slug: string) {
    return this.db.organization.findUnique({ where: { slug } });
  }
  findById(id: string) {
    return this.db.organization.findUnique({ where: { id } });
  }
  count() {
    return this.db.organization.count();
  }
  list() {
    return this.db.organization.findMany({ orderBy: { createdAt: 'asc' } });
  }
  /** Branding and settings only: the slug is deliberately not updatable (it is the organisation's subdomain). */
  update(id: string, data: BrandingUpdate & SettingsUpdate) {
    const { slug: _ignored, id: _id, ...safe } = data as Record<string, unknown>;
    return this.db.organization.update({ where: { id }, data: safe });
  }
}
