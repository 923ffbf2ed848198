import type { LedgerWatermark } from '../../adapters/ledger/ledger-follower.js';
import { signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool, PoolClient } from '../../db/pool.js';
import { moneyScale } from '../breaks/break.js';
import { readHotWalletFloats, readInFlight, type InFlightAmounts } from './in-flight.js';
import { custodyAccount, type LedgerHoldings } from './ledger-holdings.js';
import { z } from 'zod';
import { queryRows } from '../../db/rows.js';

/** The ledger side of one comparison, all read in one snapshot. */
export interface LedgerView {
  /** What the ledger says is held per asset now: the running total plus the tail past its watermark. */
  heldMinor: Map<string, bigint>;
  inFlight: Map<string, InFlightAmounts>;
  floatsMinor: Map<string, bigint>;
  /** `pg_current_snapshot()`: exactly which ledger transactions the comparison saw. */
  snapshot: string;
  /** house:custody rows past the follower's watermark, added from the tail. */
  tailRows: number;
}

/**
 * The ledger as of now, cheaply: the follower's running total (rows up to its watermark) plus
 * the committed house:custody rows past the watermark (an index range scan on (tx_id, id)).
 * The follower only reads below the snapshot horizon, which a long transaction anywhere in
 * the cluster can hold back for as long as it runs; the tail makes the comparison exact
 * anyway. The in-flight rows and floats are read in the same REPEATABLE READ snapshot, so an
 * entry that settles an in-flight row is counted exactly when the row stops counting.
 */
export async function readLedgerView(pool: Pool, holdings: LedgerHoldings, currencies: readonly string[], inFlightMaxAgeMs: number): Promise<LedgerView> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await queryRows(client, z.object({ snapshot: z.string() }), 'SELECT pg_current_snapshot()::text AS snapshot'))[0]?.snapshot ?? '';
    const tail = await readCustodyTail(client, holdings.watermark, currencies);
    const inFlight = await readInFlight(client, currencies, inFlightMaxAgeMs);
    const floatsMinor = await readHotWalletFloats(client, currencies);
    await client.query('COMMIT');
    const heldMinor = new Map<string, bigint>();
    let tailRows = 0;
    for (const currency of currencies) {
      const t = tail.get(currency);
      heldMinor.set(currency, (holdings.heldMinor.get(currency) ?? 0n) + (t?.heldMinor ?? 0n));
      tailRows += t?.rows ?? 0;
    }
    return { heldMinor, inFlight, floatsMinor, snapshot, tailRows };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function readCustodyTail(client: PoolClient, after: LedgerWatermark, currencies: readonly string[]): Promise<Map<string, { heldMinor: bigint; rows: number }>> {
  const rows = await queryRows(client, z.object({ currency: z.string(), held: z.string(), rows: z.number() }),
    `SELECT currency, (-sum(amount))::text AS held, count(*)::int AS rows FROM ledger_entries
      WHERE (tx_id, id) > ($1::text::xid8, $2::bigint) AND user_id = $3 AND currency = ANY($4::text[])
      GROUP BY currency`,
    [after.txId.toString(), after.id.toString(), custodyAccount, currencies],
  );
  return new Map(rows.map((r) => [r.currency, { heldMinor: signedDecimalToMinor(r.held, moneyScale), rows: r.rows }]));
}
