// The account page's HTTP edge (/account on the organisation's subdomain): reads the broker-session cookie and the
// forms, calls the account service (service.ts), and answers with a page or a redirect (POST-redirect-GET, so a
// reload never repeats a change). Without a session, /account starts a sign-in through the organisation's IdP that
// ends back here (broker/flow/account-login.ts). The session cookie is SameSite=Lax, so another site cannot post
// these forms with it; posts that say they come from another origin are refused as well.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { keepForOnce, takeOnce } from '../admin/pages/shown-once.ts';
import { startAccountLogin } from '../broker/flow/account-login.ts';
import { ACCOUNT_PATH } from '../broker/flow/complete.ts';
import { SESSION_COOKIE, cookieOptions } from '../broker/flow/browser.ts';
import { browserTokenOf, render, str } from '../broker/http/render.ts';
import { requireTenant, type Tenant } from '../plugins/tenant.ts';
import { page } from '../plugins/view.ts';
import { optionsForPage, parsePasskeyAnswer } from '../mfa/webauthn-service.ts';
import {
  accountOverview,
  addPasskey,
  checkSecondFactor,
  checkWithPasskey,
  confirmNewAuthenticator,
  findAccount,
  newPasskeyOptions,
  offerNewAuthenticator,
  passkeyCheckOptions,
  regenerateRecoveryCodes,
  removePasskey,
  renamePasskey,
  revokeDevice,
  sealChallenge,
  FRESH_CHECK_SECONDS,
  type Account,
} from './service.ts';

/** The new authenticator key being set up, sealed (service.ts), kept by the browser until a code confirms it. */
const NEW_KEY_COOKIE = 'broker_account_new_key';
const NEW_KEY_SECONDS = 900;
const AUTHENTICATOR_PATH = `${ACCOUNT_PATH}/authenticator`;
const CODES_PATH = `${ACCOUNT_PATH}/recovery-codes`;
const PASSKEYS_PATH = `${ACCOUNT_PATH}/passkeys`;
/** The challenge of the passkey ceremony the page shows (service.ts seals it for this session). */
const CHALLENGE_COOKIE = 'broker_account_passkey';
const CHALLENGE_SECONDS = 300;

/** What a finished change says on the account page after its redirect (`?done=`). */
const DONE: Record<string, string> = {
  checked: `Confirmed. For the next ${FRESH_CHECK_SECONDS / 60} minutes you can change your authenticator and recovery codes.`,
  authenticator: 'Your new authenticator app is set up. Codes from the old one no longer work.',
  device: 'That device will ask for your second factor again at the next sign-in.',
  'passkey-added': 'Your new passkey is set up.',
  'passkey-renamed': 'The passkey was renamed.',
  'passkey-removed': 'The passkey was removed: it no longer signs in.',
};

type Form = { Body: Record<string, unknown> | undefined };

export async function accountRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const accountOf = (request: FastifyRequest) =>
    findAccount(ctx, requireTenant(request), request.cookies[SESSION_COOKIE]);

  // A form posted from another origin is refused before anything is read, also from another organisation's
  // subdomain (same-site, so the Lax cookie alone would not stop it). Browsers say where a form came from in
  // Sec-Fetch-Site; older ones only in Origin, which our pages' no-referrer policy turns into "null" (unknown, left to
  // the cookie). The host compared is the request's own: the organisation was resolved from it.
  const sameOrigin = (request: FastifyRequest) => {
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    let foreign = site !== undefined && site !== 'same-origin';
    if (site === undefined && origin !== undefined && origin !== 'null') {
      try {
        foreign = new URL(origin).host !== request.headers.host;
      } catch {
        foreign = true;
      }
    }
    if (foreign) throw new AppError('cross_origin_form', 'This form was sent from another site.');
  };

  /** The account of a form's request; none (signed out meanwhile) goes back to /account, which signs in again. */
  async function forPost(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ tenant: Tenant; account: Account } | null> {
    const tenant = requireTenant(request);
    sameOrigin(request);
    const account = await accountOf(request);
    if (!account) {
      await reply.redirect(ACCOUNT_PATH, 303);
      return null;
    }
    return { tenant, account };
  }

  const keepChallenge = (
    reply: FastifyReply,
    tenant: Tenant,
    account: Account,
    made: { challenge: Parameters<typeof sealChallenge>[3] },
  ) =>
    reply.setCookie(CHALLENGE_COOKIE, sealChallenge(ctx, tenant, account, made.challenge), {
      ...cookieOptions(ctx.config, CHALLENGE_SECONDS),
      path: ACCOUNT_PATH,
    });

  async function accountPage(
    request: FastifyRequest,
    reply: FastifyReply,
    tenant: Tenant,
    account: Account,
    shown: { done?: string; error?: AppError },
  ) {
    const overview = await accountOverview(ctx, tenant, account);
    // Not checked yet and the user has passkeys: the check can be made with one (a new challenge for this page).
    const check = overview.checked ? null : await passkeyCheckOptions(ctx, tenant, account);
    if (check) keepChallenge(reply, tenant, account, check);
    return page(
      request,
      reply,
      'account/index',
      {
        title: 'Your account',
        wide: true,
        ...overview,
        freshMinutes: FRESH_CHECK_SECONDS / 60,
        passkey: check && {
          mode: 'authenticate',
          optionsJson: optionsForPage(check.options),
          action: `${ACCOUNT_PATH}/check`,
          button: 'Confirm with your passkey',
        },
        done: shown.done ? (DONE[shown.done] ?? null) : null,
        error: shown.error?.message ?? null,
        errorCode: shown.error?.code ?? null,
      },
      shown.error?.status === 423 ? 423 : shown.error ? 400 : 200,
    );
  }

  app.get<{ Querystring: { done?: string; idp?: string } }>(ACCOUNT_PATH, async (request, reply) => {
    const tenant = requireTenant(request);
    const account = await accountOf(request);
    if (!account)
      return render(
        ctx,
        request,
        reply,
        await startAccountLogin(ctx, tenant, { browserToken: browserTokenOf(request), idp: str(request.query.idp) }),
      );
    return accountPage(request, reply, tenant, account, { done: str(request.query.done) });
  });

  // The fresh check: a code from the authenticator app (or a recovery code).
  app.post<Form>(`${ACCOUNT_PATH}/check`, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    try {
      const passkey = str(request.body?.passkey);
      if (passkey !== undefined)
        await checkWithPasskey(
          ctx,
          found.tenant,
          found.account,
          request.cookies[CHALLENGE_COOKIE],
          parsePasskeyAnswer(passkey),
        );
      else await checkSecondFactor(ctx, found.tenant, found.account, str(request.body?.code) ?? '');
    } catch (err) {
      if (err instanceof AppError && err.status < 500)
        return accountPage(request, reply, found.tenant, found.account, { error: err });
      throw err;
    }
    return reply.redirect(`${ACCOUNT_PATH}?done=checked`, 303);
  });

  // A new authenticator app: the key to scan (the same one on every reload), then a code from it.
  app.get(AUTHENTICATOR_PATH, async (request, reply) => {
    const tenant = requireTenant(request);
    const account = await accountOf(request);
    if (!account) return reply.redirect(ACCOUNT_PATH, 303);
    return authenticatorPage(request, reply, tenant, account, null);
  });

  async function authenticatorPage(
    request: FastifyRequest,
    reply: FastifyReply,
    tenant: Tenant,
    account: Account,
    error: AppError | null,
  ) {
    let offered;
    try {
      offered = await offerNewAuthenticator(ctx, tenant, account, request.cookies[NEW_KEY_COOKIE]);
    } catch (err) {
      if (err instanceof AppError && err.code === 'account_check_needed')
        return accountPage(request, reply, tenant, account, { error: err });
      throw err;
    }
    reply.setCookie(NEW_KEY_COOKIE, offered.sealed, {
      ...cookieOptions(ctx.config, NEW_KEY_SECONDS),
      path: ACCOUNT_PATH,
    });
    return page(
      request,
      reply,
      'account/authenticator',
      {
        title: 'Set up a new authenticator app',
        qr: offered.qrDataUrl,
        key: offered.secretBase32.match(/.{1,4}/g)!.join(' '),
        digits: offered.digits,
        error: error?.message ?? null,
      },
      error ? (error.status === 423 ? 423 : 400) : 200,
    );
  }

  app.post<Form>(AUTHENTICATOR_PATH, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    const { tenant, account } = found;
    let codes: string[] | null;
    try {
      codes = await confirmNewAuthenticator(
        ctx,
        tenant,
        account,
        request.cookies[NEW_KEY_COOKIE],
        str(request.body?.code) ?? '',
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'account_check_needed')
        return accountPage(request, reply, tenant, account, { error: err });
      if (err instanceof AppError && err.status < 500) return authenticatorPage(request, reply, tenant, account, err);
      throw err;
    }
    reply.clearCookie(NEW_KEY_COOKIE, { ...cookieOptions(ctx.config), path: ACCOUNT_PATH });
    if (!codes) return reply.redirect(`${ACCOUNT_PATH}?done=authenticator`, 303);
    keepCodes(reply, tenant, account, codes);
    return reply.redirect(CODES_PATH, 303);
  });

  // Recovery codes, shown once after a POST-redirect-GET (admin/pages/shown-once.ts): a reload shows them no more.
  const codesAt = (tenant: Tenant, account: Account) => ({
    path: CODES_PATH,
    kind: 'recovery-codes',
    orgId: tenant.org.id,
    adminSessionId: account.session.id,
  });
  const keepCodes = (reply: FastifyReply, tenant: Tenant, account: Account, codes: string[]) =>
    keepForOnce(ctx, reply, codesAt(tenant, account), { id: account.user.id, secret: codes.join('\n') });

  app.post<Form>(CODES_PATH, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    let codes: string[];
    try {
      codes = await regenerateRecoveryCodes(ctx, found.tenant, found.account);
    } catch (err) {
      if (err instanceof AppError && err.status < 500)
        return accountPage(request, reply, found.tenant, found.account, { error: err });
      throw err;
    }
    keepCodes(reply, found.tenant, found.account, codes);
    return reply.redirect(CODES_PATH, 303);
  });

  app.get(CODES_PATH, async (request, reply) => {
    const tenant = requireTenant(request);
    const account = await accountOf(request);
    if (!account) return reply.redirect(ACCOUNT_PATH, 303);
    const kept = takeOnce(ctx, request, reply, codesAt(tenant, account), account.user.id);
    return page(request, reply, 'account/recovery-codes', {
      title: 'Your recovery codes',
      codes: kept ? kept.split('\n') : null,
      orgName: tenant.org.name,
    });
  });

  // Passkeys: add one (its own page: the ceremony and a name), rename, remove; each after a fresh check.
  async function newPasskeyPage(
    request: FastifyRequest,
    reply: FastifyReply,
    tenant: Tenant,
    account: Account,
    error: AppError | null,
  ) {
    let made;
    try {
      made = await newPasskeyOptions(ctx, tenant, account);
    } catch (err) {
      if (err instanceof AppError && err.code === 'account_check_needed')
        return accountPage(request, reply, tenant, account, { error: err });
      throw err;
    }
    keepChallenge(reply, tenant, account, made);
    return page(
      request,
      reply,
      'account/passkey-new',
      {
        title: 'Add a passkey or security key',
        error: error?.message ?? null,
        passkey: {
          mode: 'register',
          optionsJson: optionsForPage(made.options),
          action: PASSKEYS_PATH,
          button: 'Add the passkey',
        },
      },
      error ? 400 : 200,
    );
  }

  app.get(`${PASSKEYS_PATH}/new`, async (request, reply) => {
    const account = await accountOf(request);
    if (!account) return reply.redirect(ACCOUNT_PATH, 303);
    return newPasskeyPage(request, reply, requireTenant(request), account, null);
  });

  app.post<Form>(PASSKEYS_PATH, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    let codes: string[] | null;
    try {
      codes = await addPasskey(
        ctx,
        found.tenant,
        found.account,
        request.cookies[CHALLENGE_COOKIE],
        parsePasskeyAnswer(str(request.body?.passkey)),
        request.body?.passkeyName,
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'account_check_needed')
        return accountPage(request, reply, found.tenant, found.account, { error: err });
      if (err instanceof AppError && err.status < 500)
        return newPasskeyPage(request, reply, found.tenant, found.account, err);
      throw err;
    }
    reply.clearCookie(CHALLENGE_COOKIE, { ...cookieOptions(ctx.config), path: ACCOUNT_PATH });
    if (!codes) return reply.redirect(`${ACCOUNT_PATH}?done=passkey-added`, 303);
    // A first second factor: its recovery codes, shown once (as after a first authenticator app).
    keepCodes(reply, found.tenant, found.account, codes);
    return reply.redirect(CODES_PATH, 303);
  });

  app.post<Form & { Params: { id: string } }>(`${PASSKEYS_PATH}/:id/rename`, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    try {
      await renamePasskey(ctx, found.tenant, found.account, request.params.id, request.body?.name);
    } catch (err) {
      if (err instanceof AppError && err.status < 500 && err.status !== 404)
        return accountPage(request, reply, found.tenant, found.account, { error: err });
      throw err;
    }
    return reply.redirect(`${ACCOUNT_PATH}?done=passkey-renamed`, 303);
  });

  app.post<Form & { Params: { id: string } }>(`${PASSKEYS_PATH}/:id/remove`, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    try {
      await removePasskey(ctx, found.tenant, found.account, request.params.id);
    } catch (err) {
      if (err instanceof AppError && err.code === 'account_check_needed')
        return accountPage(request, reply, found.tenant, found.account, { error: err });
      throw err;
    }
    return reply.redirect(`${ACCOUNT_PATH}?done=passkey-removed`, 303);
  });

  app.post<Form & { Params: { id: string } }>(`${ACCOUNT_PATH}/devices/:id/revoke`, async (request, reply) => {
    const found = await forPost(request, reply);
    if (!found) return reply;
    await revokeDevice(ctx, found.tenant, found.account, request.params.id);
    return reply.redirect(`${ACCOUNT_PATH}?done=device`, 303);
  });
}
