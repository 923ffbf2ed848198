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

const listenRetryFirstMs = 250;
const listenRetryMaxMs = 10_000;

/**
 * A dedicated connection that LISTENs for ledger inserts and calls `onInsert` (coalesced by
 * the caller). A cut connection (Postgres restart, pg_terminate_backend) is re-established
 * with backoff, and `onInsert` is called once it is back: rows committed while nobody
 * listened are read then (the poll covers the gap meanwhile).
 */
export async function listenForLedgerInserts(pool: Pool, onInsert: () => void, log: Logger): Promise<{ close(): Promise<void> }> {
  let closed = false;
  let current: PoolClient | null = null;
  let retryMs = listenRetryFirstMs;
  let timer: NodeJS.Timeout | null = null;
  /** After the first attempt: every later LISTEN is a reconnection. */
  let started = false;
  const handler = (): void => onInsert();

  const lost = (client: PoolClient, error: Error): void => {
    if (current !== client) return;
    current = null;
    client.off('notification', handler);
    client.release(error);
    if (closed) return;
    log.warn({ event: 'ledger.listen_lost', err: error.message, retryMs }, 'ledger LISTEN connection lost; polling meanwhile, reconnecting');
    schedule();
  };
  const schedule = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void listen().catch((error: unknown) => {
        log.warn({ event: 'ledger.listen_retry', err: (error as Error).message, retryMs }, 'ledger LISTEN not re-established yet');
        retryMs = Math.min(listenRetryMaxMs, retryMs * 2);
        schedule();
      });
    }, retryMs);
  };
  const listen = async (): Promise<void> => {
    const client = await pool.connect();
    if (closed) {
      client.release();
      return;
    }
    client.on('notification', handler);
    client.on('error', (error) => lost(client, error));
    client.on('end', () => lost(client, new Error('connection ended')));
    try {
      await client.query('LISTEN ledger_entries_inserted');
    } catch (error) {
      client.off('notification', handler);
      client.release(error as Error);
      throw error;
    }
    const reconnected = started;
    current = client;
    retryMs = listenRetryFirstMs;
    if (reconnected) log.info({ event: 'ledger.listen_reconnected' }, 'ledger LISTEN re-established');
    onInsert();
  };
  try {
    await listen();
  } catch (error) {
    log.warn({ event: 'ledger.listen_retry', err: (error as Error).message }, 'ledger LISTEN not established yet; polling meanwhile');
    schedule();
  }
  started = true;
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const client = current;
      current = null;
      if (!client) return;
      client.off('notification', handler);
      await client.query('UNLISTEN ledger_entries_inserted').catch(() => undefined);
      client.release();
    },
  };
}
