import type { Pool } from '../db/pool.js';
import type { Logger } from '../observability/logger.js';
import { withFencedTransaction, type Fence } from '../supervisor/fence.js';

/**
 * Inputs the close keeps only for its cut (ADR 0015): once a day is sealed, the next close starts
 * from that day's snapshot and reads these from the day's start on, so rows older than the
 * retention before the last sealed cutover are read by nothing and are deleted. (Staking
 * position history is not here: the cut takes each position's latest version, however old.)
 */
const prunableInputs = [
  { table: 'engine_balance_history', at: 'ts' },
  { table: 'custody_poll_readings', at: 'polled_at' },
] as const;

/** Rows deleted per statement, so a first prune of a long history never holds locks for long. */
const deleteBatchRowsMax = 10_000;

/**
 * After `sealedDayEndMs` (the cutover of the day just sealed) is sealed: deletes what is older
 * than `retentionDays` before it, in batches, each fenced like every write of the close.
 */
export async function pruneCloseInputs(pool: Pool, fence: Fence, sealedDayEndMs: number, retentionDays: number, log: Logger): Promise<Record<string, number>> {
  const before = new Date(sealedDayEndMs - retentionDays * 86_400_000).toISOString();
  const deleted: Record<string, number> = {};
  for (const { table, at } of prunableInputs) {
    deleted[table] = 0;
    for (;;) {
      const n = await withFencedTransaction(pool, fence, async (client) => (await client.query(
        `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ${at} < $1 LIMIT ${deleteBatchRowsMax}))`, [before])).rowCount ?? 0);
      deleted[table] += n;
      if (n < deleteBatchRowsMax) break;
    }
  }
  if (Object.values(deleted).some((n) => n > 0)) log.info({ event: 'eod.retention.pruned', before, retentionDays, deleted }, `close inputs older than ${before} deleted`);
  return deleted;
}
