// Organisations are the one table looked up without an orgId: by slug from the Host header, or by id.
import type { Db } from './engine/database.ts';

type OrganizationRow = Awaited<ReturnType<Db['organization']['findUniqueOrThrow']>>;
/** An organisation without its logo bytes: it is loaded on every request (Host lookup), the logo only at /branding/logo. */
export type Organization = Omit<OrganizationRow, 'logo'>;
const WITHOUT_LOGO = { logo: true } as const;

export type BrandingUpdate = Partial<
  Pick<Organization, 'name' | 'logoUrl' | 'primaryColor' | 'accentColor' | 'loginMessage'>
>;
export type SettingsUpdate = Partial<
  Pick<
    Organization,
    | 'jitProvisioning'
    | 'sessionTtlSeconds'
    | 'totpDigits'
    | 'totpPeriod'
    | 'totpAlgorithm'
    | 'requireAdminTotp'
    | 'notifyNewDevice'
    | 'webauthnCounterPolicy'
  >
>;

export class OrganizationRepository {
  constructor(private readonly db: Db) {}

  findBySlug(slug: string) {
    return this.db.organization.findUnique({ where: { slug }, omit: WITHOUT_LOGO });
  }
  findById(id: string) {
    return this.db.organization.findUnique({ where: { id }, omit: WITHOUT_LOGO });
  }
  count() {
    return this.db.organization.count();
  }
  list() {
    return this.db.organization.findMany({ orderBy: { createdAt: 'asc' }, omit: WITHOUT_LOGO });
  }
  /** Branding and settings only: the slug is deliberately not updatable (it is the organisation's subdomain). */
  update(id: string, data: BrandingUpdate & SettingsUpdate) {
    const { slug: _ignored, id: _id, ...safe } = data as Record<string, unknown>;
    return this.db.organization.update({ where: { id }, data: safe, omit: WITHOUT_LOGO });
  }
  /** Suspends (a date) or resumes (null) the organisation: a platform operator's decision (orgs/operator-service.ts). */
  setSuspended(id: string, at: Date | null) {
    return this.db.organization.update({ where: { id }, data: { suspendedAt: at }, omit: WITHOUT_LOGO });
  }
  /** Per organisation: users, IdPs, apps, and successful logins since `since` (the operator's list). */
  async numbers(since: Date) {
    const [users, idps, apps, logins] = await Promise.all([
      this.db.user.groupBy({ by: ['orgId'], _count: { _all: true } }),
      this.db.identityProvider.groupBy({ by: ['orgId'], _count: { _all: true } }),
      this.db.application.groupBy({ by: ['orgId'], _count: { _all: true } }),
      this.db.auditEvent.groupBy({
        by: ['orgId'],
        where: { type: 'login.success', at: { gte: since } },
        _count: { _all: true },
      }),
    ]);
    const by = (rows: { orgId: string; _count: { _all: number } }[]) =>
      new Map(rows.map((r) => [r.orgId, r._count._all]));
    return { users: by(users), idps: by(idps), apps: by(apps), logins: by(logins) };
  }
  /** The uploaded logo (bytes and content type), or null when none is stored. */
  async logo(id: string) {
    const row = await this.db.organization.findUnique({ where: { id }, select: { logo: true, logoContentType: true } });
    return row?.logo && row.logoContentType ? { bytes: Buffer.from(row.logo), contentType: row.logoContentType } : null;
  }
  /** Stores (or with null, removes) the uploaded logo; the caller has checked the bytes. */
  setLogo(id: string, logo: { bytes: Buffer; contentType: string } | null) {
    return this.db.organization.update({
      where: { id },
      data: { logo: logo ? new Uint8Array(logo.bytes) : null, logoContentType: logo?.contentType ?? null },
      omit: WITHOUT_LOGO,
    });
  }
}
