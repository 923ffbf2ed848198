import type { Pool } from '../../db/pool.js';
import { iso, linesListedMax } from './money-inputs.js';
import type { EodStepContext, JsonObject } from './step.js';

/** The day's compliance events of one kind with what was done, for steps 9 and 10. */
export async function complianceOfDay(pool: Pool, context: EodStepContext, kind: 'sanctions_hit' | 'kyc_reverified'): Promise<JsonObject> {
  const result = await pool.query<{ user_id: string; list: string | null; reference: string; ts: Date; outcome: string; from_state: string | null; to_state: string | null; detail: string }>(
    `SELECT user_id, list, reference, ts, outcome, from_state, to_state, detail FROM compliance_events
      WHERE kind = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, event_key`, [kind, iso(context.window.startMs), iso(context.window.endMs)]);
  const counts: Record<string, number> = { applied: 0, already: 0, refused: 0, unknown_account: 0, error: 0 };
  for (const r of result.rows) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  const line = (r: (typeof result.rows)[number]): JsonObject => ({
    userId: r.user_id, ...(r.list !== null ? { list: r.list } : {}), reference: r.reference, at: r.ts.toISOString(),
    outcome: r.outcome, from: r.from_state, to: r.to_state, detail: r.detail,
  });
  return {
    events: result.rows.length,
    ...counts,
    lines: result.rows.slice(0, linesListedMax).map(line),
    linesOmitted: Math.max(0, result.rows.length - linesListedMax),
    forReview: result.rows.filter((r) => r.outcome === 'refused' || r.outcome === 'unknown_account' || r.outcome === 'error').slice(0, linesListedMax).map(line),
  };
}
