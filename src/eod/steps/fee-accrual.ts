import type { PoolClient } from '../../db/pool.js';
import { crossCheckFees, type FeeTotal } from '../money/fees.js';
import { fillsStored, iso, linesListedMax, minor, postingInstant, whole } from './money-inputs.js';
import type { CutBreak, EodStep, EodStepContext } from './step.js';

export const houseFeesUnaccrued = 'house:fees_unaccrued';
export const houseFeeRevenue = 'house:fee_revenue';
const rowsPerInsertMax = 5_000;

/** A failure injected after this many journals of the write (tests of a half-done accrual). */
export interface FeeAccrualOptions {
  failAfterJournals?: number;
}

/** The day's movement of house:fees_unaccrued per currency, the close's own accruals left out. */
async function feeAccountMovement(context: EodStepContext): Promise<Map<string, bigint>> {
  const result = await context.pool.query<{ currency: string; total: string }>(
    `SELECT currency, sum(amount)::text AS total FROM ledger_entries
      WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 AND reference_type <> 'fee_accrual'
      GROUP BY currency`, [houseFeesUnaccrued, iso(context.window.startMs), iso(context.window.endMs)]);
  return new Map(result.rows.map((r) => [r.currency, minor(r.total)]));
}

/**
 * Step 3 (docs/contract.md §9, §7): per (user, fee currency) the day's fees from the fills, checked
 * per currency against the movement of house:fees_unaccrued in the ledger for the day (a
 * difference is a break in the report, never a silent fix), then one balanced journal per
 * (user, currency) moving the fills' amount to house:fee_revenue, reference
 * `<date>:<userId>:<currency>`. The journals commit with the step's completion; the unique index
 * on (reference_type, reference_id, user_id) keeps each to one posting however often it runs.
 */
export function feeAccrualStep(options: FeeAccrualOptions = {}): EodStep {
  return {
    name: 'fee_accrual',
    skipReason: () => null,
    async run(context) {
      await fillsStored(context);
      // Σ fee per (user, currency) in SQL (exact numeric), the same figures as sumFees over the day's fills.
      const summed = await context.pool.query<{ user_id: string; fee_currency: string; fee: string; fills: string }>(
        `SELECT user_id, fee_currency, sum(fee)::text AS fee, count(*)::text AS fills FROM fills
          WHERE ts >= $1 AND ts < $2 GROUP BY user_id, fee_currency HAVING sum(fee) > 0 ORDER BY user_id, fee_currency`,
        [iso(context.window.startMs), iso(context.window.endMs)]);
      const totals: FeeTotal[] = summed.rows.map((r) => ({ userId: r.user_id, currency: r.fee_currency, feeMinor: minor(r.fee), fills: Number(r.fills) }));
      const checks = crossCheckFees(totals, await feeAccountMovement(context));
      const breaks: CutBreak[] = checks.filter((c) => c.deltaMinor !== 0n).map((c) => ({
        boundary: 'fee_accrual', kind: 'fees_vs_ledger', currency: c.currency, left: whole(c.fillsMinor), right: whole(c.ledgerMinor), delta: whole(c.deltaMinor),
        detail: `Σ fills' fees in ${c.currency} for the day ≠ the movement of ${houseFeesUnaccrued}`,
      }));
      const byCurrency = new Map<string, bigint>();
      for (const t of totals) byCurrency.set(t.currency, (byCurrency.get(t.currency) ?? 0n) + t.feeMinor);
      const at = postingInstant(context);
      return {
        figures: {
          postedAt: at,
          journals: totals.length,
          users: new Set(totals.map((t) => t.userId)).size,
          byCurrency: [...byCurrency].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, m]) => ({ currency, accrued: whole(m) })),
          crossCheck: checks.map((c) => ({ currency: c.currency, fills: whole(c.fillsMinor), ledger: whole(c.ledgerMinor), delta: whole(c.deltaMinor) })),
          lines: totals.slice(0, linesListedMax).map((t) => ({ userId: t.userId, currency: t.currency, fee: whole(t.feeMinor), fills: t.fills })),
          linesOmitted: Math.max(0, totals.length - linesListedMax),
        },
        breaks,
        async write(client: PoolClient) {
          for (let i = 0; i < totals.length; i += rowsPerInsertMax) {
            const slice = totals.slice(i, i + rowsPerInsertMax);
            if (options.failAfterJournals !== undefined && i + slice.length > options.failAfterJournals) {
              const part = slice.slice(0, Math.max(0, options.failAfterJournals - i));
              await insertJournals(client, context.date, part, at);
              throw new Error(`injected failure after ${options.failAfterJournals} fee accrual journals`);
            }
            await insertJournals(client, context.date, slice, at);
          }
        },
      };
    },
  };
}

async function insertJournals(client: PoolClient, date: string, totals: ReadonlyArray<{ userId: string; currency: string; feeMinor: bigint }>, at: string): Promise<void> {
  if (totals.length === 0) return;
  const refs = totals.map((t) => `${date}:${t.userId}:${t.currency}`);
  await client.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
     SELECT 'fee_accrual:' || r, acct, c, a, 'fee_accrual', r, $6
       FROM unnest($1::text[], $2::text[], $3::numeric[]) AS x(r, c, f),
            LATERAL (VALUES ($4::text, -f), ($5::text, f)) AS legs(acct, a)
     ON CONFLICT DO NOTHING`,
    [refs, totals.map((t) => t.currency), totals.map((t) => whole(t.feeMinor)), houseFeesUnaccrued, houseFeeRevenue, at]);
}

export const defaultFeeAccrualStep = feeAccrualStep();
