// The policy engine is pure: these tests feed it data and read its decision.
import t from 'tap';
import { evaluatePolicy } from '../../../src/policy/engine.ts';
import { parsePolicyRules, storedRules, type PolicyRule } from '../../../src/policy/rules.ts';
import { setTwoFactor, twoFactorEnabled } from '../../../src/policy/two-factor-toggle.ts';
import { ValidationError } from '../../../src/errors.ts';

const subject = (
  over: Partial<{ status: string; email: string; groups: string[]; idpId: string; profileGroups: string[] }> = {},
) => ({
  user: { status: over.status ?? 'active', email: over.email ?? 'ann@customer.example', groups: over.groups ?? [] },
  idpId: over.idpId ?? 'okta',
  profileGroups: over.profileGroups ?? [],
});
const rule = (
  id: string,
  action: PolicyRule['action'],
  conditions: PolicyRule['conditions'] = {},
  extra: Partial<PolicyRule> = {},
): PolicyRule => ({ id, action, conditions, ...extra });

t.test('no rules: allow (the default for a new app)', async (t) => {
  t.same(evaluatePolicy([], subject()), { action: 'allow', rule: null });
});

t.test('first match wins, in order', async (t) => {
  const rules = [
    rule('deny-contractors', 'deny', { groups: ['contractors'] }, { message: 'Contractors use the other portal.' }),
    rule('all-totp', 'require_totp'),
  ];
  t.match(evaluatePolicy(rules, subject({ profileGroups: ['contractors'] })), {
    action: 'deny',
    code: 'policy_denied',
    message: 'Contractors use the other portal.',
    rule: { index: 0, id: 'deny-contractors' },
  });
  t.match(evaluatePolicy(rules, subject()), { action: 'require_totp', rule: { index: 1, id: 'all-totp' } });
  t.match(
    evaluatePolicy([...rules].reverse(), subject({ profileGroups: ['contractors'] })),
    { action: 'require_totp' },
    'order decides',
  );
});

t.test('no rule matches: allow', async (t) => {
  t.same(evaluatePolicy([rule('r', 'deny', { idpIds: ['wso2'] })], subject()), { action: 'allow', rule: null });
});

t.test('conditions: IdP, groups (profile or directory), email domain (case-insensitive), status; AND-ed', async (t) => {
  const r = [rule('r', 'deny', { idpIds: ['okta'], groups: ['g1', 'g2'], emailDomains: ['Customer.Example'] })];
  t.equal(evaluatePolicy(r, subject({ groups: ['g2'] })).action, 'deny', 'directory group');
  t.equal(evaluatePolicy(r, subject({ profileGroups: ['g1'] })).action, 'deny', 'IdP group');
  t.equal(evaluatePolicy(r, subject({ profileGroups: ['G1'] })).action, 'allow', 'groups are case-sensitive');
  t.equal(evaluatePolicy(r, subject({ groups: ['g1'], idpId: 'wso2' })).action, 'allow', 'other IdP');
  t.equal(evaluatePolicy(r, subject({ groups: ['g1'], email: 'x@other.example' })).action, 'allow', 'other domain');
  t.equal(
    evaluatePolicy(r, subject({ groups: ['g1'], email: 'x@sub.customer.example' })).action,
    'allow',
    'domains match exactly',
  );
  t.equal(evaluatePolicy([rule('s', 'allow', { userStatus: 'active' })], subject()).action, 'allow');
});

t.test('a disabled user is denied before any rule', async (t) => {
  t.match(evaluatePolicy([rule('allow-all', 'allow')], subject({ status: 'disabled' })), {
    action: 'deny',
    code: 'user_disabled',
    rule: null,
  });
});

t.test('require_totp options', async (t) => {
  t.match(evaluatePolicy([rule('r', 'require_totp', {}, { freshFactor: true, rememberDeviceDays: 30 })], subject()), {
    action: 'require_totp',
    freshFactor: true,
    rememberDeviceDays: 30,
  });
  t.match(evaluatePolicy([rule('r', 'require_totp')], subject()), { freshFactor: false, rememberDeviceDays: 0 });
});

t.test('deny without a message gets a plain default', async (t) => {
  t.match(evaluatePolicy([rule('r', 'deny')], subject()), { message: /does not allow you/ });
});

t.test('unreadable stored rules deny, never allow', async (t) => {
  t.equal(storedRules([{ id: 'x', action: 'explode' }]), 'invalid');
  t.match(evaluatePolicy('invalid', subject()), { action: 'deny', code: 'policy_invalid' });
});

t.test('validation names the field', async (t) => {
  const err = t.throws(() =>
    parsePolicyRules([
      { id: 'a b', action: 'allow', conditions: {} },
      { id: 'ok', action: 'maybe', conditions: {} },
    ]),
  ) as ValidationError;
  t.ok(err instanceof ValidationError);
  t.ok(Object.keys(err.fields).some((k) => k.startsWith('rules.0.id')));
  t.ok(Object.keys(err.fields).some((k) => k.startsWith('rules.1.action')));
  const dup = t.throws(() => parsePolicyRules([rule('a', 'allow'), rule('a', 'deny')])) as ValidationError;
  t.match(dup.fields['rules.1.id'], /duplicate/);
  t.throws(
    () => parsePolicyRules([{ id: 'x', action: 'allow', conditions: { weird: true } }]),
    ValidationError,
    'unknown condition',
  );
  t.throws(() => parsePolicyRules([rule('x', 'require_totp', {}, { rememberDeviceDays: 9999 })]), ValidationError);
});

t.test("the guides' one-click toggle", async (t) => {
  const deny = rule('no-contractors', 'deny', { groups: ['contractors'] });
  const on = setTwoFactor([deny, rule('allow-staff', 'allow', { groups: ['staff'] })], true, 7);
  t.ok(twoFactorEnabled(on));
  t.same(
    on.map((r) => r.id),
    ['no-contractors', 'everyone-totp', 'allow-staff'],
    'deny rules stay in front',
  );
  t.equal(evaluatePolicy(on, subject({ groups: ['staff'] })).action, 'require_totp', 'everyone passes a second factor');
  t.equal(evaluatePolicy(on, subject({ groups: ['contractors'] })).action, 'deny');
  const off = setTwoFactor(on, false);
  t.notOk(twoFactorEnabled(off));
  t.same(
    off.map((r) => r.id),
    ['no-contractors', 'allow-staff'],
  );
  t.same(parsePolicyRules(on), on, 'the toggle produces valid rules');
});
