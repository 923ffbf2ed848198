import { z } from 'zod';
import { readLedgerBatch, type LedgerBatch, type LedgerRow, type LedgerWatermark } from '../../adapters/ledger/ledger-follower.js';
import { signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { moneyScale } from '../breaks/break.js';
import { keyOf, type PositionKey } from './positions.js';

/**
 * One batch of the ledger past `after`, never ending inside a transaction (unless one
 * transaction alone exceeds the batch); `full`: more rows are waiting.
 */
export async function readLedgerTransactions(pool: Pool, after: LedgerWatermark, rowsMax: number): Promise<{ full: boolean; batch: LedgerBatch }> {
  const batch = await readLedgerBatch(pool, after, rowsMax);
  // Full before trimming: more rows are waiting, the ledger is not read to its horizon yet.
  const full = batch.rows.length >= rowsMax;
  if (full) {
    const lastTx = batch.rows.at(-1)?.txId;
    const complete = batch.rows.filter((r) => r.txId !== lastTx);
    const last = complete.at(-1);
    if (last) return { full, batch: { ...batch, rows: complete, next: { txId: last.txId, id: last.id } } };
  }
  return { full, batch };
}

/** At least `rowsMin` rows past the watermark (below any horizon): a catch-up worth taking as sums. One index range, at most `rowsMin` rows. */
export async function ledgerRowsPastAtLeast(pool: Pool, after: LedgerWatermark, rowsMin: number): Promise<boolean> {
  const result = await pool.query(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM ledger_entries e WHERE (e.tx_id, e.id) > ($1::text::xid8, $2::bigint) LIMIT $3) past`,
    [after.txId.toString(), after.id.toString(), rowsMin],
  );
  return z.object({ n: z.number() }).parse(result.rows[0]).n >= rowsMin;
}

const committedRow = z.object({ user_id: z.string(), currency: z.string(), total: z.string() });

/**
 * Σ of committed ledger rows past the watermark, per suspect key (one indexed query): rows a
 * long transaction elsewhere keeps behind the read horizon are real, and judged with them.
 */
export async function committedPastWatermark(pool: Pool, keys: readonly PositionKey[], after: LedgerWatermark): Promise<Map<string, bigint>> {
  const result = await pool.query(
    `SELECT e.user_id, e.currency, sum(e.amount)::text AS total
       FROM ledger_entries e
       JOIN unnest($1::text[], $2::text[]) AS k(user_id, currency) ON k.user_id = e.user_id AND k.currency = e.currency
      WHERE (e.tx_id, e.id) > ($3::text::xid8, $4::bigint)
      GROUP BY e.user_id, e.currency`,
    [keys.map((k) => k.userId), keys.map((k) => k.currency), after.txId.toString(), after.id.toString()],
  );
  return new Map(z.array(committedRow).parse(result.rows).map((r) => [keyOf(r.user_id, r.currency), signedDecimalToMinor(r.total, moneyScale)]));
}

/** Adds a row to its journal's sums per currency; a journal is `txId:journalId`. */
export function addToJournal(journals: Map<string, Map<string, bigint>>, row: LedgerRow): void {
  const journalKey = `${row.txId}:${row.journalId}`;
  const sums = journals.get(journalKey) ?? new Map<string, bigint>();
  sums.set(row.currency, (sums.get(row.currency) ?? 0n) + row.amountMinor);
  journals.set(journalKey, sums);
}
