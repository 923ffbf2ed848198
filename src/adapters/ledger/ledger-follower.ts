import { z } from 'zod';
import { signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import type { Logger } from '../../observability/logger.js';

/** numeric(38,18): ledger amounts are minor units at 18 decimals. */
export const ledgerScale = 18;

/** Where the follower has read to: the last (transaction id, row id) it returned. */
export interface LedgerWatermark {
  txId: bigint;
  id: bigint;
}

export const ledgerStart: LedgerWatermark = { txId: 0n, id: 0n };

export interface LedgerRow {
  id: bigint;
  txId: bigint;
  journalId: string;
  userId: string;
  currency: string;
  amountMinor: bigint;
  referenceType: string;
  referenceId: string;
  createdAtMs: number;
}

export interface LedgerBatch {
  rows: LedgerRow[];
  /** The last row's position, or `after` when there were none. */
  next: LedgerWatermark;
  /** Every transaction below this id has finished: the ledger is complete up to it. */
  horizonTxId: bigint;
}

const rowSchema = z.object({
  id: z.string(),
  tx_id: z.string(),
  journal_id: z.string(),
  user_id: z.string(),
  currency: z.string(),
  amount: z.string(),
  reference_type: z.string(),
  reference_id: z.string(),
  created_at: z.date(),
  horizon: z.string(),
});

/**
 * Reads ledger_entries rows in commit-safe order without rescanning the table.
 *
 * A row is returned only once its writing transaction is below the snapshot horizon
 * (pg_snapshot_xmin): every transaction below it has committed or aborted, so no row can
 * still appear behind the watermark. An id watermark alone would skip the rows of a slow
 * transaction that took a lower id and committed later. See docs/adr/0004.
 */
export async function readLedgerBatch(pool: Pool, after: LedgerWatermark, rowsMax: number): Promise<LedgerBatch> {
  const result = await pool.query(
    `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
     SELECT e.id::text, e.tx_id::text, e.journal_id, e.user_id, e.currency, e.amount::text,
            e.reference_type, e.reference_id, e.created_at, h.horizon::text AS horizon
       FROM h LEFT JOIN ledger_entries e
         ON (e.tx_id, e.id) > ($1::text::xid8, $2::bigint) AND e.tx_id < h.horizon
      ORDER BY e.tx_id, e.id
      LIMIT $3`,
    [after.txId.toString(), after.id.toString(), rowsMax],
  );
  let horizonTxId = 0n;
  const rows: LedgerRow[] = [];
  for (const raw of result.rows as Array<Record<string, unknown>>) {
    horizonTxId = BigInt(String(raw.horizon));
    if (raw.id === null) continue; // the LEFT JOIN's empty row: no new entries, horizon only
    const r = rowSchema.parse(raw);
    rows.push({
      id: BigInt(r.id),
      txId: BigInt(r.tx_id),
      journalId: r.journal_id,
      userId: r.user_id,
      currency: r.currency,
      amountMinor: signedDecimalToMinor(r.amount, ledgerScale),
      referenceType: r.reference_type,
      referenceId: r.reference_id,
      createdAtMs: r.created_at.getTime(),
    });
  }
  const last = rows.at(-1);
  return { rows, next: last ? { txId: last.txId, id: last.id } : after, horizonTxId };
}

/** A dedicated connection that LISTENs for ledger inserts and calls `onInsert` (coalesced by the caller). */
export async function listenForLedgerInserts(pool: Pool, onInsert: () => void, log: Logger): Promise<{ close(): Promise<void> }> {
  const client: PoolClient = await pool.connect();
  const handler = (): void => onInsert();
  client.on('notification', handler);
  client.on('error', (error) => log.warn({ event: 'ledger.listen_error', err: error.message }, 'ledger LISTEN connection failed; polling continues'));
  await client.query('LISTEN ledger_entries_inserted');
  return {
    async close() {
      client.off('notification', handler);
      await client.query('UNLISTEN ledger_entries_inserted').catch(() => undefined);
      client.release();
    },
  };
}
