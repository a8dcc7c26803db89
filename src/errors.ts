// The error catalogue and the error type built on it. Every refusal the broker makes on purpose has one stable code
// here, with its HTTP status, who meets it, the SAML status an app receives when a login ends with it, the audit
// events that record it, and the text of its documentation (docs/errors.md is generated from this table by
// scripts/generate-error-docs.ts). A code is only ever written at a call site as a key of CATALOGUE, so an unknown
// code does not compile; adding a code is one line below. The error handler in app.ts renders an AppError from its
// entry: a branded page for people, JSON `{ error: { code, message, details? } }` for programs, and (through the
// login flow, broker/flow/fail.ts) a signed SAML error Response for the app that asked.

/** Second-level SAML StatusCodes of our error Responses to apps (under samlp:StatusCode Requester or Responder). */
export type ErrorSubStatus = 'RequestDenied' | 'AuthnFailed' | 'NoPassive' | 'NoAvailableIDP';
/** What an app's ACS receives: top-level and second-level StatusCode (without the urn:…:status: prefix). */
export interface AppStatus {
  readonly status: 'Requester' | 'Responder';
  readonly sub: ErrorSubStatus;
}

export const APP_STATUS = {
  /** the person could not be signed in (a refused upstream answer, an unknown account, a locked factor) */
  authnFailed: { status: 'Responder', sub: 'AuthnFailed' },
  /** signed in, and the app's login policy (or the account's state) denies this app */
  requestDenied: { status: 'Responder', sub: 'RequestDenied' },
  /** the app asked for no page (IsPassive) and a page was needed: the app's own request cannot be served */
  noPassive: { status: 'Requester', sub: 'NoPassive' },
  /** the organisation has no identity provider to sign in with */
  noAvailableIdp: { status: 'Responder', sub: 'NoAvailableIDP' },
} as const satisfies Record<string, AppStatus>;

/** Who meets the code: `user` the person signing in or out (branded pages), `admin` an admin in the console or
 *  through the API, `api` a program (API token, metrics scraper, load balancer), `all` anyone. */
export type Audience = 'user' | 'admin' | 'api' | 'all';

export interface ErrorEntry {
  /** the HTTP status of the answer; null: never an HTTP answer (a job's outcome, an audit line) */
  status: number | null;
  who: Audience;
  /** what happened (docs/errors.md) */
  meaning: string;
  /** what to do about it, for whoever meets it (docs/errors.md) */
  fix: string;
  /** when given, people and programs get this text and the error's own message stays in the log */
  text?: string;
  /** the branded page's heading; by default one by status (pageTitleOf) */
  title?: string;
  /** the page offers "Try again" (the same address) */
  retry?: true;
  /** the SAML status an app receives when its login ends with this code (default: APP_STATUS.authnFailed) */
  saml?: AppStatus;
  /** the audit events (types) that record this code */
  audit?: readonly string[];
}

const UPSTREAM = {
  who: 'user',
  saml: APP_STATUS.authnFailed,
  audit: ['login.upstream_rejected', 'logout.rejected', 'idp.test_connection'],
} as const;
const OIDC_UPSTREAM = {
  who: 'user',
  saml: APP_STATUS.authnFailed,
  audit: ['login.upstream_rejected', 'idp.test_connection'],
} as const;
const FROM_APP = { who: 'user', audit: ['logout.rejected'] } as const;
const SIGN_IN_AGAIN = 'Go back to the application and sign in again.';
const ASK_ADMIN = 'Ask your administrator.';
const IMPORT_FILE = 'Fix the file (the message names the line) and import it again.';

// One line per code, grouped by area. A new code: add a line here, run `npx tsx scripts/generate-error-docs.ts`,
// and commit the regenerated docs/errors.md with it.
export const CATALOGUE = {
  // Anyone, any page
  not_found: {
    status: 404,
    who: 'all',
    meaning: 'There is nothing at this address, or it belongs to another organisation.',
    fix: "Check the address; organisation pages live on the organisation's own address.",
  },
  bad_request: {
    status: 400,
    who: 'all',
    meaning:
      "The request could not be read (the web framework's own refusals carry its code instead, e.g. fst_err_validation).",
    fix: 'Send a well-formed request; for the API see /api/openapi.json.',
  },
  validation_failed: {
    status: 400,
    who: 'all',
    meaning: 'A form or API field is not valid; `details.fields` names each field and what is wrong with it.',
    fix: 'Correct the named fields and send again.',
  },
  rate_limited: {
    status: 429,
    who: 'all',
    title: 'Too many requests',
    meaning: 'Too many requests from this address in a short time.',
    fix: 'Wait the seconds the message (and Retry-After) names, then try again.',
  },
  internal_error: {
    status: 500,
    who: 'all',
    text: 'The server could not complete the request. The reference below helps your administrator find what happened.',
    meaning: 'A fault of the server; its details are only in the log, under the reference shown.',
    fix: 'Administrators: find the reference (request id) in the server log; report it if it repeats.',
  },
  service_unavailable: {
    status: 503,
    who: 'all',
    retry: true,
    meaning: 'The database or Redis did not answer in time (a restart, a failover).',
    fix: 'Try again in a moment (Retry-After); operators: check the database and Redis.',
  },
  draining: {
    status: 503,
    who: 'api',
    meaning: '/readyz while the node shuts down: the load balancer should stop sending requests to it.',
    fix: 'Nothing: requests go to the other nodes; the node exits once its requests are done.',
  },
  duplicate_host: {
    status: 400,
    who: 'all',
    meaning: 'The request carries more than one Host header.',
    fix: 'Fix the client or proxy that adds a second Host header.',
  },
  unknown_host: {
    status: 404,
    who: 'all',
    meaning: 'The Host is not BASE_DOMAIN nor one of its organisation subdomains.',
    fix: "Open the organisation's address (<slug>.BASE_DOMAIN); operators: check BASE_DOMAIN and the proxy's Host.",
  },
  unknown_organization: {
    status: 404,
    who: 'all',
    title: 'Unknown organisation',
    meaning: 'No organisation has the subdomain of this address.',
    fix: "Check the address; an owner can see the organisation's slug in its settings.",
  },
  org_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'The organisation named (CLI, import) does not exist.',
    fix: 'Check the organisation slug or id.',
  },
  csrf_failed: {
    status: 403,
    who: 'admin',
    title: 'This form has expired',
    meaning: "The form's anti-forgery token is missing or from another session.",
    fix: 'Reload the page and send the form again.',
  },
  metrics_unauthorized: {
    status: 401,
    who: 'api',
    meaning: '/metrics is protected by METRICS_TOKEN and the request did not send it.',
    fix: 'Configure the scraper with Authorization: Bearer <METRICS_TOKEN>.',
  },

  // First organisation (the welcome page)
  setup_done: {
    status: 403,
    who: 'admin',
    meaning: 'An organisation exists already, so the first-run setup is closed.',
    fix: "Sign in to the existing organisation's console; create further organisations with the CLI.",
  },
  setup_loopback_only: {
    status: 403,
    who: 'admin',
    meaning: 'The first organisation can only be created from the server itself.',
    fix: 'Open http://localhost on the server, or use `npm run cli -- org create`.',
  },
  slug_taken: {
    status: 409,
    who: 'admin',
    meaning: 'Another organisation has this slug (subdomain).',
    fix: 'Choose another slug.',
  },

  // Admin sign-in, team and API tokens
  admin_invalid_credentials: {
    status: 401,
    who: 'admin',
    audit: ['admin.login'],
    meaning: 'The email or password is wrong (which one is not said).',
    fix: 'Check both and try again; repeated failures lock the account for a while.',
  },
  admin_locked: {
    status: 423,
    who: 'admin',
    title: 'Sign-in locked',
    meaning: 'Too many failed sign-in attempts: the admin is locked out until the time shown.',
    fix: 'Wait until the time shown; an owner can also help.',
  },
  admin_second_step_expired: {
    status: 401,
    who: 'admin',
    meaning: 'The two-factor step of the admin sign-in took too long.',
    fix: 'Enter email and password again.',
  },
  admin_invalid_code: {
    status: 401,
    who: 'admin',
    audit: ['admin.login', 'admin.totp_removed'],
    meaning: "The admin's authenticator code is wrong.",
    fix: "Check the phone's clock and enter the current code.",
  },
  admin_code_reused: {
    status: 401,
    who: 'admin',
    audit: ['admin.login', 'admin.totp_removed'],
    meaning: 'This authenticator code (or a newer one) was already used.',
    fix: 'Wait for the next code.',
  },
  admin_totp_enrolled: {
    status: 409,
    who: 'admin',
    meaning: 'Two-factor sign-in is already set up for this admin.',
    fix: 'Remove it first to set up a new phone.',
  },
  admin_totp_not_enrolled: {
    status: 409,
    who: 'admin',
    meaning: 'Two-factor sign-in is not set up for this admin.',
    fix: 'Set it up first.',
  },
  forbidden_role: {
    status: 403,
    who: 'admin',
    meaning: "The admin's role does not allow this; `details` names the role needed and the role held.",
    fix: 'Ask an owner for the role, or for the change.',
  },
  admin_own_role: { status: 403, who: 'admin', meaning: 'Admins cannot raise their own role.', fix: 'Ask an owner.' },
  admin_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'No admin with this id in this organisation.',
    fix: 'Reload the team list.',
  },
  admin_exists: {
    status: 409,
    who: 'admin',
    meaning: 'The invited address is already an admin of this organisation.',
    fix: 'Sign in instead.',
  },
  admin_last_owner: {
    status: 409,
    who: 'admin',
    meaning: 'The change would leave the organisation without an owner.',
    fix: 'Make another admin an owner first.',
  },
  admin_invite_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'The invitation does not exist here or was revoked.',
    fix: 'Ask an owner for a new invitation.',
  },
  admin_invite_used: {
    status: 410,
    who: 'admin',
    meaning: 'The invitation link was already used.',
    fix: 'Sign in, or ask an owner for a new invitation.',
  },
  admin_invite_expired: {
    status: 410,
    who: 'admin',
    meaning: 'The invitation link has expired.',
    fix: 'Ask an owner for a new invitation.',
  },
  api_unauthorized: {
    status: 401,
    who: 'api',
    meaning: 'No valid API token of this organisation was sent.',
    fix: 'Send Authorization: Bearer brk_… with a token created in the console (Settings → API tokens).',
  },
  api_token_expired: {
    status: 401,
    who: 'api',
    meaning: 'The API token has passed its expiry date.',
    fix: 'Create a new token in the console.',
  },
  api_token_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'No active API token with this id in this organisation.',
    fix: 'Reload the token list.',
  },

  // Identity providers, apps, keys (console and API)
  idp_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'No identity provider with this id in this organisation.',
    fix: 'Reload the list of identity providers.',
  },
  idp_exists: {
    status: 409,
    who: 'admin',
    meaning: 'An identity provider with this entity ID is already registered.',
    fix: 'Edit the existing one instead.',
  },
  organization_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'The operator view names an organisation that does not exist (deleted, or a wrong id).',
    fix: 'Reload the list of organisations.',
  },
  organization_already_suspended: {
    status: 409,
    who: 'admin',
    meaning: 'The organisation is already suspended.',
    fix: 'Nothing to do; resume it when it may sign in again.',
  },
  organization_not_suspended: {
    status: 409,
    who: 'admin',
    meaning: 'The organisation is not suspended, so it cannot be resumed.',
    fix: 'Nothing to do.',
  },
  organization_suspended: {
    status: 403,
    who: 'all',
    title: 'Organisation suspended',
    saml: APP_STATUS.requestDenied,
    meaning:
      'The platform operator suspended this organisation: its sign-in, apps, console and API are closed until it is resumed (apps get a SAML RequestDenied Response).',
    fix: 'Ask the operator of the sign-in service.',
  },
  operator_exists: {
    status: 409,
    who: 'admin',
    meaning: 'There is already a platform operator with this email address.',
    fix: 'Use another address, or sign in as that operator.',
  },
  email_failed: {
    status: null,
    who: 'admin',
    audit: ['email.failed'],
    meaning:
      'An e-mail (invitation, second factor reset, new device) could not be handed to the SMTP relay in time; the audit line names the template and the error.',
    fix: 'Check SMTP_URL and the relay; the console still shows invitation links to copy.',
  },
  idp_protocol_mismatch: {
    status: 400,
    who: 'admin',
    meaning:
      'The change is for the other protocol (a SAML setting sent for an OpenID Connect identity provider, or the other way round).',
    fix: "Use the form or API fields of the identity provider's own protocol.",
  },
  idp_domain_taken: {
    status: 409,
    who: 'admin',
    meaning: 'An email domain is already claimed by another identity provider; `details.clashes` lists them.',
    fix: 'Remove the domain from one of the two identity providers.',
  },
  metadata_refresh_running: {
    status: 409,
    who: 'admin',
    meaning: "The identity provider's metadata is being refreshed right now.",
    fix: 'Try again in a moment.',
  },
  app_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'No app with this id in this organisation.',
    fix: 'Reload the list of apps.',
  },
  app_exists: {
    status: 409,
    who: 'admin',
    meaning: 'An app with this entity ID is already registered.',
    fix: 'Edit the existing app instead.',
  },
  next_key_exists: {
    status: 409,
    who: 'admin',
    meaning: 'A next signing key exists already.',
    fix: 'Promote or retire it first.',
  },
  no_next_key: {
    status: 409,
    who: 'admin',
    meaning: 'There is no next signing key to promote or schedule.',
    fix: 'Create one and publish the metadata first.',
  },
  logo_not_found: {
    status: 404,
    who: 'all',
    meaning: 'The organisation has no uploaded logo.',
    fix: 'Upload one in the branding settings, or ignore.',
  },
  test_result_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'The test connection result does not exist or has expired.',
    fix: "Run the test again from the identity provider's page.",
  },
  scim_token_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'The identity provider has no active SCIM token with this id.',
    fix: "Reload the identity provider's SCIM tokens.",
  },

  // Users and their identities (console and API)
  user_not_found: {
    status: 404,
    who: 'all',
    saml: APP_STATUS.authnFailed,
    audit: ['login.denied', 'login.returned'],
    meaning:
      'No such user in this organisation; at sign-in (Access denied page): no account for this person and just-in-time creation is off.',
    fix: 'Admins: add the user, or turn on just-in-time creation; people: ask your administrator.',
  },
  user_no_email: {
    status: 403,
    who: 'user',
    saml: APP_STATUS.authnFailed,
    audit: ['login.denied', 'login.returned'],
    meaning: 'The identity provider sent no email address, so the account cannot be matched.',
    fix: "Admins: check the identity provider's attribute mapping (email).",
  },
  link_refused: {
    status: 403,
    who: 'user',
    saml: APP_STATUS.authnFailed,
    audit: ['user.link_refused', 'login.denied', 'login.returned'],
    meaning:
      "The identity provider's linking rules do not allow this first login to use the existing account; `details.reason` says why.",
    fix: "Admins: link the identity to the user (console → Users), or review the identity provider's linking mode (docs/identity-linking.md).",
  },
  user_disabled: {
    status: 403,
    who: 'user',
    saml: APP_STATUS.requestDenied,
    audit: ['login.denied', 'login.returned'],
    meaning: 'The account is disabled.',
    fix: ASK_ADMIN,
  },
  identity_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'The user has no such linked identity (or it was unlinked meanwhile).',
    fix: "Reload the user's page.",
  },
  identity_taken: {
    status: 409,
    who: 'admin',
    meaning: 'This identity (IdP + NameID) is linked to another user; `details.userId` names them.',
    fix: 'Unlink it there first.',
  },
  bulk_no_users: {
    status: 400,
    who: 'admin',
    meaning: 'A bulk action named no user.',
    fix: 'Select at least one user (console: the check boxes of the list; API: `ids`).',
  },
  bulk_too_many: {
    status: 400,
    who: 'admin',
    meaning: 'A bulk action named more users than one request may change; `details.max` says how many may.',
    fix: 'Split the selection into several requests.',
  },
  bulk_users_not_found: {
    status: 404,
    who: 'admin',
    meaning:
      "Some of the users named by a bulk action are not users of this organisation (unknown, deleted meanwhile, or another organisation's); nothing was changed. `details.ids` lists them.",
    fix: 'Reload the list and select again.',
  },
  bulk_bad_action: {
    status: 400,
    who: 'admin',
    meaning: 'The bulk action is not one of those offered (disable, reset-totp).',
    fix: 'Choose one of the actions of the list.',
  },

  // User import
  import_not_found: {
    status: 404,
    who: 'admin',
    meaning: 'No such import job in this organisation.',
    fix: 'Check the job id.',
  },
  import_empty_body: {
    status: 400,
    who: 'api',
    meaning: 'The import request has no file in its body.',
    fix: 'Send the CSV or JSON file as the request body.',
  },
  import_bad_mode: {
    status: 400,
    who: 'admin',
    meaning: 'The import mode is neither create nor upsert.',
    fix: 'Use mode=create or mode=upsert.',
  },
  import_bad_header: {
    status: 400,
    who: 'admin',
    meaning: 'The CSV header is missing, repeats a column, or has no email column.',
    fix: IMPORT_FILE,
  },
  import_bad_file: {
    status: 400,
    who: 'admin',
    meaning: 'The file cannot be read as CSV or JSON at the line named in `details.line`.',
    fix: IMPORT_FILE,
  },
  import_empty_file: {
    status: 400,
    who: 'admin',
    meaning: 'The file has no rows, and "disable users missing from the file" would disable everyone.',
    fix: 'Check the file; nothing was changed.',
  },
  import_too_large: {
    status: 413,
    who: 'admin',
    meaning: 'The file is larger than the import limit.',
    fix: 'Split it into smaller files.',
  },
  import_too_many_rows: {
    status: 413,
    who: 'admin',
    meaning: 'The file has more rows than the import limit; nothing was imported.',
    fix: 'Split it into smaller files.',
  },
  import_in_progress: {
    status: 409,
    who: 'admin',
    meaning: 'Another import into this organisation is running; `details.jobId` names it.',
    fix: 'Wait for it to finish; a dead one counts as abandoned after IMPORT_STALE_AFTER_SECONDS.',
  },
  import_file_changed: {
    status: 409,
    who: 'admin',
    meaning: 'The file changed while it was being imported.',
    fix: 'Run the import again.',
  },
  import_conflict: {
    status: 409,
    who: 'admin',
    meaning: 'The directory changed while an all-or-nothing import was written, so nothing was written.',
    fix: 'Run the import again.',
  },
  import_superseded: {
    status: 409,
    who: 'admin',
    meaning: 'The import was silent for too long and a newer import took over.',
    fix: "Check the newer import's report.",
  },
  import_abandoned: {
    status: null,
    who: 'admin',
    meaning: "An import job's outcome: its process stopped without finishing and a later import took over.",
    fix: "Check the later import's report; run the file again if needed.",
  },

  // The login flow, as the person signing in meets it
  no_identity_provider: {
    status: 503,
    who: 'user',
    retry: true,
    saml: APP_STATUS.noAvailableIdp,
    audit: ['login.returned'],
    meaning: 'The organisation has no enabled identity provider.',
    fix: 'Admins: add or enable an identity provider.',
  },
  unknown_idp: {
    status: 400,
    who: 'user',
    meaning: 'The chosen sign-in option is not (or no longer) one of the listed ones.',
    fix: 'Choose one of the listed options.',
  },
  unknown_app: {
    status: 404,
    who: 'user',
    meaning: 'The application of this sign-in does not exist or is disabled.',
    fix: ASK_ADMIN,
  },
  relay_state_too_long: {
    status: 400,
    who: 'user',
    meaning:
      'The app or identity provider sent a RelayState longer than SAML allows (80 bytes recommended; we take 1024).',
    fix: 'App owners: send a shorter RelayState.',
  },
  flow_not_found: {
    status: 410,
    who: 'user',
    title: 'This sign-in has expired',
    meaning: 'The sign-in expired or was already completed.',
    fix: SIGN_IN_AGAIN,
  },
  flow_already_used: {
    status: 409,
    who: 'user',
    title: 'This sign-in was already completed or restarted',
    audit: ['login.upstream_rejected'],
    meaning:
      "The identity provider's answer came again for a sign-in that had already moved on (the browser's Back button after signing in, or a resent page). The answer is refused, as every replay is.",
    fix: "Press Start again: it opens the application's launch link (or the organisation's sign-in page).",
  },
  flow_browser_mismatch: {
    status: 403,
    who: 'user',
    meaning: 'The sign-in was started in another browser (its binding cookie is missing or different).',
    fix: 'Start again from the application in this browser.',
  },
  flow_stage_mismatch: {
    status: 409,
    who: 'user',
    meaning: 'The sign-in was already continued elsewhere (another tab).',
    fix: SIGN_IN_AGAIN,
  },
  flow_not_returnable: {
    status: 409,
    who: 'user',
    meaning: 'The application did not ask for this sign-in, so there is nothing to send back to it.',
    fix: 'Start again from the login page.',
  },
  policy_denied: {
    status: 403,
    who: 'user',
    saml: APP_STATUS.requestDenied,
    audit: ['login.denied', 'login.returned'],
    meaning: "The app's login policy denies this person (the rule's own message is shown).",
    fix: 'People: ask your administrator; admins: see the policy decision in the audit log.',
  },
  policy_invalid: {
    status: 409,
    who: 'all',
    saml: APP_STATUS.requestDenied,
    audit: ['login.denied', 'login.returned'],
    meaning: "The app's stored login policy cannot be read, so every login to it is denied.",
    fix: "Admins: replace the app's rules with a valid list.",
  },

  // Second factor (TOTP)
  mfa_required_passive: {
    status: 403,
    who: 'user',
    saml: APP_STATUS.noPassive,
    audit: ['login.denied', 'login.returned'],
    meaning: 'A second factor is needed and the app asked for no page (IsPassive).',
    fix: 'App owners: retry without IsPassive.',
  },
  mfa_already_enrolled: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed'],
    meaning: 'Two-factor authentication is already set up for this account.',
    fix: SIGN_IN_AGAIN,
  },
  mfa_not_pending: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed'],
    meaning: 'There is no two-factor setup in progress.',
    fix: 'Start again.',
  },
  mfa_enrolment_replaced: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed'],
    meaning: "Two-factor setup was started again in another window, so this page's key no longer works.",
    fix: 'Finish the setup in the other window, or start again here.',
  },
  mfa_not_enrolled: {
    status: 409,
    who: 'user',
    audit: ['mfa.verify_failed'],
    meaning: 'Two-factor authentication is not set up for this account.',
    fix: SIGN_IN_AGAIN,
  },
  mfa_invalid_code: {
    status: 401,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: 'The authenticator or recovery code is wrong.',
    fix: "Check the phone's clock and enter the current code.",
  },
  mfa_code_reused: {
    status: 401,
    who: 'user',
    audit: ['mfa.verify_failed'],
    meaning: 'This code, or a newer one, was already used.',
    fix: 'Wait for the next code.',
  },
  mfa_locked: {
    status: 423,
    who: 'user',
    title: 'Second factor locked',
    saml: APP_STATUS.authnFailed,
    audit: ['mfa.enrol_failed', 'mfa.verify_failed', 'login.returned'],
    meaning: 'Too many wrong codes: the second factor is locked until `details.lockedUntil`, and the sign-in ends.',
    fix: 'Wait until the time shown, or ask an administrator to reset the second factor.',
  },

  // Second factor (passkeys and security keys, WebAuthn)
  webauthn_required: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: "The app's login policy asks for a passkey or security key, and an authenticator-app code was sent.",
    fix: 'Use a passkey or security key; if it is lost, a recovery code.',
  },
  webauthn_not_allowed: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: "The app's login policy asks for an authenticator-app code, and a passkey answer was sent.",
    fix: 'Enter the code from the authenticator app.',
  },
  webauthn_bad_name: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed'],
    meaning: "A passkey's name is empty or too long.",
    fix: 'Give the passkey a short name, like "Work laptop".',
  },
  webauthn_refused: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: "The passkey's answer did not verify (malformed, wrong signature, or cancelled).",
    fix: 'Try again; if it repeats, use a recovery code and ask your administrator.',
  },
  webauthn_wrong_origin: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning:
      "The passkey's answer was made on another website than the organisation's address (a phishing site, or a proxy on another name).",
    fix: "Sign in only on the organisation's own address.",
  },
  webauthn_wrong_rp: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: "The passkey's answer names another relying party ID than the organisation's subdomain.",
    fix: "Sign in only on the organisation's own address.",
  },
  webauthn_wrong_challenge: {
    status: 400,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: 'The passkey answered another request than the one this page issued.',
    fix: 'Try again on this page.',
  },
  webauthn_no_challenge: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: 'No passkey request is waiting for this sign-in (it was never issued, or the page is stale).',
    fix: 'Reload the page and try again.',
  },
  webauthn_challenge_expired: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning: 'The passkey request expired before it was answered.',
    fix: 'Try again: the page issues a new request.',
  },
  webauthn_challenge_used: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed', 'mfa.verify_failed'],
    meaning:
      'The passkey request was already answered once (a replay, or a second tab); each request is used once, on any node.',
    fix: 'Try again: the page issues a new request.',
  },
  webauthn_credential_exists: {
    status: 409,
    who: 'user',
    audit: ['mfa.enrol_failed'],
    meaning: 'This passkey or security key is already registered.',
    fix: 'Use it to sign in, or register another key.',
  },
  webauthn_unknown_credential: {
    status: 401,
    who: 'user',
    audit: ['mfa.verify_failed'],
    meaning: 'The passkey is not registered in this organisation (removed, or registered elsewhere).',
    fix: 'Use another passkey or a recovery code; ask your administrator to register a new one.',
  },
  webauthn_wrong_user: {
    status: 401,
    who: 'user',
    audit: ['mfa.verify_failed'],
    meaning: 'The passkey is registered to another account of this organisation.',
    fix: 'Use your own passkey.',
  },
  webauthn_counter_regressed: {
    status: 401,
    who: 'user',
    audit: ['webauthn.counter_regressed', 'mfa.verify_failed'],
    meaning:
      "The security key answered, with a valid signature, a signature count lower than (or equal to) one seen before, which a cloned key would do; the key is flagged. Refused under the organisation's counter policy `refuse` (the default); under `allow-flagged` the sign-in goes on and only `webauthn.counter_regressed` is audited.",
    fix: "Administrators: check the user's keys (user page), remove the flagged one and have the user register a new one.",
  },
  webauthn_not_found: {
    status: 404,
    who: 'all',
    meaning: 'No such passkey for this user (removed meanwhile).',
    fix: 'Reload the page.',
  },

  // The account page (end-user self-service)
  account_check_needed: {
    status: 403,
    who: 'user',
    meaning: 'A change on the account page needs a fresh second-factor check (in the last 5 minutes).',
    fix: 'Confirm with your passkey, an authenticator code or a recovery code, then make the change.',
  },
  device_not_found: {
    status: 404,
    who: 'user',
    meaning: 'The device is not (or no longer) remembered for this account.',
    fix: 'Reload the page.',
  },
  cross_origin_form: {
    status: 403,
    who: 'user',
    meaning: 'An account-page form was sent from another site (Origin or Sec-Fetch-Site says so).',
    fix: 'Use the account page itself.',
  },

  // Single logout
  logout_browser_mismatch: {
    status: 403,
    who: 'user',
    meaning: 'The sign-out was started in another browser.',
    fix: 'Sign out from the browser that started it.',
  },
  logout_not_found: {
    status: 410,
    who: 'user',
    meaning: 'The sign-out has expired or was already completed.',
    fix: 'Nothing: close the page.',
  },
  logout_busy: {
    status: 409,
    who: 'user',
    meaning: 'The sign-out is being processed in another request.',
    fix: 'Reload the page.',
  },
  logout_hop_done: {
    status: 409,
    who: 'user',
    meaning: 'This step of the sign-out is already done (or its participant has no logout URL any more).',
    fix: 'Reload the page.',
  },
  partial_logout: {
    status: null,
    who: 'admin',
    audit: ['logout.completed'],
    meaning:
      "A single logout ended with a participant that did not confirm (the originator got PartialLogout); the event's details name it.",
    fix: "Check that participant's single logout URL and its own log.",
  },
  unknown_principal: {
    status: null,
    who: 'admin',
    audit: ['logout.unknown_session'],
    meaning: 'A logout request named a session or NameID the broker does not know (answered UnknownPrincipal).',
    fix: 'Nothing, usually: the session had already ended.',
  },

  // SAML messages from identity providers (and logout messages from apps): refused before any use
  saml_too_large: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The SAML message (or what it inflates to) is larger than MAX_SAML_MESSAGE_BYTES.',
    fix: 'Check what the identity provider sends; raise MAX_SAML_MESSAGE_BYTES only for a known large message.',
  },
  saml_malformed: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The message is missing, not base64, not XML, or not the SAML message expected.',
    fix: "Check the identity provider's (or app's) SAML configuration; the log has the detail.",
  },
  saml_doctype: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The message has a DOCTYPE, which SAML never needs (XXE, entity expansion).',
    fix: 'Nothing to configure: such messages are always refused.',
  },
  saml_schema_invalid: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The message does not validate against the SAML 2.0 schema.',
    fix: "Report it to the identity provider's vendor; the test connection shows the schema error.",
  },
  saml_unsigned: {
    status: 400,
    ...UPSTREAM,
    meaning: 'A signature that is required (response, assertion, logout response, metadata) is missing.',
    fix: 'Make the identity provider sign what the IdP settings require, or relax "want signed" for it.',
  },
  saml_bad_signature: {
    status: 400,
    ...UPSTREAM,
    meaning:
      'The signature does not verify, does not cover the element, or uses an unsupported algorithm or transform.',
    fix: "Re-import the identity provider's metadata; check nothing between it and the broker rewrites the XML.",
  },
  saml_untrusted_certificate: {
    status: 400,
    ...UPSTREAM,
    meaning: "The message is signed with a certificate that is not the identity provider's.",
    fix: "Refresh the identity provider's metadata or add its new certificate (rollover).",
  },
  saml_weak_algorithm: {
    status: 400,
    ...UPSTREAM,
    meaning: "The message (or an app's request) is signed with SHA-1.",
    fix: 'Switch the sender to RSA-SHA256, or allow SHA-1 for that one legacy IdP or app.',
  },
  saml_no_assertion: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The response carries no assertion.',
    fix: "Check the identity provider's log for why it sent none.",
  },
  saml_multiple_assertions: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The response carries more than one assertion, or one out of place (wrapping attack).',
    fix: 'Report it: a legitimate identity provider sends exactly one.',
  },
  saml_wrong_issuer: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The message comes from another (or no longer registered) identity provider than expected.',
    fix: 'Check the entity ID registered for the identity provider.',
  },
  saml_status_failure: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The identity provider answered with a failure status (it did not sign the person in).',
    fix: "The test connection shows its StatusCode and message; check the identity provider's side.",
  },
  saml_wrong_in_response_to: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The answer replies to another request than the one this sign-in (or sign-out) sent.',
    fix: 'Start again; if it repeats, check for a proxy replaying answers.',
  },
  saml_unsolicited: {
    status: 400,
    ...UPSTREAM,
    meaning:
      'An unsolicited (IdP-initiated) login that is not allowed, or that names no known app; or the sign-in expired.',
    fix: 'Start from the application, or allow IdP-initiated logins for the identity provider.',
  },
  saml_wrong_destination: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The message names another endpoint as its Destination.',
    fix: 'Check the ACS/SSO/SLO URLs registered at the sender against our metadata (PUBLIC_SCHEME, BASE_DOMAIN).',
  },
  saml_wrong_recipient: {
    status: 400,
    ...UPSTREAM,
    meaning: "The assertion's bearer confirmation is meant for another address.",
    fix: "Re-register the broker's ACS URL at the identity provider (from our metadata).",
  },
  saml_wrong_audience: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The assertion is meant for another service (Audience).',
    fix: "Set the broker's entity ID as the audience at the identity provider.",
  },
  saml_expired: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The response or logout request has expired (NotOnOrAfter), beyond the allowed clock skew.',
    fix: 'Check the clocks (NTP) of both sides; the test connection shows the offset.',
  },
  saml_not_yet_valid: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The response is not valid yet (NotBefore): the clocks differ.',
    fix: 'Check the clocks (NTP) of both sides.',
  },
  saml_replayed: {
    status: 400,
    ...UPSTREAM,
    meaning: 'This response (or logout message) was already used.',
    fix: SIGN_IN_AGAIN,
  },
  saml_decryption_failed: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The encrypted assertion could not be decrypted with any of our keys, or holds no assertion.',
    fix: 'Have the identity provider encrypt for the certificate in our current metadata.',
  },
  saml_missing_name_id: {
    status: 400,
    ...UPSTREAM,
    meaning: 'The assertion (or logout request) does not say who it is about (no NameID).',
    fix: 'Configure a NameID at the identity provider.',
  },
  saml_comment_injection: {
    status: 400,
    ...UPSTREAM,
    meaning: 'An identity value contains XML comments or markup (a known NameID truncation attack).',
    fix: 'Report it: a legitimate identity provider never does this.',
  },
  saml_duplicate_id: {
    status: 400,
    ...UPSTREAM,
    meaning: 'Two elements of the message have the same ID (a signature wrapping attack).',
    fix: 'Report it: a legitimate identity provider never does this.',
  },

  // SAML requests from apps: refused before a sign-in starts, so no error Response goes to the app
  saml_unknown_app: {
    status: 400,
    ...FROM_APP,
    meaning: 'The requesting app (Issuer) is not registered with this organisation, or is disabled.',
    fix: 'Admins: register the app (its entity ID must match exactly).',
  },
  saml_acs_not_registered: {
    status: 400,
    ...FROM_APP,
    meaning:
      'The app asked for its answer at an ACS URL that is not registered for it (409 when it was removed during the sign-in).',
    fix: "Admins: add the ACS URL to the app, if it is really the app's.",
  },
  saml_request_unsigned: {
    status: 400,
    ...FROM_APP,
    meaning:
      'The app must sign its requests (or an unsigned logout request names no session) and this one is not signed.',
    fix: 'Register the app\'s certificate and make it sign, or turn off "require signed requests".',
  },
  saml_request_bad_signature: {
    status: 400,
    ...FROM_APP,
    meaning: "The app's request signature does not match its registered certificate.",
    fix: "Update the app's certificate in the console.",
  },
  saml_unsupported_binding: {
    status: 400,
    ...FROM_APP,
    meaning: 'The app asked for its answer by a binding other than HTTP-POST.',
    fix: 'Configure the app for HTTP-POST responses.',
  },
  // OpenID Connect answers from upstream IdPs (src/broker/upstream/oidc.ts): like the SAML ones, each a refused sign-in
  oidc_state_mismatch: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning:
      'The answer names no sign-in of this organisation waiting for an identity provider (a wrong, used or foreign state).',
    fix: SIGN_IN_AGAIN,
  },
  oidc_idp_error: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The identity provider answered with an OAuth error (for example access_denied).',
    fix: "The test connection shows the error and its description; check the identity provider's side.",
  },
  oidc_code_rejected: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning:
      'The token endpoint refused the authorization code (used already, expired, or a PKCE or redirect URI mismatch).',
    fix: 'Admins: check that the redirect URI registered at the identity provider is the one the console shows.',
  },
  oidc_client_auth_failed: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The token endpoint refused our client credentials (invalid_client).',
    fix: 'Admins: check the client ID and secret (and that the secret has not expired at the identity provider).',
  },
  oidc_nonce_mismatch: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: "The ID token's nonce is not the one this sign-in sent.",
    fix: SIGN_IN_AGAIN,
  },
  oidc_replayed: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'This ID token (its nonce) was already used.',
    fix: SIGN_IN_AGAIN,
  },
  oidc_unknown_key: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning:
      "The ID token is signed with a key (kid) that the identity provider's published keys do not have, even after fetching them again.",
    fix: 'Admins: check the issuer; the identity provider may publish its keys elsewhere.',
  },
  oidc_bad_signature: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: "The ID token's signature does not verify with the identity provider's key.",
    fix: 'Report it: a legitimate identity provider never does this.',
  },
  oidc_weak_algorithm: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The ID token uses an algorithm off the allow-list (none, HMAC, or an unknown one).',
    fix: 'Admins: configure the identity provider to sign ID tokens with RS256, PS256 or ES256.',
  },
  oidc_wrong_issuer: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: "The ID token's issuer is not the registered one (a mix-up between identity providers).",
    fix: 'Admins: check the issuer URL registered for the identity provider.',
  },
  oidc_wrong_audience: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The ID token is not for our client (aud, or azp names another party).',
    fix: 'Admins: check the client ID.',
  },
  oidc_expired: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The ID token has expired (beyond the allowed clock skew).',
    fix: 'Check the clocks of the broker and the identity provider; sign in again.',
  },
  oidc_not_yet_valid: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The ID token was issued in the future (beyond the allowed clock skew).',
    fix: 'Check the clocks of the broker and the identity provider.',
  },
  oidc_malformed: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'The answer or the ID token is not well formed.',
    fix: "Report it with the test connection's details.",
  },
  oidc_too_large: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: 'An answer or token from the identity provider is over the size limit.',
    fix: 'Check what the identity provider sends (a very large groups claim, for example).',
  },
  oidc_hosted_domain: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: "Google: the account's hosted domain (hd) is not one of the identity provider's email domains.",
    fix: "Admins: add the domain to the identity provider, if it is really this customer's.",
  },
  oidc_unavailable: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: "The identity provider's endpoints (token, keys, user info) could not be reached in time.",
    fix: "Try again later; admins: check the identity provider's status and the discovery document.",
  },
  oidc_groups_unavailable: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning:
      "Entra ID's groups overage: the ID token names the groups instead of carrying them, and Microsoft Graph did not give them (unreachable, refused the access token, or an unusable answer); the sign-in stops rather than go on without groups.",
    fix: 'Admins: grant the app registration the delegated Microsoft Graph permission GroupMember.Read.All (admin consent), or emit only the groups assigned to the application (Token configuration); see the Entra ID section of the admin guide.',
  },
  upstream_too_many_groups: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning:
      'The identity provider sent more groups for this person than a sign-in may carry (500); the sign-in stops rather than check the app policy against a shortened list.',
    fix: 'Admins: have the identity provider send only the groups that matter to the apps (Okta: a groups claim filter; Entra ID: groups assigned to the application; ADFS: a claim rule), or map no groups attribute if no policy uses groups.',
  },
  oidc_not_configured: {
    status: 400,
    ...OIDC_UPSTREAM,
    meaning: "The identity provider's registration is incomplete (no discovery document, client ID or secret).",
    fix: "Admins: complete the identity provider's settings.",
  },
  oidc_logout_state_mismatch: {
    status: 400,
    who: 'user',
    audit: ['logout.rejected'],
    meaning:
      "The browser came back from an OpenID Connect identity provider's sign-out with a state that names no sign-out of this organisation waiting for that identity provider (a wrong, used or foreign state).",
    fix: 'Sign out again from your application.',
  },
  oidc_initiate_unknown_issuer: {
    status: 400,
    who: 'user',
    audit: ['login.initiate_rejected'],
    meaning:
      'A third-party initiated login (/oidc/initiate) names an issuer (iss) that is not an enabled OpenID Connect identity provider of this organisation.',
    fix: "Admins: the initiate login URI belongs to this organisation only; check the identity provider's issuer URL here.",
  },
  oidc_initiate_bad_target: {
    status: 400,
    who: 'user',
    audit: ['login.initiate_rejected'],
    meaning:
      "A third-party initiated login names a target_link_uri that is not one of this organisation's app launch links (or its login page with a default app for the identity provider).",
    fix: "Admins: set the app's launch link (console: the app's page) as the target at the identity provider.",
  },
  oidc_initiate_not_allowed: {
    status: 403,
    who: 'user',
    audit: ['login.initiate_rejected'],
    meaning:
      'A third-party initiated login came from an OpenID Connect identity provider that is not allowed to start logins (IdP-initiated SSO is off for it).',
    fix: 'Start from the application, or allow IdP-initiated logins for the identity provider.',
  },
  oidc_email_unverified: {
    status: 403,
    who: 'user',
    saml: APP_STATUS.authnFailed,
    audit: ['login.denied', 'login.returned'],
    meaning:
      'The identity provider says the email address is not verified (email_verified: false), so it neither links nor creates an account.',
    fix: 'Verify the address at the identity provider, or ask an administrator to link the account.',
  },
} as const satisfies Record<string, ErrorEntry>;

/** Every code the broker answers with. */
export type ErrorCode = keyof typeof CATALOGUE;
/** The codes of SAML messages refused by the adapters in src/saml (SamlError). */
export type SamlErrorCode = Extract<ErrorCode, `saml_${string}`>;
/** The codes of OpenID Connect answers refused by the upstream OIDC adapter (OidcError). */
export type OidcErrorCode = Extract<ErrorCode, `oidc_${string}`>;

export const entryOf = (code: ErrorCode): ErrorEntry => CATALOGUE[code];
export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(CATALOGUE, code);

/** The SAML status an app receives when its login ends with `code`. */
export const appStatusOf = (code: string): AppStatus =>
  (isErrorCode(code) ? entryOf(code).saml : undefined) ?? APP_STATUS.authnFailed;

/** The error page's heading: the code's own, else one by status. */
export function pageTitleOf(code: string, status: number): string {
  const own = isErrorCode(code) ? entryOf(code).title : undefined;
  if (own) return own;
  return status === 404
    ? 'Page not found'
    : status === 403
      ? 'Not allowed'
      : status === 503
        ? 'Temporarily unavailable'
        : status < 500
          ? 'Something is not right'
          : 'Something went wrong';
}

/** One error type for everything the broker refuses on purpose: its status (and whether its message may be shown)
 *  come from the catalogue entry of its code; `details` travel to JSON answers. `status` overrides the entry's only where one code answers two
 *  situations (the entry's meaning says when). */
export class AppError extends Error {
  readonly status: number;
  /** what people and programs are told: `message`, or the catalogue entry's `text` (the message stays in the log) */
  readonly shownMessage: string;
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly details?: Record<string, unknown>,
    status?: number,
  ) {
    super(message);
    this.name = 'AppError';
    const entry = entryOf(code);
    this.status = status ?? entry.status ?? 500;
    this.shownMessage = entry.text ?? message;
  }
}

/** Field-level validation failure: `fields` maps a form field to the message shown next to it. */
export class ValidationError extends AppError {
  constructor(public readonly fields: Record<string, string>) {
    super(
      'validation_failed',
      Object.entries(fields)
        .map(([f, m]) => `${f}: ${m}`)
        .join('; '),
      { fields },
    );
    this.name = 'ValidationError';
  }
}
