import type { LedgerRow, LedgerWatermark } from '../../adapters/ledger/ledger-follower.js';
import { minorToDecimal, signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { moneyScale } from '../breaks/break.js';
import type { DurableWrites } from '../durable-writes.js';
import { z } from 'zod';
import { queryRows } from '../../db/rows.js';

const heldRow = z.object({ currency: z.string(), held: z.string() });

export const dbCustodyBoundary = 'db_custody';

/** The ledger's counterpart of every deposit and withdrawal: what is held is −Σ of its entries (docs/bitgo-custody.md). */
export const custodyAccount = 'house:custody';

/**
 * What the ledger says is held per asset, as a running total at a watermark: −Σ amount of
 * house:custody, which by double entry equals Σ of every other account in the asset.
 */
export interface LedgerHoldings {
  watermark: LedgerWatermark;
  rowsRead: bigint;
  heldMinor: Map<string, bigint>;
}

/** Applies one ledger row; true when it moved a holding (a house:custody row). */
export function applyLedgerRow(holdings: LedgerHoldings, row: LedgerRow): boolean {
  holdings.rowsRead++;
  if (row.userId !== custodyAccount) return false;
  holdings.heldMinor.set(row.currency, (holdings.heldMinor.get(row.currency) ?? 0n) - row.amountMinor);
  return true;
}

/** The saved holdings and watermark, or null on a first start. */
export async function loadHoldings(pool: Pool): Promise<LedgerHoldings | null> {
  const [row] = await queryRows(pool, z.object({ right_tx: z.string(), right_id: z.string(), rows_read: z.string() }),
    'SELECT right_tx::text, right_id::text, rows_read::text FROM recon_watermarks WHERE boundary = $1', [dbCustodyBoundary]);
  if (!row) return null;
  const totals = await queryRows(pool, heldRow, 'SELECT currency, held::text FROM recon_db_custody_ledger_totals');
  return {
    watermark: { txId: BigInt(row.right_tx), id: BigInt(row.right_id) },
    rowsRead: BigInt(row.rows_read),
    heldMinor: new Map(totals.map((t) => [t.currency, signedDecimalToMinor(t.held, moneyScale)])),
  };
}

/**
 * First start: one aggregate over house:custody (indexed by user, currency) instead of reading
 * the whole ledger through the follower. In one REPEATABLE READ snapshot: every transaction
 * below its xmin has finished, so the sums of rows below it and the last such row are a cut
 * the follower continues from without a gap or a double count (docs/adr/0004's horizon rule).
 */
export async function seedHoldings(pool: Pool): Promise<LedgerHoldings> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const horizon = (await queryRows(client, z.object({ horizon: z.string() }), 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon'))[0]?.horizon ?? '0';
    const sums = await queryRows(client, heldRow,
      `SELECT currency, (-sum(amount))::text AS held FROM ledger_entries
        WHERE user_id = $1 AND tx_id < $2::text::xid8 GROUP BY currency`, [custodyAccount, horizon]);
    const last = await queryRows(client, z.object({ tx_id: z.string(), id: z.string() }),
      // e.tx_id, e.id: the columns, not the ::text outputs of the same name (sorted as text, "9999" after "10005").
      'SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM ledger_entries e WHERE e.tx_id < $1::text::xid8 ORDER BY e.tx_id DESC, e.id DESC LIMIT 1', [horizon]);
    await client.query('COMMIT');
    const lastRow = last[0];
    return {
      watermark: lastRow ? { txId: BigInt(lastRow.tx_id), id: BigInt(lastRow.id) } : { txId: 0n, id: 0n },
      rowsRead: 0n,
      heldMinor: new Map(sums.map((s) => [s.currency, signedDecimalToMinor(s.held, moneyScale)])),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface CheckRecord {
  polledAtMs: number;
  currenciesCompared: number;
  currenciesAgreeing: number;
  currenciesInFlight: number;
  breaksOpen: number;
}

/** One (fenced) transaction: the holdings, the watermark and the check row of this comparison round. */
export async function saveCheck(writes: DurableWrites, holdings: LedgerHoldings, check: CheckRecord): Promise<void> {
  const tx = holdings.watermark.txId.toString();
  const id = holdings.watermark.id.toString();
  await writes.transaction(async (client) => {
    const currencies = [...holdings.heldMinor.keys()];
    if (currencies.length > 0) {
      await client.query(
        `INSERT INTO recon_db_custody_ledger_totals (currency, held)
         SELECT * FROM unnest($1::text[], $2::numeric[])
         ON CONFLICT (currency) DO UPDATE SET held = EXCLUDED.held`,
        [currencies, currencies.map((c) => minorToDecimal(holdings.heldMinor.get(c) ?? 0n, moneyScale))],
      );
    }
    await client.query(
      `INSERT INTO recon_watermarks (boundary, left_seq, right_tx, right_id, rows_read, saved_at)
       VALUES ($1, $2, $3::text::xid8, $4, $5, now())
       ON CONFLICT (boundary) DO UPDATE SET left_seq = EXCLUDED.left_seq, right_tx = EXCLUDED.right_tx,
         right_id = EXCLUDED.right_id, rows_read = EXCLUDED.rows_read, saved_at = now()`,
      [dbCustodyBoundary, check.polledAtMs, tx, id, holdings.rowsRead.toString()],
    );
    // left_seq of a db_custody check is the custody poll time (epoch ms): its watermark.
    await client.query(
      `INSERT INTO recon_checks (boundary, keys_compared, keys_equal, keys_in_flight, breaks_open, left_seq, right_tx, right_id, fence_token)
       VALUES ($1, $2, $3, $4, $5, $6, $7::text::xid8, $8, $9)`,
      [dbCustodyBoundary, check.currenciesCompared, check.currenciesAgreeing, check.currenciesInFlight, check.breaksOpen, check.polledAtMs, tx, id, writes.fenceToken],
    );
  });
}
