// The policy engine: pure (profile + user + rules in, decision out), no I/O, no clock.
import type { PolicyRule, SecondFactorLevel } from './rules.ts';

export interface PolicySubject {
  user: { status: string; email: string; groups: string[] };
  /** the upstream IdP of this login */
  idpId: string;
  /** groups the IdP sent in this login (combined with the directory's) */
  profileGroups: string[];
}

export type PolicyDecision =
  | { action: 'allow'; rule: MatchedRule | null }
  | {
      action: 'deny';
      code: 'user_disabled' | 'policy_denied' | 'policy_invalid';
      message: string;
      rule: MatchedRule | null;
    }
  | {
      action: 'require_totp';
      freshFactor: boolean;
      rememberDeviceDays: number;
      secondFactor: SecondFactorLevel;
      rule: MatchedRule;
    };

export interface MatchedRule {
  index: number;
  id: string;
}

const DEFAULT_DENY = 'Your organisation does not allow you to sign in to this application.';

function matches(rule: PolicyRule, s: PolicySubject): boolean {
  const c = rule.conditions;
  if (c.userStatus && s.user.status !== c.userStatus) return false;
  if (c.idpIds?.length && !c.idpIds.includes(s.idpId)) return false;
  if (c.emailDomains?.length) {
    const domain = s.user.email.slice(s.user.email.lastIndexOf('@') + 1).toLowerCase();
    if (!c.emailDomains.some((d) => d.toLowerCase() === domain)) return false;
  }
  if (c.groups?.length) {
    const have = new Set([...s.user.groups, ...s.profileGroups]);
    if (!c.groups.some((g) => have.has(g))) return false;
  }
  return true;
}

export function evaluatePolicy(rules: PolicyRule[] | 'invalid', subject: PolicySubject): PolicyDecision {
  // A disabled user never gets in, whatever the rules say.
  if (subject.user.status !== 'active')
    return {
      action: 'deny',
      code: 'user_disabled',
      message: 'Your account is disabled. Ask your administrator.',
      rule: null,
    };
  if (rules === 'invalid')
    return {
      action: 'deny',
      code: 'policy_invalid',
      message: "This application's sign-in policy cannot be read. Ask your administrator.",
      rule: null,
    };
  for (const [index, rule] of rules.entries()) {
    if (!matches(rule, subject)) continue;
    const matched = { index, id: rule.id };
    if (rule.action === 'deny')
      return { action: 'deny', code: 'policy_denied', message: rule.message || DEFAULT_DENY, rule: matched };
    if (rule.action === 'require_totp')
      return {
        action: 'require_totp',
        freshFactor: !!rule.freshFactor,
        rememberDeviceDays: rule.rememberDeviceDays ?? 0,
        secondFactor: rule.secondFactor ?? 'totp',
        rule: matched,
      };
    return { action: 'allow', rule: matched };
  }
  return { action: 'allow', rule: null };
}
