// /Groups of one IdP's SCIM client. A group's members are users provisioned through the same IdP; membership puts the
// group's displayName into each member's users.groups, which app policies' group conditions read, so a change
// acts on the next sign-in (syncUserGroups in users.ts).
import type { Filter } from 'scim2-parse-filter';
import { CONTROL } from '../users/import/validate-row.ts';
import { MAX_LENGTH } from '../users/import/columns.ts';
import { invalidValue, scimNotFound, ScimError, uniqueness } from './errors.ts';
import { checkFilterAttributes, matches, parseFilter } from './filter.ts';
import { applyPatch, readPatch } from './patch.ts';
import { readSort, sorted } from './sort.ts';
import {
  checkId,
  checkIfMatch,
  checkSchemas,
  ENTRA_LEGACY_GROUP_SCHEMA,
  GROUP_SCHEMA,
  type Json,
  listResponse,
  pageOf,
  withVersion,
} from './resources.ts';
import type { TenantStore } from '../store/store.ts';
import { syncUserGroups, type ScimScope } from './users.ts';

type GroupRow = NonNullable<Awaited<ReturnType<ScimScope['store']['scim']['findGroup']>>>;
interface GroupInput {
  displayName: string;
  externalId: string | null;
  members: string[] | undefined;
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const field = (obj: Json, name: string): unknown => {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
};

function readGroup(body: unknown): GroupInput {
  if (!isObject(body)) throw new ScimError(400, 'invalidSyntax', 'The request body must be a JSON object.');
  checkSchemas(body, [GROUP_SCHEMA, ENTRA_LEGACY_GROUP_SCHEMA]);
  const displayName =
    typeof field(body, 'displayName') === 'string' ? (field(body, 'displayName') as string).trim() : '';
  if (!displayName) throw invalidValue('displayName is required.');
  if (displayName.length > MAX_LENGTH.groups || CONTROL.test(displayName))
    throw invalidValue(`displayName must be at most ${MAX_LENGTH.groups} characters without control characters.`);
  const externalId = field(body, 'externalId');
  if (externalId !== undefined && externalId !== null && typeof externalId !== 'string')
    throw invalidValue('externalId must be a string.');
  const members = field(body, 'members');
  if (members !== undefined && members !== null && !Array.isArray(members))
    throw invalidValue('members must be an array.');
  return {
    displayName,
    externalId: typeof externalId === 'string' && externalId.trim() ? externalId.trim() : null,
    members: Array.isArray(members)
      ? [...new Set(members.map((m) => (isObject(m) ? String(field(m, 'value') ?? '') : String(m))).filter(Boolean))]
      : undefined,
  };
}

export class ScimGroups {
  constructor(private readonly s: ScimScope) {}

  private get store() {
    return this.s.store;
  }
  private audit(type: string, details: Record<string, unknown>) {
    return this.store.audit.record({
      type,
      actor: this.s.actor,
      idpId: this.s.idp.id,
      at: this.s.ctx.clock.now(),
      details: { idpName: this.s.idp.name, ...details },
    });
  }

  toResource(g: GroupRow, opts: { members?: boolean } = {}): Json {
    return withVersion({
      schemas: [GROUP_SCHEMA],
      id: g.id,
      ...(g.externalId && { externalId: g.externalId }),
      displayName: g.displayName,
      ...(opts.members !== false && {
        members: g.members.map((m) => ({
          value: m.userId,
          display: m.user.email,
          type: 'User',
          $ref: `${this.s.baseUrl}/Users/${m.userId}`,
        })),
      }),
      meta: {
        resourceType: 'Group',
        created: g.createdAt.toISOString(),
        lastModified: g.updatedAt.toISOString(),
        location: `${this.s.baseUrl}/Groups/${g.id}`,
      },
    });
  }

  private async find(id: string): Promise<GroupRow> {
    const g = await this.store.scim.findGroup(this.s.idp.id, id);
    if (!g) throw scimNotFound('Group', id);
    return g;
  }

  async get(id: string, ifMatch?: string | string[], opts: { members?: boolean } = {}) {
    const g = await this.find(id);
    checkIfMatch(ifMatch, (this.toResource(g).meta as Json).version as string);
    return this.toResource(g, opts);
  }

  async list(
    query: { filter?: unknown; startIndex?: unknown; count?: unknown; sortBy?: unknown; sortOrder?: unknown },
    opts: { members?: boolean } = {},
  ) {
    const page = pageOf(query);
    const filter: Filter | null =
      typeof query.filter === 'string' && query.filter.trim() ? parseFilter(query.filter) : null;
    if (filter) checkFilterAttributes(filter, 'Group');
    const sort = readSort(query, 'Group');
    let resources = (await this.store.scim.listGroups(this.s.idp.id)).map((g) => this.toResource(g));
    if (filter) resources = resources.filter((r) => matches(r, filter));
    if (sort) resources = sorted(resources, sort);
    if (opts.members === false) resources = resources.map(({ members: _m, ...r }) => r);
    return listResponse(resources, page);
  }

  /** Members must be users provisioned through this IdP: anyone else is 400 invalidValue, as is an unknown id. */
  private async checkMembers(store: TenantStore, ids: string[]) {
    for (const id of ids)
      if (!(await store.scim.findUser(this.s.idp.id, id)))
        throw invalidValue(`Member ${id.slice(0, 100)} is not a user provisioned through this identity provider.`);
  }

  async create(body: unknown) {
    const input = readGroup(body);
    const members = input.members ?? [];
    let id: string;
    try {
      id = await this.s.ctx.store.transaction(async (tx) => {
        const store = tx.forOrg(this.store.orgId);
        if (await this.findByName(store, input.displayName))
          throw uniqueness(`A group named ${input.displayName} exists already.`);
        await this.checkMembers(store, members);
        const created = await store.scim.createGroup(this.s.idp.id, {
          displayName: input.displayName,
          externalId: input.externalId,
        });
        for (const userId of [...members].sort()) {
          await store.scim.addMember(created.id, userId);
          await syncUserGroups(store, userId, [input.displayName]);
        }
        return created.id;
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002')
        throw uniqueness(`A group named ${input.displayName} exists already.`);
      throw err;
    }
    await this.audit('scim.group_created', { groupId: id, displayName: input.displayName, members: members.length });
    return this.toResource(await this.find(id));
  }

  /** displayName is unique per IdP without regard to case. */
  private async findByName(store: TenantStore, displayName: string, exceptId?: string) {
    return (await store.scim.listGroups(this.s.idp.id)).find(
      (g) => g.id !== exceptId && g.displayName.toLowerCase() === displayName.toLowerCase(),
    );
  }

  async replace(id: string, body: unknown, ifMatch?: string | string[]) {
    return this.change(id, ifMatch, (current) => {
      if (isObject(body)) checkId(body, current.id);
      return readGroup(body);
    });
  }

  async patch(id: string, body: unknown, ifMatch?: string | string[]) {
    const operations = readPatch(body);
    return this.change(id, ifMatch, (current) => {
      const next = applyPatch(this.toResource(current), operations, {
        coreUrn: GROUP_SCHEMA,
        multiValued: new Set(['members']),
      });
      checkId(next, current.id);
      // {"op":"remove","path":"members"} leaves no members attribute: every member is removed
      if (field(next, 'members') === undefined) next.members = [];
      return readGroup(next);
    });
  }

  /** A PUT or PATCH: `compute` turns the group as it is into what it should be. One transaction that first locks the
   *  group's row, then reads the group, checks If-Match and computes the change: a concurrent change of the same group
   *  waits for the lock and then reads what this one wrote, so that neither works from a stale member list or name
   *  (a rename does not miss a member added meanwhile, an add does not write back the old name). Then the membership
   *  rows and each touched member's users.groups, in user id order (no two transactions wait on each other's users).
   *  A request that fails half-way (503 under load) leaves nothing, and the client's retry finds the same work to do. */
  private async change(id: string, ifMatch: string | string[] | undefined, compute: (current: GroupRow) => GroupInput) {
    const idpId = this.s.idp.id;
    const done = await this.s.ctx.store.transaction(async (tx) => {
      const store = tx.forOrg(this.store.orgId);
      if (!(await store.scim.lockGroup(idpId, id))) throw scimNotFound('Group', id);
      const current = await store.scim.findGroup(idpId, id);
      if (!current) throw scimNotFound('Group', id);
      checkIfMatch(ifMatch, (this.toResource(current).meta as Json).version as string);
      const input = compute(current);
      const renamed = input.displayName !== current.displayName;
      if (
        renamed &&
        input.displayName.toLowerCase() !== current.displayName.toLowerCase() &&
        (await this.findByName(store, input.displayName, current.id))
      )
        throw uniqueness(`A group named ${input.displayName} exists already.`);
      const before = new Set(current.members.map((m) => m.userId));
      const after = input.members === undefined ? before : new Set(input.members);
      const added = [...after].filter((u) => !before.has(u)).sort();
      const removed = [...before].filter((u) => !after.has(u)).sort();
      await this.checkMembers(store, added);
      const syncFor = [...new Set(renamed ? [...after, ...removed] : [...added, ...removed])].sort();
      const retagged = input.externalId !== current.externalId;
      if (renamed || retagged || added.length || removed.length) {
        await store.scim.updateGroup(current.id, { displayName: input.displayName, externalId: input.externalId });
        for (const userId of added) await store.scim.addMember(current.id, userId);
        for (const userId of removed) await store.scim.removeMember(current.id, userId);
        for (const userId of syncFor) await syncUserGroups(store, userId, [current.displayName, input.displayName]);
      }
      return { current, input, renamed, retagged, added, removed };
    });
    const { current, input, renamed, retagged, added, removed } = done;
    if (renamed || retagged)
      await this.audit('scim.group_updated', {
        groupId: current.id,
        displayName: input.displayName,
        ...(renamed && { previousDisplayName: current.displayName }),
      });
    if (added.length || removed.length)
      await this.audit('scim.group_members_changed', {
        groupId: current.id,
        displayName: input.displayName,
        added,
        removed,
      });
    return this.toResource(await this.find(current.id));
  }

  async delete(id: string, ifMatch?: string | string[]) {
    const idpId = this.s.idp.id;
    // locked and read in the transaction, like a change: a member added meanwhile also loses the name
    const g = await this.s.ctx.store.transaction(async (tx) => {
      const store = tx.forOrg(this.store.orgId);
      if (!(await store.scim.lockGroup(idpId, id))) throw scimNotFound('Group', id);
      const found = await store.scim.findGroup(idpId, id);
      if (!found) throw scimNotFound('Group', id);
      checkIfMatch(ifMatch, (this.toResource(found).meta as Json).version as string);
      await store.scim.deleteGroup(found.id);
      for (const userId of found.members.map((m) => m.userId).sort())
        await syncUserGroups(store, userId, [found.displayName]);
      return found;
    });
    await this.audit('scim.group_deleted', { groupId: g.id, displayName: g.displayName, members: g.members.length });
  }
}

/** When the IdP itself is deleted (orgs/remote/idp-lifecycle.ts, inside its transaction): its SCIM tokens go, so its
 *  connector gets 401 from now on, and its groups go as a DELETE of each would, so their names leave the members'
 *  users.groups and grant no policy any more. The users stay in the directory, as the IdP's other users do. */
export async function removeIdpProvisioning(
  store: TenantStore,
  idpId: string,
): Promise<{ scimTokensDeleted: number; scimGroupsDeleted: number; provisionedUsers: number }> {
  const provisionedUsers = await store.scim.countUsers(idpId);
  const scimTokensDeleted = await store.scimTokens.deleteAll(idpId);
  const groups = await store.scim.listGroups(idpId);
  for (const g of groups) {
    await store.scim.deleteGroup(g.id);
    for (const userId of g.members.map((m) => m.userId).sort()) await syncUserGroups(store, userId, [g.displayName]);
  }
  return { scimTokensDeleted, scimGroupsDeleted: groups.length, provisionedUsers };
}
