// Entra ID's groups overage: over 200 groups, the ID token carries no `groups` claim but names a source of them
// (OpenID Connect distributed claims: _claim_names.groups -> _claim_sources[name].endpoint). We read the groups from
// Microsoft Graph so that the app login policy's group conditions still apply.
//
// The endpoint the token names is hostile input and is never called: we call only the configured Graph origin
// (GRAPH_BASE_URL, https://graph.microsoft.com), with the object id (oid) from the signed ID token, the sign-in's access
// token, a time limit, a size limit and no redirect followed (so the access token goes to that origin and nowhere else).
//
// Why POST /v1.0/users/{oid}/getMemberObjects and not GET /me/memberOf: getMemberObjects answers with the ids of every
// group the user belongs to, transitively, in one answer (no paging), which is what Entra ID's `groups` claim holds
// and so what the policy's group conditions were written against; /me/memberOf lists direct memberships only, as full
// objects, 100 a page, so it would need several calls and still miss nested groups.
import type { AppContext } from '../../context.ts';
import { OidcError } from './oidc-errors.ts';
import { readAtMost } from './bounded-body.ts';

/** The largest Graph answer we read: ~11,000 group ids at most, well within this. */
export const MAX_GRAPH_RESPONSE_BYTES = 1024 * 1024;
/** Graph object ids are GUIDs; anything else in the answer is not a group id. */
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const unavailable = (message: string, diagnosis: Record<string, unknown>) =>
  new OidcError('oidc_groups_unavailable', message, diagnosis);

/** The groups (object ids) of the Entra ID user `oid`, read from Microsoft Graph with the sign-in's access token. */
export async function entraGroups(ctx: AppContext, oid: string, accessToken: string): Promise<string[]> {
  if (!OBJECT_ID.test(oid))
    throw unavailable('Your groups could not be read from Microsoft Graph.', {
      problem: 'the ID token has no object id (oid) to ask Microsoft Graph about',
    });
  const url = `${ctx.config.graphBaseUrl}/v1.0/users/${oid}/getMemberObjects`;
  const diagnosis = { graph: url };
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${accessToken}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({ securityEnabledOnly: false }),
      // A redirect would carry the access token on to wherever it points: refused, not followed.
      redirect: 'error',
      signal: AbortSignal.timeout(ctx.config.metadataFetchTimeoutSeconds * 1000),
    });
  } catch (err) {
    throw unavailable('Microsoft Graph could not be reached to read your groups.', {
      ...diagnosis,
      problem: (err as Error).message.slice(0, 300),
    });
  }
  const text = await readBounded(res, diagnosis);
  if (!res.ok)
    throw unavailable('Microsoft Graph did not give your groups.', {
      ...diagnosis,
      status: res.status,
      // Graph's error code (Authorization_RequestDenied: the permission is missing), not the whole body.
      error: graphErrorCode(text),
    });
  let value: unknown;
  try {
    value = (JSON.parse(text) as { value?: unknown }).value;
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || !value.every((id) => typeof id === 'string' && OBJECT_ID.test(id)))
    throw unavailable("Microsoft Graph's answer about your groups could not be read.", {
      ...diagnosis,
      problem: 'not a list of object ids',
    });
  // How many groups a sign-in may carry is the profile's one rule (MAX_PROFILE_GROUPS, profile.ts), for Graph's
  // answer as for any IdP's attribute: more is refused there, never cut short.
  return [...new Set(value as string[])];
}

async function readBounded(res: Response, diagnosis: Record<string, unknown>): Promise<string> {
  let body: Buffer | null;
  try {
    body = await readAtMost(res, MAX_GRAPH_RESPONSE_BYTES);
  } catch (err) {
    throw unavailable('Microsoft Graph could not be read to the end.', {
      ...diagnosis,
      problem: (err as Error).message.slice(0, 300),
    });
  }
  if (!body)
    throw unavailable("Microsoft Graph's answer about your groups is too large.", {
      ...diagnosis,
      maxBytes: MAX_GRAPH_RESPONSE_BYTES,
    });
  return body.toString('utf8');
}

function graphErrorCode(text: string): string | null {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code.slice(0, 100) : null;
  } catch {
    return null;
  }
}
