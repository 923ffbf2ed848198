import { z } from 'zod';
import { signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { moneyScale } from '../breaks/break.js';

/**
 * The database side of db_chain: staking_positions summed per chain address, read in one
 * statement (one snapshot, so the total and the per-address sums are one consistent cut).
 * amount is whole tokens in numeric(38,18); as 18-decimal minor units it is exactly the
 * chain's base units (10^18 per token), so the two sides compare as integers.
 */
export interface AddressPosition {
  /** Σ amount for the address, in base units. */
  amountBase: bigint;
  /** The one user holding the address, or null when several do. */
  userId: string | null;
  rows: number;
}

export interface DbPositions {
  totalBase: bigint;
  /** Keyed by the lower-cased address as stored (a malformed one is still a key: it matches nothing on chain). */
  byAddress: Map<string, AddressPosition>;
  rows: number;
}

const rowSchema = z.object({
  address: z.string(),
  amount: z.string(),
  rows: z.number().int().positive(),
  first_user: z.string(),
  last_user: z.string(),
});

export async function readStakingPositions(pool: Pool, addressesMax: number): Promise<DbPositions> {
  const result = await pool.query(
    `SELECT lower(trim(address)) AS address, sum(amount)::text AS amount, count(*)::int AS rows,
            min(user_id) AS first_user, max(user_id) AS last_user
       FROM staking_positions GROUP BY lower(trim(address)) LIMIT $1`,
    [addressesMax + 1],
  );
  if (result.rows.length > addressesMax) throw new Error(`staking_positions holds more than ${addressesMax} addresses (limit addressesMax)`);
  const byAddress = new Map<string, AddressPosition>();
  let totalBase = 0n;
  let rows = 0;
  for (const raw of result.rows) {
    const row = rowSchema.parse(raw);
    const amountBase = signedDecimalToMinor(row.amount, moneyScale);
    byAddress.set(row.address, { amountBase, userId: row.first_user === row.last_user ? row.first_user : null, rows: row.rows });
    totalBase += amountBase;
    rows += row.rows;
  }
  return { totalBase, byAddress, rows };
}
