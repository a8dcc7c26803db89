// Scheduled refresh of upstream IdPs registered by metadata URL, as Shibboleth's MetadataProvider and SimpleSAMLphp's
// metarefresh do: fetch again when the metadata says (cacheDuration, validUntil) within the operator's bounds, take
// the new certificates and endpoints (an IdP's key rollover lands without an admin), and keep the last good copy
// whenever a fetch fails or a document is refused. Every node runs it; each due IdP is claimed by exactly one.
import type { AppContext } from '../../context.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { certificateFingerprint } from '../../saml/certificates.ts';
import { type IdentityProvider, type IdentityProviderInput } from '../../store/identity-providers.ts';
import type { TenantStore } from '../../store/store.ts';
import { fetchMetadata, readIdpMetadata, type IdpMetadataDocument } from './metadata-import.ts';
import { fetchDiscovery, readDiscovery } from './oidc-discovery.ts';

/** Audit actor of scheduled refreshes. */
export const SCHEDULED_REFRESH_ACTOR = 'metadata-refresh';
/** How long a claimed refresh may take before another node may take it over (the fetch itself times out sooner). */
export const REFRESH_LEASE_MS = 5 * 60_000;
// Like Shibboleth's refreshDelayFactor: refresh when three quarters of the remaining validity have passed, so that
// a few failed attempts still leave time before the copy expires.
const VALIDITY_FACTOR = 0.75;

export interface RefreshBounds {
  minSeconds: number;
  maxSeconds: number;
}

const boundsOf = (ctx: AppContext): RefreshBounds => ({
  minSeconds: ctx.config.metadataRefreshMinSeconds,
  maxSeconds: ctx.config.metadataRefreshIntervalSeconds,
});

/** When to fetch again after a good document: the soonest of its cacheDuration, the configured interval and most of
 *  its remaining validity, but never sooner than the configured minimum. */
export function nextRefreshAfterSuccess(
  now: Date,
  doc: Pick<IdpMetadataDocument, 'cacheDurationSeconds' | 'validUntil'>,
  bounds: RefreshBounds,
): Date {
  const t = now.getTime();
  let next = t + bounds.maxSeconds * 1000;
  if (doc.cacheDurationSeconds !== null) next = Math.min(next, t + doc.cacheDurationSeconds * 1000);
  if (doc.validUntil) next = Math.min(next, t + (doc.validUntil.getTime() - t) * VALIDITY_FACTOR);
  return new Date(Math.max(next, t + bounds.minSeconds * 1000));
}

/** When to try again after a failure that has lasted since `failingSince`: the wait doubles with every attempt
 *  (min, min, 2·min, 4·min… measured from the first failure) up to the configured interval. */
export function nextRefreshAfterFailure(now: Date, failingSince: Date, bounds: RefreshBounds): Date {
  const waitMs = Math.min(
    Math.max(now.getTime() - failingSince.getTime(), bounds.minSeconds * 1000),
    bounds.maxSeconds * 1000,
  );
  return new Date(now.getTime() + waitMs);
}

// metadataError is what admins read ("answered HTTP 500 (failing since …)"). It also carries the start of the
// failure streak, which the backoff needs and no other column holds; the reason part alone decides whether the
// failure is new (audited) or the same one again (not audited, so retries do not flood the audit log).
const SINCE = / \(failing since (\d{4}-\d\d-\d\dT[\d:.]+Z)\)$/;
export function describeFailure(reason: string, since: Date): string {
  return `${reason} (failing since ${since.toISOString()})`;
}
export function parseFailure(stored: string | null): { reason: string; since: Date | null } | null {
  if (!stored) return null;
  const m = SINCE.exec(stored);
  const since = m ? new Date(m[1]) : null;
  return since && !Number.isNaN(since.getTime())
    ? { reason: stored.slice(0, m!.index), since }
    : { reason: stored, since: null };
}

/** A refusal as one plain sentence for admins. */
function reasonOf(err: unknown): string {
  if (err instanceof ValidationError) {
    return Object.entries(err.fields)
      .map(([field, message]) => `${field === 'metadataUrl' ? 'The metadata URL' : 'The metadata'} ${message}`)
      .join('; ');
  }
  if (err instanceof AppError) return err.message;
  return `The metadata could not be refreshed (${(err as Error).message ?? String(err)})`;
}

export interface MetadataChanges {
  certificates?: { old: string[]; new: string[] };
  ssoUrl?: { old: string; new: string };
  ssoBinding?: { old: string; new: string };
  sloUrl?: { old: string | null; new: string | null };
}

const fingerprints = (pems: string[]) =>
  pems
    .map((pem) => {
      try {
        return certificateFingerprint(pem);
      } catch {
        return 'unparseable';
      }
    })
    .sort();

function changesBetween(idp: IdentityProvider, doc: IdpMetadataDocument): MetadataChanges | null {
  const changes: MetadataChanges = {};
  const [oldCerts, newCerts] = [fingerprints(idp.certificates), fingerprints(doc.idp.certificates)];
  if (oldCerts.join() !== newCerts.join()) changes.certificates = { old: oldCerts, new: newCerts };
  if (idp.ssoUrl !== doc.idp.ssoUrl) changes.ssoUrl = { old: idp.ssoUrl, new: doc.idp.ssoUrl };
  if (idp.ssoBinding !== doc.idp.ssoBinding) changes.ssoBinding = { old: idp.ssoBinding, new: doc.idp.ssoBinding };
  if ((idp.sloUrl ?? null) !== doc.idp.sloUrl) changes.sloUrl = { old: idp.sloUrl ?? null, new: doc.idp.sloUrl };
  return Object.keys(changes).length ? changes : null;
}

/** A fetched document: when to fetch again, the registration fields it gives, and what changed. */
interface Fetched {
  doc: Pick<IdpMetadataDocument, 'cacheDurationSeconds' | 'validUntil'>;
  fields: IdentityProviderInput;
  changes: MetadataChanges | null;
}

async function fetchSaml(ctx: AppContext, idp: IdentityProvider): Promise<Fetched> {
  const xml = await fetchMetadata(idp.metadataUrl!, {
    allowPrivate: ctx.config.metadataAllowPrivate,
    timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
  });
  const doc = readIdpMetadata(xml, { entityId: idp.entityId, signingCertificate: idp.metadataSigningCertificate });
  if (doc.validUntil && doc.validUntil <= ctx.clock.now())
    throw new ValidationError({ metadata: `expired at ${doc.validUntil.toISOString()} (validUntil)` });
  return {
    doc,
    changes: changesBetween(idp, doc),
    fields: {
      certificates: doc.idp.certificates,
      ssoUrl: doc.idp.ssoUrl,
      ssoBinding: doc.idp.ssoBinding,
      sloUrl: doc.idp.sloUrl,
      metadataXml: xml,
      metadataValidUntil: doc.validUntil,
    },
  };
}

/** An OpenID Connect IdP's discovery document, for the same issuer (the issuer never changes on a refresh). Its keys
 *  are not copied: the JWKS is read at login (src/broker/upstream/oidc.ts), so a key rotation needs no refresh. */
async function fetchOidc(ctx: AppContext, idp: IdentityProvider): Promise<Fetched> {
  const d = await fetchDiscovery(idp.entityId, {
    allowPrivate: ctx.config.metadataAllowPrivate,
    timeoutMs: ctx.config.metadataFetchTimeoutSeconds * 1000,
    field: 'metadata',
  });
  const before = (() => {
    try {
      return readDiscovery(idp.oidcDiscovery ?? '', idp.entityId);
    } catch {
      return null;
    }
  })();
  const changes: MetadataChanges & Record<string, unknown> = {};
  if (idp.ssoUrl !== d.authorization_endpoint) changes.ssoUrl = { old: idp.ssoUrl, new: d.authorization_endpoint };
  for (const k of ['token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'end_session_endpoint'] as const)
    if (before?.[k] !== d[k]) changes[k] = { old: before?.[k] ?? null, new: d[k] ?? null };
  return {
    doc: { cacheDurationSeconds: null, validUntil: null },
    changes: Object.keys(changes).length ? changes : null,
    fields: { ssoUrl: d.authorization_endpoint, oidcDiscovery: JSON.stringify(d) },
  };
}

export type RefreshOutcome =
  | { status: 'updated'; changes: MetadataChanges | null; nextRefreshAt: Date }
  | { status: 'failed'; error: string; nextRefreshAt: Date }
  /** an admin edit or another refresh changed the IdP while this one was fetching; nothing was written */
  | { status: 'superseded' };

/** Fetches and applies the metadata of an IdP this caller has claimed until `claimedUntil`. */
async function refreshClaimed(
  ctx: AppContext,
  store: TenantStore,
  idp: IdentityProvider,
  claimedUntil: Date,
  actor: string,
): Promise<RefreshOutcome> {
  const bounds = boundsOf(ctx);
  let fetched: Fetched;
  try {
    fetched = idp.protocol === 'oidc' ? await fetchOidc(ctx, idp) : await fetchSaml(ctx, idp);
  } catch (err) {
    const now = ctx.clock.now();
    const reason = reasonOf(err);
    const previous = parseFailure(idp.metadataError);
    const since = previous?.since ?? now;
    const nextRefreshAt = nextRefreshAfterFailure(now, since, bounds);
    // The certificates and endpoints stay as they are: the previous good copy keeps logins working.
    if (
      !(await store.identityProviders.completeMetadataRefresh(idp.id, claimedUntil, {
        metadataError: describeFailure(reason, since),
        metadataRefreshAt: nextRefreshAt,
      }))
    )
      return { status: 'superseded' };
    if (previous?.reason !== reason) {
      await store.audit.record({
        type: 'idp.metadata_refresh_failed',
        outcome: 'failure',
        actor,
        idpId: idp.id,
        at: now,
        details: { metadataUrl: idp.metadataUrl, error: reason },
      });
    }
    return { status: 'failed', error: reason, nextRefreshAt };
  }
  const now = ctx.clock.now();
  const nextRefreshAt = nextRefreshAfterSuccess(now, fetched.doc, bounds);
  const { changes } = fetched;
  const written = await store.identityProviders.completeMetadataRefresh(idp.id, claimedUntil, {
    ...fetched.fields,
    metadataFetchedAt: now,
    metadataRefreshAt: nextRefreshAt,
    metadataError: null,
  });
  if (!written) return { status: 'superseded' };
  if (changes)
    await store.audit.record({
      type: 'idp.metadata_changed',
      actor,
      idpId: idp.id,
      at: now,
      details: { metadataUrl: idp.metadataUrl, ...changes },
    });
  return { status: 'updated', changes, nextRefreshAt };
}

/** "Refresh now" for one IdP of the organisation behind `store`, whatever its schedule. */
export async function refreshIdpMetadataNow(
  ctx: AppContext,
  store: TenantStore,
  idpId: string,
  actor: string,
): Promise<RefreshOutcome> {
  const idp = await store.identityProviders.findById(idpId);
  if (!idp) throw new AppError('idp_not_found', 'There is no identity provider with this id in this organisation.');
  if (!idp.metadataUrl)
    throw new ValidationError({ metadataUrl: 'is not set: this identity provider was not added from a metadata URL' });
  const claimedUntil = new Date(ctx.clock.now().getTime() + REFRESH_LEASE_MS);
  if (!(await store.identityProviders.claimMetadataRefresh(idp.id, idp.metadataRefreshAt, claimedUntil))) {
    throw new AppError(
      'metadata_refresh_running',
      'The metadata of this identity provider is being refreshed right now; try again in a moment.',
    );
  }
  return refreshClaimed(ctx, store, idp, claimedUntil, actor);
}

export interface RefreshSummary {
  /** due IdPs looked at in this round */
  due: number;
  /** claimed by another node (or changed) between the query and the claim */
  skipped: number;
  updated: number;
  changed: number;
  failed: number;
  failures: { orgId: string; idpId: string; error: string }[];
}

/**
 * One round of the scheduled refresh over every organisation: at most `batchSize` due IdPs, a few at a time. One
 * IdP's failure (even an unexpected one) never stops the others; the summary says what happened, for the node's log.
 */
export async function refreshDueMetadata(
  ctx: AppContext,
  now: Date,
  opts: { batchSize?: number; concurrency?: number } = {},
): Promise<RefreshSummary> {
  const due = await ctx.store.system.dueMetadataRefreshes(now, opts.batchSize ?? 25);
  const summary: RefreshSummary = { due: due.length, skipped: 0, updated: 0, changed: 0, failed: 0, failures: [] };
  const claimedUntil = new Date(now.getTime() + REFRESH_LEASE_MS);
  const queue = [...due];
  const worker = async () => {
    for (let idp = queue.shift(); idp; idp = queue.shift()) {
      const store = ctx.store.forOrg(idp.orgId);
      try {
        if (!(await store.identityProviders.claimMetadataRefresh(idp.id, idp.metadataRefreshAt, claimedUntil))) {
          summary.skipped++;
          continue;
        }
        const outcome = await refreshClaimed(ctx, store, idp, claimedUntil, SCHEDULED_REFRESH_ACTOR);
        if (outcome.status === 'superseded') summary.skipped++;
        else if (outcome.status === 'failed') {
          summary.failed++;
          summary.failures.push({ orgId: idp.orgId, idpId: idp.id, error: outcome.error });
        } else {
          summary.updated++;
          if (outcome.changes) summary.changed++;
        }
      } catch (err) {
        // A database error on one IdP; its lease expires and a later round tries again.
        summary.failed++;
        summary.failures.push({ orgId: idp.orgId, idpId: idp.id, error: (err as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, due.length)) }, worker));
  return summary;
}
