import { iso, linesListedMax, minor, whole } from './money-inputs.js';
import type { CutBreak, EodStep } from './step.js';

/**
 * Step 11: the day's admin balance adjustments (posted as they were requested, each one balanced
 * journal against house:adjustments) with their actors and reasons, totals per currency, and a
 * check that each adjustment's journal is in the ledger and sums to zero (else a break).
 */
export const adminAdjustmentsStep: EodStep = {
  name: 'admin_adjustments',
  skipReason: () => null,
  async run(context) {
    const start = iso(context.window.startMs);
    const end = iso(context.window.endMs);
    const rows = await context.pool.query<{ entry_id: string; idempotency_key: string; user_id: string; currency: string; amount: string; reason: string; actor_id: string; account_state: string; created_at: Date; journal_sum: string | null; legs: string }>(
      `SELECT a.entry_id, a.idempotency_key, a.user_id, a.currency, a.amount::text, a.reason, a.actor_id, a.account_state, a.created_at,
              (SELECT sum(l.amount)::text FROM ledger_entries l WHERE l.reference_type = 'admin_adjustment' AND l.reference_id = a.idempotency_key) AS journal_sum,
              (SELECT count(*)::text FROM ledger_entries l WHERE l.reference_type = 'admin_adjustment' AND l.reference_id = a.idempotency_key) AS legs
         FROM admin_adjustments a WHERE a.created_at >= $1 AND a.created_at < $2 ORDER BY a.created_at, a.entry_id`, [start, end]);
    const totals = new Map<string, { credit: bigint; debit: bigint }>();
    const breaks: CutBreak[] = [];
    for (const r of rows.rows) {
      const amount = minor(r.amount);
      const t = totals.get(r.currency) ?? { credit: 0n, debit: 0n };
      if (amount > 0n) t.credit += amount;
      else t.debit += -amount;
      totals.set(r.currency, t);
      const sum = r.journal_sum === null ? null : minor(r.journal_sum);
      if (sum !== 0n || r.legs !== '2') {
        breaks.push({ boundary: 'admin_adjustments', kind: 'journal', userId: r.user_id, currency: r.currency, left: whole(amount), right: sum === null ? '0' : whole(sum), delta: sum === null ? whole(amount) : whole(sum), detail: `adjustment ${r.entry_id}: ${r.legs} ledger legs summing to ${sum === null ? 'nothing' : whole(sum)}` });
      }
    }
    return {
      figures: {
        adjustments: rows.rows.length,
        byCurrency: [...totals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, t]) => ({ currency, credited: whole(t.credit), debited: whole(t.debit), net: whole(t.credit - t.debit) })),
        lines: rows.rows.slice(0, linesListedMax).map((r) => ({
          entryId: r.entry_id, userId: r.user_id, currency: r.currency, amount: whole(minor(r.amount)), reason: r.reason, actorId: r.actor_id, accountState: r.account_state, at: r.created_at.toISOString(),
        })),
        linesOmitted: Math.max(0, rows.rows.length - linesListedMax),
      },
      breaks,
    };
  },
};
