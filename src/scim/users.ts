// /Users of one IdP's SCIM client. A user is this client's when a UserIdentity (this IdP, source 'scim') links them;
// its nameId is the SCIM userName (what Okta and Entra ID send as the login, and what the IdP's SAML NameID should
// be, so that a provisioned user's sign-in finds the same link), its externalId the client's own id. Every other
// user of the organisation (another IdP's, the admins') is invisible here: 404, and a 409 when a POST would take
// them over. Deactivation (active false, DELETE) disables the user at once and ends their broker sessions and
// remembered devices (docs/scim.md).
import type { AppContext } from '../context.ts';
import { ValidationError } from '../errors.ts';
import { coversEmail, emailDomain, ownerOfEmail } from '../orgs/remote/email-domains.ts';
import type { IdentityProvider } from '../store/identity-providers.ts';
import type { ProvisionedUser } from '../store/scim.ts';
import type { TenantStore } from '../store/store.ts';
import type { User } from '../store/users.ts';
import { MAX_LENGTH } from '../users/import/columns.ts';
import { CONTROL } from '../users/import/validate-row.ts';
import { validateUserFields } from '../users/user-admin.ts';
import { invalidValue, scimNotFound, ScimError, uniqueness } from './errors.ts';
import { checkFilterAttributes, indexedLookup, matches, parseFilter, userFilterCondition } from './filter.ts';
import { applyPatch, readPatch } from './patch.ts';
import { readSort, sorted } from './sort.ts';
import {
  checkId,
  checkIfMatch,
  checkSchemas,
  ENTERPRISE_SCHEMA,
  type Json,
  LIST_SCHEMA,
  listResponse,
  pageOf,
  readBoolean,
  USER_SCHEMA,
  withVersion,
} from './resources.ts';
import { deactivateUser } from '../users/deactivate.ts';

export interface ScimScope {
  ctx: AppContext;
  store: TenantStore;
  idp: IdentityProvider;
  baseUrl: string;
  actor: string;
}

const MULTI_VALUED = new Set([
  'emails',
  'phonenumbers',
  'addresses',
  'groups',
  'roles',
  'entitlements',
  'ims',
  'photos',
  'x509certificates',
]);
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const field = (obj: Json, name: string): unknown => {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
};

/** What a SCIM user representation says, in the directory's terms. */
interface UserInput {
  userName: string;
  externalId: string | null;
  email: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  active: boolean | undefined;
}

function optionalText(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw invalidValue(`${name} must be a string.`);
  return value.trim() || null;
}

/** The preferred entry of a multi-valued attribute: primary, else type work, else the first. */
function preferred(list: unknown, name: string): string | null {
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) throw invalidValue(`${name} must be an array.`);
  const entries = list.filter(isObject);
  const pick =
    entries.find((e) => readBoolean(field(e, 'primary'), `${name}.primary`) === true) ??
    entries.find((e) => String(field(e, 'type') ?? '').toLowerCase() === 'work') ??
    entries[0];
  return pick ? optionalText(field(pick, 'value'), `${name}.value`) : null;
}

export function readUser(body: unknown): UserInput {
  if (!isObject(body)) throw new ScimError(400, 'invalidSyntax', 'The request body must be a JSON object.');
  checkSchemas(body, [USER_SCHEMA, ENTERPRISE_SCHEMA]);
  const userName = optionalText(field(body, 'userName'), 'userName');
  if (!userName) throw invalidValue('userName is required.');
  if (userName.length > MAX_LENGTH.nameId || CONTROL.test(userName))
    throw invalidValue(`userName must be at most ${MAX_LENGTH.nameId} characters without control characters.`);
  const externalId = optionalText(field(body, 'externalId'), 'externalId');
  if (externalId && externalId.length > 512) throw invalidValue('externalId is longer than 512 characters.');
  const name = field(body, 'name');
  if (name !== undefined && name !== null && !isObject(name)) throw invalidValue('name must be an object.');
  const email = preferred(field(body, 'emails'), 'emails') ?? (userName.includes('@') ? userName : null);
  if (!email) throw invalidValue('The user needs an email address: send emails, or an email address as userName.');
  const fields = {
    email,
    firstName: isObject(name) ? optionalText(field(name, 'givenName'), 'name.givenName') : null,
    lastName: isObject(name) ? optionalText(field(name, 'familyName'), 'name.familyName') : null,
    phone: preferred(field(body, 'phoneNumbers'), 'phoneNumbers'),
  };
  try {
    validateUserFields(fields);
  } catch (err) {
    if (err instanceof ValidationError)
      throw invalidValue(
        Object.entries(err.fields)
          .map(([f, m]) => `${f === 'email' ? 'emails' : f}: ${m}`)
          .join('; '),
      );
    throw err;
  }
  return { userName, externalId, ...fields, active: readBoolean(field(body, 'active'), 'active') };
}

export class ScimUsers {
  constructor(private readonly s: ScimScope) {}

  private get store() {
    return this.s.store;
  }
  private audit(type: string, userId: string, details: Record<string, unknown> = {}) {
    return this.store.audit.record({
      type,
      actor: this.s.actor,
      userId,
      idpId: this.s.idp.id,
      at: this.s.ctx.clock.now(),
      details: { idpName: this.s.idp.name, ...details },
    });
  }

  toResource(p: ProvisionedUser): Json {
    const u = p.user;
    const displayName = [u.firstName, u.lastName].filter(Boolean).join(' ');
    return withVersion({
      schemas: [USER_SCHEMA],
      id: u.id,
      ...(p.link.externalId && { externalId: p.link.externalId }),
      userName: p.link.nameId,
      name: {
        ...(u.firstName && { givenName: u.firstName }),
        ...(u.lastName && { familyName: u.lastName }),
        ...(displayName && { formatted: displayName }),
      },
      ...(displayName && { displayName }),
      emails: [{ value: u.email, type: 'work', primary: true }],
      ...(u.phone && { phoneNumbers: [{ value: u.phone, type: 'work' }] }),
      active: u.status === 'active',
      groups: p.groups.map((g) => ({ value: g.id, display: g.displayName, $ref: `${this.s.baseUrl}/Groups/${g.id}` })),
      meta: {
        resourceType: 'User',
        created: u.createdAt.toISOString(),
        lastModified: u.updatedAt.toISOString(),
        location: `${this.s.baseUrl}/Users/${u.id}`,
      },
    });
  }

  private async find(id: string): Promise<ProvisionedUser> {
    const p = await this.store.scim.findUser(this.s.idp.id, id);
    if (!p) throw scimNotFound('User', id);
    return p;
  }

  async get(id: string, ifMatch?: string | string[]) {
    const resource = this.toResource(await this.find(id));
    checkIfMatch(ifMatch, (resource.meta as Json).version as string);
    return resource;
  }

  async list(query: {
    filter?: unknown;
    startIndex?: unknown;
    count?: unknown;
    sortBy?: unknown;
    sortOrder?: unknown;
  }) {
    const page = pageOf(query);
    const filter = typeof query.filter === 'string' && query.filter.trim() ? parseFilter(query.filter) : null;
    // `userName eq "…"` (each client's look-up before a create), `externalId eq` and `emails.value eq` read by index;
    // the candidates then pass the whole filter in memory. Any other filter reads every provisioned user of the IdP.
    if (filter) checkFilterAttributes(filter, 'User');
    const sort = readSort(query, 'User');
    const inOrder = (resources: Json[]) => (sort ? sorted(resources, sort) : resources);
    const lookup = filter && indexedLookup(filter);
    const scim = this.store.scim;
    const idpId = this.s.idp.id;
    if (lookup) {
      // a handful of candidates: the whole filter in memory, then the page
      const users =
        lookup.attr === 'userName'
          ? await scim.findUsersByUserName(idpId, lookup.value)
          : lookup.attr === 'externalId'
            ? await scim.findUsersByExternalId(idpId, lookup.value)
            : await scim.findUsersByEmail(idpId, lookup.value);
      return listResponse(inOrder(users.map((u) => this.toResource(u)).filter((r) => matches(r, filter!))), page);
    }
    // `co`, `sw`, `ew`, `ne`, `pr`, `and`/`or`/`not` on userName, externalId, emails.value and displayName (and no
    // filter) run in the database, which counts the whole set and reads only the page. A sorted list is sorted in
    // memory, over every user the filter leaves (below): no client we serve sends sortBy in its routine requests.
    const where = filter ? userFilterCondition(filter) : null;
    if (!sort && (!filter || where)) {
      const { total, users } = await scim.pageOfUsers(idpId, where, page.startIndex - 1, page.count);
      const resources = users.map((u) => this.toResource(u));
      return {
        schemas: [LIST_SCHEMA],
        totalResults: total,
        startIndex: page.startIndex,
        itemsPerPage: resources.length,
        Resources: resources,
      };
    }
    // any other attribute (name.familyName, active, meta…): every provisioned user of the IdP, filtered, then the page
    return listResponse(
      inOrder(
        (await scim.listUsers(idpId)).map((u) => this.toResource(u)).filter((r) => !filter || matches(r, filter)),
      ),
      page,
    );
  }

  /** POST /Users: a new user, or an existing one this IdP may take (docs/scim.md, "Matching existing users"). */
  async create(body: unknown): Promise<Json> {
    const input = readUser(body);
    const idpId = this.s.idp.id;
    const sameName = await this.store.scim.linksByUserName(idpId, input.userName);
    if (sameName.some((l) => l.source === 'scim'))
      throw uniqueness(`A user with userName ${input.userName.slice(0, 200)} exists already.`);
    // Someone who signed in through this IdP before provisioning started: their link becomes the provisioned one.
    const signedIn = sameName[0];
    if (signedIn) {
      await this.store.scim.adoptLink(signedIn.id, input.userName, input.externalId);
      const p = await this.find(signedIn.userId);
      await this.audit('scim.user_linked', p.user.id, {
        userName: input.userName,
        email: p.user.email,
        how: 'signed_in_before',
      });
      return this.apply(p, input);
    }
    const existing = await this.store.users.findByEmail(input.email);
    if (existing) return this.linkExisting(existing, input);
    await this.checkCreation(input.email);
    let created: User;
    try {
      created = await this.s.ctx.store.transaction(async (tx) => {
        const store = tx.forOrg(this.store.orgId);
        const user = await store.users.create({
          email: input.email,
          firstName: input.firstName,
          lastName: input.lastName,
          phone: input.phone,
          status: input.active === false ? 'disabled' : 'active',
          source: 'scim',
        });
        await store.scim.createLink(user.id, idpId, input.userName, input.externalId);
        return user;
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002')
        throw uniqueness('A user with this userName or email address was created meanwhile.');
      throw err;
    }
    await this.audit('scim.user_created', created.id, { userName: input.userName, email: created.email });
    return this.toResource(await this.find(created.id));
  }

  /** Links an existing directory user with the address, as the IdP's linking mode allows a first login to (resolve-user.ts),
   *  and never one who signs in through another IdP. */
  private async linkExisting(user: User, input: UserInput): Promise<Json> {
    const idp = this.s.idp;
    const links = await this.store.users.identities(user.id);
    if (links.some((l) => l.idpId !== idp.id))
      throw uniqueness('A user with this email address exists and signs in through another identity provider.');
    if (links.some((l) => l.source === 'scim'))
      throw uniqueness('A user with this email address is provisioned already under another userName.');
    if (idp.linkingMode === 'never')
      throw uniqueness(
        "A user with this email address exists, and this identity provider's linking mode (never) does not link existing users.",
      );
    if (idp.linkingMode === 'verified-domains' && !coversEmail(idp.emailDomains, input.email))
      throw uniqueness(
        `A user with this email address exists, and ${emailDomain(input.email) ?? 'its domain'} is not one of this identity provider's email domains.`,
      );
    try {
      await this.store.scim.createLink(user.id, idp.id, input.userName, input.externalId);
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw uniqueness('This userName was linked meanwhile.');
      throw err;
    }
    await this.audit('scim.user_linked', user.id, { userName: input.userName, email: user.email, how: 'email' });
    return this.apply(await this.find(user.id), input);
  }

  /** A new user's address may not lie in a domain another IdP of the organisation owns (unless linking mode any-email),
   *  nor outside this IdP's own domains when it lists some. */
  private async checkCreation(email: string) {
    const idp = this.s.idp;
    if (idp.linkingMode === 'any-email') return;
    const owner = ownerOfEmail(
      (await this.store.identityProviders.list()).filter((i) => i.id !== idp.id),
      email,
    );
    if (owner)
      throw invalidValue(
        `The address's domain belongs to another identity provider of this organisation (${owner.name}).`,
      );
    if (idp.emailDomains.length && !coversEmail(idp.emailDomains, email))
      throw invalidValue(
        `The address's domain is not one of this identity provider's email domains (${idp.emailDomains.join(', ')}).`,
      );
  }

  async replace(id: string, body: unknown, ifMatch?: string | string[]) {
    const current = await this.find(id);
    checkIfMatch(ifMatch, (this.toResource(current).meta as Json).version as string);
    if (isObject(body)) checkId(body, current.user.id);
    return this.apply(current, readUser(body));
  }

  async patch(id: string, body: unknown, ifMatch?: string | string[]) {
    const operations = readPatch(body);
    const current = await this.find(id);
    const resource = this.toResource(current);
    checkIfMatch(ifMatch, (resource.meta as Json).version as string);
    const next = applyPatch(resource, operations, { coreUrn: USER_SCHEMA, multiValued: MULTI_VALUED });
    checkId(next, current.user.id);
    // active removed by a patch means "not given", not "false"
    return this.apply(current, readUser(next));
  }

  /** Writes what changed: the link (userName, externalId), the directory fields, then the status. */
  private async apply(p: ProvisionedUser, input: UserInput): Promise<Json> {
    const { user, link } = p;
    if (input.userName !== link.nameId || input.externalId !== link.externalId) {
      if (input.userName.toLowerCase() !== link.nameId.toLowerCase()) {
        const taken = (await this.store.scim.linksByUserName(this.s.idp.id, input.userName)).some(
          (l) => l.id !== link.id,
        );
        if (taken) throw uniqueness(`A user with userName ${input.userName.slice(0, 200)} exists already.`);
      }
      try {
        await this.store.scim.updateLink(link.id, { nameId: input.userName, externalId: input.externalId });
      } catch (err) {
        if ((err as { code?: string }).code === 'P2002')
          throw uniqueness(`A user with userName ${input.userName.slice(0, 200)} exists already.`);
        throw err;
      }
    }
    const fields = { email: input.email, firstName: input.firstName, lastName: input.lastName, phone: input.phone };
    const changed = (Object.keys(fields) as (keyof typeof fields)[]).filter((f) =>
      f === 'email'
        ? fields.email.trim().toLowerCase() !== user.emailLower || fields.email.trim() !== user.email
        : fields[f] !== user[f],
    );
    if (changed.length) {
      if (
        changed.includes('email') &&
        fields.email.trim().toLowerCase() !== user.emailLower &&
        (await this.store.users.findByEmail(fields.email))
      )
        throw uniqueness('Another user of this organisation has this email address.');
      try {
        // only what changed: a concurrent PATCH of another attribute of this user keeps its write
        await this.store.users.update(user.id, Object.fromEntries(changed.map((f) => [f, fields[f]])));
      } catch (err) {
        if ((err as { code?: string }).code === 'P2002')
          throw uniqueness('Another user of this organisation has this email address.');
        throw err;
      }
      await this.audit('scim.user_updated', user.id, {
        changed,
        ...(changed.includes('email') && { previousEmail: user.email, email: fields.email }),
      });
    }
    if (input.active === false && user.status === 'active') await this.deactivate(user, 'scim.user_deactivated');
    if (input.active === true && user.status !== 'active') {
      await this.store.users.update(user.id, { status: 'active' });
      await this.audit('scim.user_reactivated', user.id, { email: user.email });
    }
    return this.toResource(await this.find(user.id));
  }

  /** Disables the user and ends what would let them in without the IdP: broker sessions and remembered devices.
   *  The second factor stays (a reactivated user keeps it). */
  private async deactivate(user: User, type: string, details: Record<string, unknown> = {}) {
    // what ended is recorded in this event (sessionsEnded, devicesRevoked), not as separate events
    const { sessionsEnded, devicesRevoked } = await deactivateUser(this.store, user.id, this.s.ctx.clock.now());
    await this.audit(type, user.id, { email: user.email, sessionsEnded, devicesRevoked, ...details });
  }

  /** DELETE: the user is deactivated, their link to this IdP and its group memberships removed (the client sees the
   *  resource gone), and the directory entry kept, disabled, for the audit trail and a later re-provisioning. */
  async delete(id: string, ifMatch?: string | string[]) {
    const p = await this.find(id);
    checkIfMatch(ifMatch, (this.toResource(p).meta as Json).version as string);
    await this.deactivate(p.user, 'scim.user_deleted', { userName: p.link.nameId });
    await this.store.users.unlink(p.user.id, p.link.id);
    const groups = p.groups;
    for (const g of groups) await this.store.scim.removeMember(g.id, p.user.id);
    if (groups.length)
      await syncUserGroups(
        this.store,
        p.user.id,
        groups.map((g) => g.displayName),
      );
  }
}

/** Keeps users.groups (what app policies read) in step with SCIM memberships for the group names `touched`: a name is
 *  present when the user is in a SCIM group of that name, absent otherwise. Other names are left as they are. */
export async function syncUserGroups(store: TenantStore, userId: string, touched: string[]) {
  const names = [...new Set(touched)];
  // Memberships are read on each attempt of the compare-and-set: a retry sees the rows of the writer it lost to.
  await store.scim.updateUserGroups(userId, async (current) => {
    const member = await store.scim.memberGroupNames(userId);
    let groups = [...current];
    for (const name of names) {
      if (member.has(name) && !groups.includes(name)) groups.push(name);
      if (!member.has(name)) groups = groups.filter((g) => g !== name);
    }
    return JSON.stringify(groups) === JSON.stringify(current) ? null : groups;
  });
}

export { ENTERPRISE_SCHEMA };
