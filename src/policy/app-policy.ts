// Reading and changing one app's login policy (stored on the app as ordered rules), audited. Shared by the
// console, the API and the CLI so every path validates the same way and leaves the same audit trail.
import { AppError, ValidationError } from '../errors.ts';
import type { Application } from '../store/applications.ts';
import type { TenantStore } from '../store/store.ts';
import type { ChangeBy } from '../orgs/remote/app-lifecycle.ts';
import { parsePolicyRules, storedRules, type PolicyRule } from './rules.ts';
import { setTwoFactor, TWO_FACTOR_RULE_ID, twoFactorEnabled } from './two-factor-toggle.ts';

export const MAX_REMEMBER_DEVICE_DAYS = 365;

export interface AppPolicy {
  /** false when the stored rules cannot be read: logins to the app are denied until they are replaced */
  valid: boolean;
  rules: PolicyRule[];
  twoFactor: boolean;
  /** of the one-click 2FA rule (0 when off) */
  rememberDeviceDays: number;
}

export function appPolicy(app: Application): AppPolicy {
  const stored = storedRules(app.policy);
  const rules = stored === 'invalid' ? [] : stored;
  const toggle = rules.find((r) => r.id === TWO_FACTOR_RULE_ID);
  return {
    valid: stored !== 'invalid',
    rules,
    twoFactor: twoFactorEnabled(rules),
    rememberDeviceDays: toggle?.rememberDeviceDays ?? 0,
  };
}

async function persist(
  store: TenantStore,
  app: Application,
  rules: PolicyRule[],
  change: string,
  by: ChangeBy,
): Promise<AppPolicy> {
  const saved = await store.applications.update(app.id, { policy: rules });
  await store.audit.record({
    type: 'policy.updated',
    actor: by.actor,
    appId: app.id,
    at: by.at,
    details: { change, rules: rules.length, twoFactor: twoFactorEnabled(rules) },
  });
  return appPolicy(saved);
}

/** Indexes of rules that can never decide because an earlier rule without conditions matches everyone (for
 *  example a deny rule added below the one-click 2-factor rule). */
export function unreachableRules(rules: Pick<PolicyRule, 'conditions'>[]): number[] {
  const catchAll = rules.findIndex(
    (r) => !Object.values(r.conditions ?? {}).some((v) => (Array.isArray(v) ? v.length : v !== undefined)),
  );
  return catchAll < 0 ? [] : rules.map((_, i) => i).filter((i) => i > catchAll);
}

/** Replaces the rule list (order matters: the first matching rule decides). Throws ValidationError with
 *  `rules.<index>.<field>` keys. */
export async function saveAppPolicy(
  store: TenantStore,
  app: Application,
  rules: unknown,
  by: ChangeBy,
): Promise<AppPolicy> {
  // Both checks run, so the admin sees every problem at once.
  let parsed: PolicyRule[] | null = null;
  let problems: Record<string, string> = {};
  try {
    parsed = parsePolicyRules(rules);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems = err.fields;
  }
  problems = { ...(await unknownIdps(store, app, rules)), ...problems };
  if (!parsed || Object.keys(problems).length) throw new ValidationError(problems);
  return persist(store, app, parsed, 'rules', by);
}

/** A rule may only name this organisation's IdPs. Ids already in the stored rules stay acceptable even if that
 *  IdP was deleted since, so reading the rules and writing them back never fails. Reads the rules as sent
 *  (they may not have passed validation). */
async function unknownIdps(store: TenantStore, app: Application, rules: unknown): Promise<Record<string, string>> {
  const known = new Set((await store.identityProviders.list()).map((i) => i.id));
  const before = storedRules(app.policy);
  if (before !== 'invalid') for (const r of before) for (const id of r.conditions.idpIds ?? []) known.add(id);
  const problems: Record<string, string> = {};
  (Array.isArray(rules) ? rules : []).forEach((r, i) => {
    const ids: unknown = (r as { conditions?: { idpIds?: unknown } } | null)?.conditions?.idpIds;
    const unknown = (Array.isArray(ids) ? ids : []).filter((id) => typeof id === 'string' && !known.has(id));
    if (unknown.length)
      problems[`rules.${i}.conditions.idpIds`] =
        `${unknown.join(', ')} is not an identity provider of this organisation`;
  });
  return problems;
}

/** The guides' "Enable 2-Factor Authentication" switch. */
export async function setAppTwoFactor(
  store: TenantStore,
  app: Application,
  opts: { enabled: boolean; rememberDeviceDays?: number },
  by: ChangeBy,
): Promise<AppPolicy> {
  const days = opts.rememberDeviceDays ?? 0;
  if (!Number.isInteger(days) || days < 0 || days > MAX_REMEMBER_DEVICE_DAYS)
    throw new ValidationError({
      rememberDeviceDays: `must be a whole number of days from 0 to ${MAX_REMEMBER_DEVICE_DAYS}`,
    });
  const current = storedRules(app.policy);
  if (current === 'invalid')
    throw new AppError(
      'policy_invalid',
      'The stored rules of this app cannot be read; replace them with a valid rule list first.',
    );
  return persist(
    store,
    app,
    setTwoFactor(current, opts.enabled, days),
    opts.enabled ? 'two_factor_on' : 'two_factor_off',
    by,
  );
}
