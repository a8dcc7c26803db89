// Which directory user an upstream login belongs to. Linking by email is a trust decision per IdP (its linkingMode),
// because any IdP of the organisation can assert any address:
// 1. the user already linked to (this IdP, this NameID): always, in every mode;
// 2. else a directory user with the asserted address (without regard to case), linked now only if the IdP's mode
//    allows it: `any-email` always; `verified-domains` when the address's domain is one of THIS IdP's domains and
//    the user signs in no other way yet (no link to another IdP, nor to this IdP under another NameID); `never` not;
// 3. else a new user, when the organisation allows just-in-time creation, except an address whose domain another
//    IdP of the organisation owns, or (for an IdP that lists domains) outside its own domains; `any-email` skips
//    both checks.
// A refusal (LinkRefusal, 403 link_refused) changes nothing on the existing user: no link, no flow bound to them.
import type { Profile } from '../broker/upstream/profile.ts';
import { emailDomain, coversEmail, ownerOfEmail } from '../orgs/remote/email-domains.ts';
import { AppError } from '../errors.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { TenantStore } from '../store/store.ts';
import type { User } from '../store/users.ts';
import { linkRefusal, type LinkRefusalReason } from './link-refusal.ts';
import type { OidcErrorCode } from '../broker/upstream/oidc-errors.ts';

const EMAIL_UNVERIFIED: OidcErrorCode = 'oidc_email_unverified';

export type Resolution = { user: User; how: 'linked' | 'matched_email' | 'created' };

interface Login {
  idp: IdentityProvider;
  nameId: string;
  profile: Profile;
  jitProvisioning: boolean;
}

export async function resolveUser(store: TenantStore, input: Login): Promise<Resolution> {
  const { idp, nameId } = input;
  const linked = await store.users.findByIdentity(idp.id, nameId);
  if (linked) return { user: linked, how: 'linked' };
  const email = input.profile.email;
  // An address the IdP itself says is unverified (OpenID Connect email_verified: false) proves nothing: anyone can
  // type it into an account there. It neither links an existing user nor creates one.
  if (email && input.profile.emailUnverified)
    throw new AppError(
      EMAIL_UNVERIFIED,
      'Your identity provider says your email address is not verified, so your account cannot be matched. Verify it there, or ask your administrator.',
    );
  if (!email)
    throw new AppError(
      'user_no_email',
      'Your identity provider did not send an email address, so your account cannot be matched. Ask your administrator to check the attribute mapping.',
    );
  const existing = await store.users.findByEmail(email);
  if (existing) return linkExisting(store, input, email, existing);
  if (!input.jitProvisioning)
    throw new AppError(
      'user_not_found',
      'There is no account for you in this organisation. Ask your administrator to add you.',
    );
  await checkCreation(store, input, email);
  let user: User;
  try {
    user = await store.users.create({
      email,
      firstName: input.profile.firstName,
      lastName: input.profile.lastName,
      groups: input.profile.groups,
      source: 'jit',
    });
  } catch (err) {
    // Two first logins at once: the other one created the user. This one is then a login to an existing user, and
    // goes through the same rules (the other login may have come from another IdP).
    if ((err as { code?: string }).code !== 'P2002') throw err;
    const other = await store.users.findByEmail(email);
    if (!other) throw err;
    return linkExisting(store, input, email, other);
  }
  return claimLink(store, input, user, 'created');
}

/** Rule 2: an existing directory user with the asserted address. */
async function linkExisting(store: TenantStore, input: Login, email: string, user: User): Promise<Resolution> {
  const { idp } = input;
  // Linked meanwhile (a concurrent first login of the same identity): that link decides.
  const linked = await store.users.findByIdentity(idp.id, input.nameId);
  if (linked) return { user: linked, how: 'linked' };
  const refuse = async (reason: LinkRefusalReason) => {
    throw linkRefusal(reason, {
      idp,
      domain: emailDomain(email),
      owner: reason === 'domain_not_owned' ? await domainOwner(store, idp, email) : null,
      existingUserId: user.id,
    });
  };
  if (idp.linkingMode === 'never') await refuse('mode_never');
  if (idp.linkingMode !== 'any-email') {
    if (!coversEmail(idp.emailDomains, email)) await refuse('domain_not_owned');
    if (await store.users.hasIdentity(user.id)) await refuse('other_idp');
  }
  return claimLink(store, input, user, 'matched_email');
}

/** Rule 3's checks before a just-in-time user is created. */
async function checkCreation(store: TenantStore, input: Login, email: string) {
  const { idp } = input;
  if (idp.linkingMode === 'any-email') return;
  const domain = emailDomain(email);
  const refuse = (reason: LinkRefusalReason, owner: IdentityProvider | null = null) =>
    linkRefusal(reason, { idp, domain, owner, existingUserId: null });
  if (!domain) throw refuse('email_domain_invalid');
  const owner = await domainOwner(store, idp, email);
  if (owner) throw refuse('domain_owned_by_other_idp', owner);
  if (idp.emailDomains.length && !coversEmail(idp.emailDomains, email)) throw refuse('domain_not_owned');
}

/** Another IdP of the organisation (enabled or not: a disabled IdP keeps its domains) that owns the address's domain. */
async function domainOwner(store: TenantStore, idp: IdentityProvider, email: string) {
  return ownerOfEmail(
    (await store.identityProviders.list()).filter((i) => i.id !== idp.id),
    email,
  );
}

/** Links the identity to `user`; if it was linked to someone in the meantime, that link wins (as rule 1 says). */
async function claimLink(
  store: TenantStore,
  input: Login,
  user: User,
  how: 'matched_email' | 'created',
): Promise<Resolution> {
  if (await store.users.link(user.id, input.idp.id, input.nameId, 'login')) return { user, how };
  const holder = await store.users.findByIdentity(input.idp.id, input.nameId);
  if (!holder) throw new Error('identity link vanished while it was being created');
  return { user: holder, how: 'linked' };
}
