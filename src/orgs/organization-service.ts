// Creating an organisation: slug checks, its first signing key and its first admin, all in one transaction so a
// failure leaves nothing behind. Used by the welcome page and the CLI.
import type { Clock } from '../clock.ts';
import type { Config } from '../config/config.ts';
import { AppError, ValidationError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { generatePassword, hashPassword, passwordProblem } from './passwords.ts';
import type { SigningCredentials } from './hosted/signing-credentials.ts';
import { slugProblem } from './slug.ts';
import { orgUrls, type OrgUrls } from './urls.ts';

export interface CreateOrganizationInput {
  slug: string;
  name: string;
  adminEmail: string;
  adminPassword?: string;
}

export interface CreatedOrganization {
  org: { id: string; slug: string; name: string };
  adminEmail: string;
  /** set only when the password was generated: shown once, never stored in clear */
  generatedPassword?: string;
  urls: OrgUrls;
}

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

export class OrganizationService {
  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly credentials: SigningCredentials,
    private readonly clock: Clock,
  ) {}

  validate(input: CreateOrganizationInput): Record<string, string> {
    const problems: Record<string, string> = {};
    const slugIssue = slugProblem(input.slug ?? '');
    if (slugIssue) problems.slug = slugIssue;
    const name = (input.name ?? '').trim();
    if (!name) problems.name = 'is required';
    else if (name.length > 100) problems.name = 'must be at most 100 characters';
    if (!EMAIL.test((input.adminEmail ?? '').trim()) || input.adminEmail.length > 254)
      problems.adminEmail = 'is not a valid email address';
    if (input.adminPassword !== undefined) {
      const issue = passwordProblem(input.adminPassword);
      if (issue) problems.adminPassword = issue;
    }
    return problems;
  }

  async create(
    input: CreateOrganizationInput,
    actor: string,
    opts: { onlyIfNoneExist?: boolean } = {},
  ): Promise<CreatedOrganization> {
    const problems = this.validate(input);
    if (Object.keys(problems).length) throw new ValidationError(problems);
    if (await this.store.organizations.findBySlug(input.slug))
      throw new AppError('slug_taken', `an organisation with slug "${input.slug}" already exists`);

    const now = this.clock.now();
    const password = input.adminPassword ?? generatePassword();
    const passwordHash = await hashPassword(password);
    const name = input.name.trim();

    try {
      const org = await this.store.transaction(async (tx) => {
        // The welcome page may only create the very first organisation: checked inside the transaction.
        if (opts.onlyIfNoneExist && (await tx.organizations.count()) > 0)
          throw new AppError('setup_done', 'an organisation already exists; sign in to its admin console');
        const created = await tx.db.organization.create({ data: { slug: input.slug, name } });
        const scoped = tx.forOrg(created.id);
        await scoped.signingKeys.create(
          this.credentials.prepare(created.id, `${input.slug}.${this.config.baseDomain.split(':')[0]}`, 'active', now),
        );
        await scoped.admins.create({
          email: input.adminEmail,
          passwordHash,
          mustChangePassword: input.adminPassword === undefined,
        });
        await scoped.audit.record({
          type: 'organization.created',
          actor,
          at: now,
          details: { slug: input.slug, adminEmail: input.adminEmail },
        });
        return created;
      });
      return {
        org: { id: org.id, slug: org.slug, name: org.name },
        adminEmail: input.adminEmail.trim(),
        ...(input.adminPassword === undefined && { generatedPassword: password }),
        urls: orgUrls(this.config, org.slug),
      };
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002')
        throw new AppError('slug_taken', `an organisation with slug "${input.slug}" already exists`);
      throw err;
    }
  }
}
