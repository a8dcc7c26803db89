// Stage `received` → `upstream_sent`: the IdP chooser, with home-realm discovery: a typed email goes to the IdP
// that owns its domain (select-idp.ts). Only this organisation's enabled IdPs can be chosen, whatever the form says.
import type { AppContext } from '../../context.ts';
import { AppError } from '../../errors.ts';
import type { Tenant } from '../../plugins/tenant.ts';
import type { LoginFlow } from '../../store/login-flows.ts';
import { failFlow, failureOf, returnOffer } from './fail.ts';
import { loadOwnedFlow, targetNameOf } from './load.ts';
import { page, runHop, type Answer, type Hop, type Outcome } from './outcome.ts';
import { discover, enabledIdps, loginHint } from './select-idp.ts';
import { STAGE, type FlowData } from './stages.ts';
import { sendUpstream, toIdp } from './to-upstream.ts';

export interface ChooserVisit {
  flowId: string;
  browserToken: string | undefined;
}

async function chooserPage(
  tenant: Tenant,
  hop: Hop,
  flow: LoginFlow<FlowData>,
  email: string,
  note: string | null,
): Promise<Answer> {
  const targetName = await targetNameOf(tenant, flow);
  const choices = await idpsOrFail(tenant, hop, flow, targetName);
  // The chooser's form posts here, and the answer redirects (or auto-POSTs) to the chosen IdP: CSP's form-action
  // also governs that redirect, so every listed IdP's SSO origin is allowed on this page.
  return page(
    'chooser',
    {
      title: 'Choose how to sign in',
      flowId: flow.id,
      appName: targetName,
      email,
      note,
      choices: choices.map((i) => ({ id: i.id, name: i.name })),
    },
    undefined,
    choices.map((i) => i.ssoUrl),
  );
}

/** The organisation's enabled IdPs; none left (all disabled while the flow waited) fails the flow (NoAvailableIDP). */
async function idpsOrFail(tenant: Tenant, hop: Hop, flow: LoginFlow<FlowData>, appName: string) {
  try {
    return await enabledIdps(tenant);
  } catch (err) {
    if (err instanceof AppError && err.code === 'no_identity_provider') {
      const failed = await failFlow(tenant, flow, failureOf(err.code, err.message));
      if (failed) hop.offer(returnOffer(failed, appName));
    }
    throw err;
  }
}

/** GET /flow/:id/idp: the chooser, prefilled with the login hint. */
export function showChooser(ctx: AppContext, tenant: Tenant, visit: ChooserVisit): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await loadOwnedFlow(ctx, tenant, hop, visit.browserToken, visit.flowId, [STAGE.received]);
    return chooserPage(tenant, hop, flow, flow.data.loginHint ?? '', null);
  });
}

/** POST /flow/:id/idp: an IdP picked from the list (`idpId`), or an address typed (`email`). */
export function chooseIdp(
  ctx: AppContext,
  tenant: Tenant,
  visit: ChooserVisit,
  form: { idpId?: string; email?: string },
): Promise<Outcome> {
  return runHop(async (hop) => {
    const flow = await loadOwnedFlow(ctx, tenant, hop, visit.browserToken, visit.flowId, [STAGE.received]);
    let idp;
    let typed: string | undefined;
    if (!form.idpId && form.email !== undefined) {
      // Only this organisation's enabled IdPs are candidates; the address only picks one of them.
      const found = discover(await idpsOrFail(tenant, hop, flow, await targetNameOf(tenant, flow)), form.email);
      if (!('idp' in found)) return chooserPage(tenant, hop, flow, found.shown, found.note);
      idp = found.idp;
      typed = loginHint(form.email);
    } else {
      // Only this organisation's enabled IdPs can be chosen, whatever the form says.
      idp = form.idpId ? await tenant.store.identityProviders.findById(form.idpId) : null;
      if (!idp || !idp.enabled) throw new AppError('unknown_idp', 'Choose one of the listed sign-in options.');
    }
    return toIdp(await sendUpstream(ctx, tenant, flow, idp, typed), idp.name);
  });
}
