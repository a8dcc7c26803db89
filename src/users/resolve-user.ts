// Which directory user an upstream login belongs to: the linked account for (IdP, NameID); else a directory user
// with the same email (imported ahead of time), linked now; else a new user, if the organisation allows
// just-in-time creation. Otherwise the login is refused.
import type { Profile } from '../broker/profile.ts';
import { AppError } from '../errors.ts';
import type { TenantStore } from '../store/store.ts';
import type { User } from '../store/users.ts';

export type Resolution = { user: User; how: 'linked' | 'matched_email' | 'created' };

export async function resolveUser(store: TenantStore, input: { idpId: string; nameId: string; profile: Profile; jitProvisioning: boolean }): Promise<Resolution> {
  const linked = await store.users.findByIdentity(input.idpId, input.nameId);
  if (linked) return { user: linked, how: 'linked' };
  const email = input.profile.email;
  if (!email) throw new AppError(403, 'user_no_email', 'Your identity provider did not send an email address, so your account cannot be matched. Ask your administrator to check the attribute mapping.');
  const existing = await store.users.findByEmail(email);
  if (existing) {
    await store.users.link(existing.id, input.idpId, input.nameId);
    return { user: existing, how: 'matched_email' };
  }
  if (!input.jitProvisioning) throw new AppError(403, 'user_not_found', 'There is no account for you in this organisation. Ask your administrator to add you.');
  try {
    const user = await store.users.create({ email, firstName: input.profile.firstName, lastName: input.profile.lastName, groups: input.profile.groups, source: 'jit' });
    await store.users.link(user.id, input.idpId, input.nameId);
    return { user, how: 'created' };
  } catch (err) {
    // Two first logins at once: the other one created the user; link to it.
    if ((err as { code?: string }).code !== 'P2002') throw err;
    const user = (await store.users.findByEmail(email))!;
    await store.users.link(user.id, input.idpId, input.nameId);
    return { user, how: 'matched_email' };
  }
}
