// The guides' one-click "Enable 2-Factor Authentication" for an app: one rule, "everyone: require TOTP", kept first.
import type { PolicyRule } from './rules.ts';

export const TWO_FACTOR_RULE_ID = 'everyone-totp';

export const twoFactorEnabled = (rules: PolicyRule[]) =>
  rules.some((r) => r.id === TWO_FACTOR_RULE_ID && r.action === 'require_totp');

export function setTwoFactor(rules: PolicyRule[], on: boolean, rememberDeviceDays = 0): PolicyRule[] {
  const rest = rules.filter((r) => r.id !== TWO_FACTOR_RULE_ID);
  if (!on) return rest;
  // Deny rules stay in front of it, so switching 2FA on never lets in someone a rule keeps out.
  const denies = rest.filter((r) => r.action === 'deny');
  const others = rest.filter((r) => r.action !== 'deny');
  return [
    ...denies,
    {
      id: TWO_FACTOR_RULE_ID,
      name: 'Everyone: require 2-factor authentication',
      conditions: {},
      action: 'require_totp',
      rememberDeviceDays,
    },
    ...others,
  ];
}
