import { minorToDecimal, signedDecimalToMinor } from '../../config/decimal.js';
import { z } from 'zod';
import type { Pool, PoolClient } from '../../db/pool.js';
import type { DurableWrites } from '../durable-writes.js';
import { reconLimits } from '../limits.js';
import type { LedgerWatermark } from '../../adapters/ledger/ledger-follower.js';
import type { BalanceEvent } from '../../adapters/matching-engine/contract.js';
import { moneyScale } from '../breaks/break.js';
import type { SavedPosition } from './positions.js';

export const meDbBoundary = 'me_db';

export interface SavedState {
  engineSeq: number;
  /** The stream sequence of the last engine message the checkpoint covers; null for a checkpoint older than the column. */
  engineStreamSeq: number | null;
  ledger: LedgerWatermark;
  rowsRead: bigint;
  /** The positions are not here: restorePositions (position-store.ts) pages through them, at most the cap held. */
  currencyTotals: Map<string, bigint>;
}

const watermarkRow = z.object({ left_seq: z.string(), left_stream_seq: z.string().nullable(), right_tx: z.string(), right_id: z.string(), rows_read: z.string() });
const totalRow = z.object({ currency: z.string(), total: z.string() });

/** The saved state, or null on a first start. */
export async function loadCheckpoint(pool: Pool): Promise<SavedState | null> {
  const mark = await pool.query(
    'SELECT left_seq::text, left_stream_seq::text, right_tx::text, right_id::text, rows_read::text FROM recon_watermarks WHERE boundary = $1', [meDbBoundary]);
  if (!mark.rows[0]) return null;
  const row = watermarkRow.parse(mark.rows[0]);
  const totals = z.array(totalRow).parse((await pool.query('SELECT currency, total::text FROM recon_ledger_currency_totals')).rows);
  return {
    engineSeq: Number(row.left_seq),
    engineStreamSeq: row.left_stream_seq === null ? null : Number(row.left_stream_seq),
    ledger: { txId: BigInt(row.right_tx), id: BigInt(row.right_id) },
    rowsRead: BigInt(row.rows_read),
    currencyTotals: new Map(totals.map((t) => [t.currency, signedDecimalToMinor(t.total, moneyScale)])),
  };
}

/** A position as a checkpoint saves it (values copied when the checkpoint was taken). */
export type { SavedPosition } from './positions.js';

export interface CheckpointWrite {
  engineSeq: number;
  engineStreamSeq: number;
  ledger: LedgerWatermark;
  rowsRead: bigint;
  dirtyPositions: SavedPosition[];
  currencyTotals: Map<string, bigint>;
  check: { keysCompared: number; keysEqual: number; keysInFlight: number; breaksOpen: number };
  /** Engine events applied since the last checkpoint, kept as history for the close's cut. */
  engineEvents?: readonly BalanceEvent[];
}


/** One (fenced) transaction: the changed positions, the currency totals, the watermarks and a check row. */
export async function saveCheckpoint(writes: DurableWrites, write: CheckpointWrite): Promise<void> {
  await writes.transaction(async (client) => {
    for (let i = 0; i < write.dirtyPositions.length; i += reconLimits.checkpointRowsPerStatementMax) {
      await upsertPositions(client, write.dirtyPositions.slice(i, i + reconLimits.checkpointRowsPerStatementMax));
    }
    const events = write.engineEvents ?? [];
    for (let i = 0; i < events.length; i += reconLimits.checkpointRowsPerStatementMax) {
      await insertEngineHistory(client, events.slice(i, i + reconLimits.checkpointRowsPerStatementMax));
    }
    for (const [currency, total] of write.currencyTotals) {
      await client.query(
        `INSERT INTO recon_ledger_currency_totals (currency, total) VALUES ($1, $2)
         ON CONFLICT (currency) DO UPDATE SET total = EXCLUDED.total`,
        [currency, minorToDecimal(total, moneyScale)],
      );
    }
    await client.query(
      `INSERT INTO recon_watermarks (boundary, left_seq, left_stream_seq, right_tx, right_id, rows_read, saved_at)
       VALUES ($1, $2, $6, $3::text::xid8, $4, $5, now())
       ON CONFLICT (boundary) DO UPDATE SET left_seq = EXCLUDED.left_seq, left_stream_seq = EXCLUDED.left_stream_seq, right_tx = EXCLUDED.right_tx,
         right_id = EXCLUDED.right_id, rows_read = EXCLUDED.rows_read, saved_at = now()`,
      [meDbBoundary, write.engineSeq, write.ledger.txId.toString(), write.ledger.id.toString(), write.rowsRead.toString(), write.engineStreamSeq],
    );
    await client.query(
      `INSERT INTO recon_checks (boundary, keys_compared, keys_equal, keys_in_flight, breaks_open, left_seq, right_tx, right_id, fence_token)
       VALUES ($1, $2, $3, $4, $5, $6, $7::text::xid8, $8, $9)`,
      [meDbBoundary, write.check.keysCompared, write.check.keysEqual, write.check.keysInFlight, write.check.breaksOpen,
        write.engineSeq, write.ledger.txId.toString(), write.ledger.id.toString(), writes.fenceToken],
    );
  });
}

export async function upsertPositions(client: PoolClient, positions: readonly SavedPosition[]): Promise<void> {
  if (positions.length === 0) return;
  // One JSON parameter: serialised natively, where pg's array encoding is per element in JS.
  await client.query(
    `INSERT INTO recon_me_db_positions (user_id, currency, engine_total, engine_seq, ledger_total)
     SELECT u, c, e::numeric, s::bigint, l::numeric FROM json_to_recordset($1::json) AS t(u text, c text, e text, s text, l text)
     ON CONFLICT (user_id, currency) DO UPDATE SET engine_total = EXCLUDED.engine_total,
       engine_seq = EXCLUDED.engine_seq, ledger_total = EXCLUDED.ledger_total`,
    [JSON.stringify(positions.map((p) => ({
      u: p.userId, c: p.currency, e: minorToDecimal(p.engineTotalMinor, moneyScale), s: String(p.engineSeq), l: minorToDecimal(p.ledgerTotalMinor, moneyScale),
    })))],
  );
}

/** Idempotent by seq: a checkpoint retried after a failure writes each event once. */
async function insertEngineHistory(client: PoolClient, events: readonly BalanceEvent[]): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts)
     SELECT s::bigint, u, c, t::numeric, l::numeric, a::numeric, 'epoch'::timestamptz + ms * interval '1 millisecond'
       FROM json_to_recordset($1::json) AS r(s text, u text, c text, t text, l text, a text, ms bigint)
     ON CONFLICT (seq) DO NOTHING`,
    [JSON.stringify(events.map((e) => ({
      s: String(e.seq), u: e.userId, c: e.currency, t: minorToDecimal(e.totalMinor, moneyScale),
      l: minorToDecimal(e.lockedMinor, moneyScale), a: minorToDecimal(e.availableMinor, moneyScale), ms: e.tsMs,
    })))],
  );
}
