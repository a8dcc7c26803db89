// The step rule of RFC 6238 §5.2 (once step N was accepted, no code of step N or older is) for factors stored
// without a last-used-step column: console admins (admin/admin-totp.ts), whose factor lives sealed in the Admin row.
// End users' factors keep the last used step in their row instead (store/totp-factors.ts).
//
// Through one-time-use records shared by every node: accepting step N first spends the older steps a code could
// still match (the ±1 window, a step of clock difference between nodes), then N itself; whoever spends N accepted
// it. A code of step N-1 racing on another node is accepted only if its record was spent before N's blockers were,
// that is before N was accepted, so what is accepted is always in step order.
import type { OneTimeUseStore } from '../store/one-time-use.ts';
import { stepKeptUntil } from './totp-codes.ts';

const OLDER_STEPS_SPENT = [1, 2, 3];

/** true when `step` is accepted for `subject` now: newer than any step accepted before, on any node. */
export async function acceptStepOnce(
  records: OneTimeUseStore,
  kind: string,
  subject: string,
  step: number,
  period: number,
  now: Date,
): Promise<boolean> {
  await Promise.all(
    OLDER_STEPS_SPENT.map((back) =>
      records.consume(kind, `${subject}:${step - back}`, stepKeptUntil(step - back, period), now),
    ),
  );
  return records.consume(kind, `${subject}:${step}`, stepKeptUntil(step, period), now);
}
