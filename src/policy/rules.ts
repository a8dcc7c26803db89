// App login policy rules: an ordered list per app, first match wins. A rule's conditions are AND-ed; each
// condition lists alternatives (any of). Rules are validated before they are stored.
import { z } from 'zod';
import { ValidationError } from '../errors.ts';

export type PolicyAction = 'allow' | 'deny' | 'require_totp';

export interface PolicyRule {
  id: string;
  /** shown to admins */
  name?: string;
  conditions: {
    idpIds?: string[];
    groups?: string[];
    emailDomains?: string[];
    userStatus?: 'active' | 'disabled';
  };
  action: PolicyAction;
  /** for deny: what the user is told */
  message?: string;
  /** for require_totp: a second factor done earlier in the broker session does not count */
  freshFactor?: boolean;
  /** for require_totp: offer "remember this device" for N days (0 or absent: off) */
  rememberDeviceDays?: number;
  /** for require_totp: which second factors count. `totp` (absent: the default) an authenticator app's code;
   *  `any` that or a passkey / security key (WebAuthn); `webauthn` a passkey or security key only (phishing-resistant) */
  secondFactor?: SecondFactorLevel;
}

export const SECOND_FACTOR_LEVELS = ['totp', 'any', 'webauthn'] as const;
export type SecondFactorLevel = (typeof SECOND_FACTOR_LEVELS)[number];

const ruleSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/),
    name: z.string().max(100).optional(),
    conditions: z
      .object({
        idpIds: z.array(z.string().min(1).max(64)).max(50).optional(),
        groups: z.array(z.string().min(1).max(256)).max(100).optional(),
        emailDomains: z
          .array(
            z
              .string()
              .min(1)
              .max(253)
              .regex(/^[a-z0-9.-]+$/i, 'a domain like example.com'),
          )
          .max(100)
          .optional(),
        userStatus: z.enum(['active', 'disabled']).optional(),
      })
      .strict()
      .default({}),
    action: z.enum(['allow', 'deny', 'require_totp']),
    message: z.string().max(500).optional(),
    freshFactor: z.boolean().optional(),
    rememberDeviceDays: z.number().int().min(0).max(365).optional(),
    secondFactor: z.enum(SECOND_FACTOR_LEVELS).optional(),
  })
  .strict();

export function parsePolicyRules(input: unknown): PolicyRule[] {
  const parsed = z.array(ruleSchema).max(100).safeParse(input);
  if (!parsed.success) {
    const fields: Record<string, string> = {};
    for (const issue of parsed.error.issues) fields[['rules', ...issue.path].join('.')] = issue.message;
    throw new ValidationError(fields);
  }
  const ids = new Set<string>();
  for (const [i, rule] of parsed.data.entries()) {
    if (ids.has(rule.id)) throw new ValidationError({ [`rules.${i}.id`]: `duplicate rule id "${rule.id}"` });
    ids.add(rule.id);
  }
  return parsed.data as PolicyRule[];
}

// Validated rule lists by the stored value they came from. Apps come from the configuration cache as frozen objects,
// so a login reuses the validation of the previous one until the app changes (a new object).
const validated = new WeakMap<object, PolicyRule[] | 'invalid'>();

/** Stored rules are re-validated on read; anything unreadable means "deny", never "allow". */
export function storedRules(value: unknown): PolicyRule[] | 'invalid' {
  const frozen = typeof value === 'object' && value !== null && Object.isFrozen(value);
  if (frozen && validated.has(value)) return validated.get(value)!;
  let rules: PolicyRule[] | 'invalid';
  try {
    rules = parsePolicyRules(value ?? []);
  } catch {
    rules = 'invalid';
  }
  if (frozen) validated.set(value, rules);
  return rules;
}
