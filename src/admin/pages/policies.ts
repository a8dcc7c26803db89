// Console section "Policies": each app's login policy. The guides' one-click "Enable 2-Factor Authentication"
// switch, and the full ordered rule list (first matching rule decides) edited as rows: add, remove, move, change.
// This file translates the forms to src/policy/app-policy.ts and back.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { findApp, type ChangeBy } from '../../orgs/remote/app-lifecycle.ts';
import {
  appPolicy,
  MAX_REMEMBER_DEVICE_DAYS,
  saveAppPolicy,
  setAppTwoFactor,
  unreachableRules,
} from '../../policy/app-policy.ts';
import type { PolicyRule } from '../../policy/rules.ts';
import type { Application } from '../../store/applications.ts';
import { checkbox, text, withFieldErrors, type FormBody } from './forms.ts';
import { adminOf } from './guard.ts';
import { adminPage } from './render.ts';
import { access } from '../roles.ts';

type AppParams = { Params: { appId: string } };

/** One rule as the form shows it: lists as comma-separated text, numbers as typed. */
interface RuleRow {
  id: string;
  name: string;
  action: string;
  idpIds: string[];
  groups: string;
  emailDomains: string;
  userStatus: string;
  message: string;
  freshFactor: boolean;
  rememberDeviceDays: string;
  secondFactor: string;
}

const ACTIONS = [
  { value: 'allow', label: 'Allow' },
  { value: 'require_totp', label: 'Require 2-factor authentication' },
  { value: 'deny', label: 'Deny' },
];
/** Which second factors a require_totp rule counts (policy/rules.ts SECOND_FACTOR_LEVELS). */
const SECOND_FACTORS = [
  { value: 'totp', label: 'Authenticator app (TOTP) only' },
  { value: 'any', label: 'Authenticator app or passkey / security key (the user chooses)' },
  { value: 'webauthn', label: 'Passkey or security key only (phishing-resistant)' },
];
const FIELD_LABELS: Record<string, string> = {
  secondFactor: 'Second factor',
  id: 'Rule ID',
  name: 'Name',
  action: 'Action',
  idpIds: 'Identity providers',
  groups: 'Groups',
  emailDomains: 'Email domains',
  userStatus: 'User status',
  message: 'Message',
  freshFactor: 'Fresh factor',
  rememberDeviceDays: 'Remember device (days)',
};

/** The policy validation speaks in types and patterns; for these fields the form says what to type instead. */
const PLAIN_MESSAGES: Record<string, string> = {
  id: 'use 1 to 64 letters, digits, - or _',
  rememberDeviceDays: `must be a whole number of days from 0 to ${MAX_REMEMBER_DEVICE_DAYS}`,
  action: 'choose allow, deny or require 2-factor authentication',
  userStatus: 'choose any, active or disabled',
};
const plain = (field: string, message: string) =>
  PLAIN_MESSAGES[field] && /^(Invalid|Too)/.test(message) ? PLAIN_MESSAGES[field] : message;

const list = (value: string) =>
  value
    .split(/[,\n]/)
    .map((v) => v.trim())
    .filter(Boolean);
/** Checkbox groups arrive as one string, several strings, or not at all. */
const values = (body: FormBody, name: string): string[] => {
  const v = body[name];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x !== '');
};

function ruleToRow(rule: PolicyRule): RuleRow {
  return {
    id: rule.id,
    name: rule.name ?? '',
    action: rule.action,
    idpIds: rule.conditions.idpIds ?? [],
    groups: (rule.conditions.groups ?? []).join(', '),
    emailDomains: (rule.conditions.emailDomains ?? []).join(', '),
    userStatus: rule.conditions.userStatus ?? '',
    message: rule.message ?? '',
    freshFactor: !!rule.freshFactor,
    rememberDeviceDays: rule.rememberDeviceDays ? String(rule.rememberDeviceDays) : '',
    secondFactor: rule.secondFactor ?? 'totp',
  };
}

function rowFromForm(body: FormBody, prefix: string): RuleRow {
  return {
    id: text(body, `${prefix}.id`),
    name: text(body, `${prefix}.name`),
    action: text(body, `${prefix}.action`),
    idpIds: values(body, `${prefix}.idpIds`),
    groups: text(body, `${prefix}.groups`),
    emailDomains: text(body, `${prefix}.emailDomains`),
    userStatus: text(body, `${prefix}.userStatus`),
    message: text(body, `${prefix}.message`),
    freshFactor: checkbox(body, `${prefix}.freshFactor`),
    rememberDeviceDays: text(body, `${prefix}.rememberDeviceDays`),
    secondFactor: text(body, `${prefix}.secondFactor`),
  };
}

/** The rows of the rule-list form, in the order shown (rules.0.*, rules.1.*, …). */
function rowsFromForm(body: FormBody): RuleRow[] {
  const indexes = Object.keys(body)
    .map((k) => /^rules\.(\d+)\.id$/.exec(k)?.[1])
    .filter((i): i is string => i !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  return indexes.map((i) => rowFromForm(body, `rules.${i}`));
}

/** A row as the rule the engine reads; empty inputs are left out rather than stored as empty values. The policy
 *  validation (parsePolicyRules) judges the result. */
function rowToRule(row: RuleRow): Record<string, unknown> {
  const conditions: Record<string, unknown> = {};
  if (row.idpIds.length) conditions.idpIds = row.idpIds;
  if (list(row.groups).length) conditions.groups = list(row.groups);
  if (list(row.emailDomains).length) conditions.emailDomains = list(row.emailDomains);
  if (row.userStatus) conditions.userStatus = row.userStatus;
  const days = row.rememberDeviceDays;
  return {
    id: row.id,
    ...(row.name && { name: row.name }),
    conditions,
    action: row.action,
    ...(row.message && { message: row.message }),
    ...(row.freshFactor && { freshFactor: true }),
    // Whole numbers go through as numbers; anything else as typed, so the validation names the field.
    ...(days && { rememberDeviceDays: /^-?\d+$/.test(days) ? Number(days) : days }),
    // TOTP is the default level: stored only when another is chosen, so existing rules read the same.
    ...(row.action === 'require_totp' &&
      row.secondFactor &&
      row.secondFactor !== 'totp' && { secondFactor: row.secondFactor }),
  };
}

/** A new rule without an id gets one the admin does not have to invent. */
function newRuleId(row: RuleRow, taken: Set<string>): string {
  const base =
    row.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'rule';
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  return id;
}

/** `rules.<i>.<field>` (conditions flattened) → errors per row and field; anything else is about the whole list. */
function rowErrors(fields: Record<string, string>): {
  rows: Record<number, Record<string, string>>;
  general: string[];
} {
  const rows: Record<number, Record<string, string>> = {};
  const general: string[] = [];
  for (const [key, message] of Object.entries(fields)) {
    const m = /^rules\.(\d+)(?:\.(?:conditions\.)?([A-Za-z]+))?/.exec(key);
    if (!m) {
      general.push(message);
      continue;
    }
    const field = m[2] && m[2] !== 'conditions' ? m[2] : '_row';
    const row = (rows[Number(m[1])] ??= {});
    const text_ = field === '_row' ? message : `${FIELD_LABELS[field] ?? field}: ${plain(field, message)}`;
    row[field] = row[field] ? `${row[field]} ${text_}` : text_;
  }
  return { rows, general };
}

/** Reorders or removes a row as the clicked button asks (`up:2`, `down:0`, `remove:1`); `save` keeps the order. */
function applyOp(rows: RuleRow[], op: string): RuleRow[] {
  const m = /^(up|down|remove):(\d+)$/.exec(op);
  if (!m) return rows;
  const i = Number(m[2]);
  const out = [...rows];
  if (i >= out.length) return out;
  if (m[1] === 'remove') out.splice(i, 1);
  else {
    const j = m[1] === 'up' ? i - 1 : i + 1;
    if (j >= 0 && j < out.length) [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const emptyRow = (): RuleRow => ({
  id: '',
  name: '',
  action: 'require_totp',
  idpIds: [],
  groups: '',
  emailDomains: '',
  userStatus: '',
  message: '',
  freshFactor: false,
  rememberDeviceDays: '',
  secondFactor: 'totp',
});

export async function policyPages(app: FastifyInstance, { ctx }: { ctx: AppContext }) {
  const changeBy = (request: FastifyRequest): ChangeBy => ({
    actor: adminOf(request).session.admin.email,
    at: ctx.clock.now(),
  });

  interface Draft {
    rows?: RuleRow[];
    rowErrors?: Record<number, Record<string, string>>;
    generalErrors?: string[];
    newRule?: RuleRow;
    newRuleErrors?: Record<string, string>;
    twoFactor?: { enabled: boolean; rememberDeviceDays: string };
    twoFactorErrors?: Record<string, string>;
  }

  const policyPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    target: Application,
    draft: Draft = {},
    status = 200,
  ) => {
    const { tenant } = adminOf(request);
    const policy = appPolicy(target);
    const idps = (await tenant.store.identityProviders.list()).map((i) => ({ id: i.id, name: i.name }));
    const rows = draft.rows ?? policy.rules.map(ruleToRow);
    // Conditions may name an IdP deleted since: show it (ticked) so it can be seen and removed.
    const known = new Set(idps.map((i) => i.id));
    const missing = [...new Set(rows.flatMap((r) => r.idpIds).filter((id) => !known.has(id)))].map((id) => ({
      id,
      name: `Deleted identity provider (${id})`,
    }));
    return adminPage(
      request,
      reply,
      'admin/policies/edit',
      'policies',
      {
        title: `Login policy: ${target.name}`,
        app: { id: target.id, name: target.name, enabled: target.enabled },
        valid: policy.valid,
        twoFactorOn: policy.twoFactor,
        twoFactor: draft.twoFactor ?? {
          enabled: policy.twoFactor,
          rememberDeviceDays: String(policy.rememberDeviceDays),
        },
        twoFactorErrors: draft.twoFactorErrors ?? {},
        maxDays: MAX_REMEMBER_DEVICE_DAYS,
        rows,
        rowErrors: draft.rowErrors ?? {},
        generalErrors: draft.generalErrors ?? [],
        unreachable: unreachableRules(rows.map(rowToRule) as { conditions: PolicyRule['conditions'] }[]),
        newRule: draft.newRule ?? emptyRow(),
        newRuleErrors: draft.newRuleErrors ?? {},
        idps: [...idps, ...missing],
        actions: ACTIONS,
        secondFactors: SECOND_FACTORS,
      },
      status,
    );
  };

  app.get('/admin/policies', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const apps = (await tenant.store.applications.list()).map((a) => {
      const p = appPolicy(a);
      const unreachable = unreachableRules(p.rules);
      return {
        id: a.id,
        name: a.name,
        enabled: a.enabled,
        valid: p.valid,
        twoFactor: p.twoFactor,
        rememberDeviceDays: p.rememberDeviceDays,
        rules: p.rules.map((r, i) => ({
          label: r.name || r.id,
          action: r.action,
          unreachable: unreachable.includes(i),
        })),
      };
    });
    return adminPage(request, reply, 'admin/policies/list', 'policies', { title: 'Policies', apps });
  });

  app.get<AppParams>('/admin/policies/:appId', access('viewer'), async (request, reply) => {
    const { tenant } = adminOf(request);
    return policyPage(request, reply, await findApp(tenant.store, request.params.appId));
  });

  // "Enable 2-Factor Authentication (MFA)": one rule for everyone, kept behind any deny rules.
  app.post<AppParams>('/admin/policies/:appId/two-factor', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const target = await findApp(tenant.store, request.params.appId);
    const body = request.body as FormBody;
    const form = { enabled: checkbox(body, 'enabled'), rememberDeviceDays: text(body, 'rememberDeviceDays') };
    const days =
      form.rememberDeviceDays === ''
        ? 0
        : /^\d+$/.test(form.rememberDeviceDays)
          ? Number(form.rememberDeviceDays)
          : NaN;
    const saved = await withFieldErrors(() =>
      setAppTwoFactor(tenant.store, target, { enabled: form.enabled, rememberDeviceDays: days }, changeBy(request)),
    );
    if (!saved.ok)
      return policyPage(
        request,
        reply,
        target,
        {
          twoFactor: form,
          twoFactorErrors: {
            rememberDeviceDays: `Remember this device: ${saved.errors.rememberDeviceDays ?? Object.values(saved.errors).join(' ')}`,
          },
        },
        400,
      );
    return reply.redirect(
      `/admin/policies/${target.id}?done=${form.enabled ? 'two-factor-on' : 'two-factor-off'}`,
      303,
    );
  });

  // The whole rule list at once; the clicked button says whether to just save or also move/remove a row.
  app.post<AppParams>('/admin/policies/:appId/rules', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const target = await findApp(tenant.store, request.params.appId);
    const body = request.body as FormBody;
    const rows = applyOp(rowsFromForm(body), text(body, 'op'));
    const saved = await withFieldErrors(() =>
      saveAppPolicy(tenant.store, target, rows.map(rowToRule), changeBy(request)),
    );
    if (!saved.ok) {
      const errors = rowErrors(saved.errors);
      return policyPage(request, reply, target, { rows, rowErrors: errors.rows, generalErrors: errors.general }, 400);
    }
    return reply.redirect(`/admin/policies/${target.id}?done=saved`, 303);
  });

  // A new rule, added at the end of the stored list (move it up afterwards: the first match decides).
  app.post<AppParams>('/admin/policies/:appId/rules/add', access('admin'), async (request, reply) => {
    const { tenant } = adminOf(request);
    const target = await findApp(tenant.store, request.params.appId);
    const current = appPolicy(target).rules;
    const row = rowFromForm(request.body as FormBody, 'new');
    const rule = { ...row, id: row.id || newRuleId(row, new Set(current.map((r) => r.id))) };
    const saved = await withFieldErrors(() =>
      saveAppPolicy(tenant.store, target, [...current, rowToRule(rule)], changeBy(request)),
    );
    if (!saved.ok) {
      const errors = rowErrors(saved.errors);
      const mine = errors.rows[current.length] ?? {};
      return policyPage(
        request,
        reply,
        target,
        { newRule: row, newRuleErrors: mine, generalErrors: errors.general },
        400,
      );
    }
    return reply.redirect(`/admin/policies/${target.id}?done=rule-added`, 303);
  });
}
