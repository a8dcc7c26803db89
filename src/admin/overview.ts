// What the console's overview shows as pictures: sign-ins per day for the last 30 days by outcome, sign-ins by IdP
// and by app, the share of users with an enrolled authenticator, and the most frequent error codes. Counted from the
// audit log in the database (grouped there); turned here into bar geometry that the template draws as SVG, each
// chart with its numbers as a table beside it for screen readers and for anyone who prefers figures.
import type { TenantStore } from '../store/store.ts';

const DAY_MS = 86_400_000;
export const OVERVIEW_DAYS = 30;

/** Which audit events count as which outcome of a sign-in. */
const OUTCOMES = {
  success: ['login.success'],
  refused: ['login.denied', 'login.upstream_rejected', 'user.link_refused'],
  mfaFailed: ['mfa.verify_failed', 'mfa.locked'],
} as const;
type Outcome = keyof typeof OUTCOMES;
const ALL_TYPES = Object.values(OUTCOMES).flat();
const FAILURE_TYPES = [...OUTCOMES.refused, ...OUTCOMES.mfaFailed];

export interface DayBar {
  /** YYYY-MM-DD (UTC) */
  date: string;
  counts: Record<Outcome, number>;
  /** stacked segments, bottom up, in chart units (the chart is 100 high) */
  segments: { outcome: Outcome; y: number; height: number }[];
}

export interface Overview {
  days: DayBar[];
  peak: number;
  totals: Record<Outcome, number>;
  byIdp: { name: string; n: number; width: number }[];
  byApp: { name: string; n: number; width: number }[];
  topErrors: { code: string; n: number }[];
  enrolment: { enrolled: number; users: number; percent: number };
  /** what the organisation has, for the overview's links */
  counts: { idps: number; apps: number; users: number };
}

const share = (n: number, of: number) => (of ? Math.round((n / of) * 1000) / 10 : 0);

export async function buildOverview(store: TenantStore, now: Date): Promise<Overview> {
  const today = Math.floor(now.getTime() / DAY_MS);
  const firstDay = today - OVERVIEW_DAYS + 1;
  const from = new Date(firstDay * DAY_MS);
  const to = new Date((today + 1) * DAY_MS);
  const [daily, byIdp, byApp, codes, idps, apps, enrolled, users] = await Promise.all([
    store.audit.countByDay(ALL_TYPES, from, to),
    store.audit.countBy('idpId', OUTCOMES.success, from, to),
    store.audit.countBy('appId', OUTCOMES.success, from, to),
    store.audit.countBy('code', FAILURE_TYPES, from, to, 8),
    store.identityProviders.list(),
    store.applications.list(),
    store.totp.countActive(),
    store.users.count(),
  ]);

  const outcomeOf = new Map<string, Outcome>(
    Object.entries(OUTCOMES).flatMap(([o, types]) => types.map((t) => [t, o as Outcome] as const)),
  );
  const perDay = new Map<number, Record<Outcome, number>>();
  for (let d = firstDay; d <= today; d++) perDay.set(d, { success: 0, refused: 0, mfaFailed: 0 });
  for (const row of daily) {
    const counts = perDay.get(row.day);
    const outcome = outcomeOf.get(row.type);
    if (counts && outcome) counts[outcome] += row.n;
  }
  const peak = Math.max(1, ...[...perDay.values()].map((c) => c.success + c.refused + c.mfaFailed));
  const totals: Record<Outcome, number> = { success: 0, refused: 0, mfaFailed: 0 };
  const days: DayBar[] = [...perDay.entries()].map(([day, counts]) => {
    let y = 100;
    const segments = (['success', 'refused', 'mfaFailed'] as const)
      .filter((o) => counts[o] > 0)
      .map((outcome) => {
        totals[outcome] += counts[outcome];
        const height = (counts[outcome] / peak) * 100;
        y -= height;
        return { outcome, y, height };
      });
    return { date: new Date(day * DAY_MS).toISOString().slice(0, 10), counts, segments };
  });

  const named = (rows: { key: string | null; n: number }[], names: Map<string, string>, none: string) => {
    const most = Math.max(1, ...rows.map((r) => r.n));
    return rows.map((r) => ({
      name: r.key ? (names.get(r.key) ?? '(removed)') : none,
      n: r.n,
      width: Math.round((r.n / most) * 100),
    }));
  };
  return {
    days,
    peak,
    totals,
    byIdp: named(byIdp, new Map(idps.map((i) => [i.id, i.name])), '(an existing session)'),
    byApp: named(byApp, new Map(apps.map((a) => [a.id, a.name])), '(none)'),
    topErrors: codes.filter((c) => c.key).map((c) => ({ code: c.key!, n: c.n })),
    enrolment: { enrolled, users, percent: share(enrolled, users) },
    counts: { idps: idps.length, apps: apps.length, users },
  };
}
