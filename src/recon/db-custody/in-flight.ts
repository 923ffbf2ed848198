import { signedDecimalToMinor } from '../../config/decimal.js';
import type { PoolClient } from '../../db/pool.js';
import { moneyScale } from '../breaks/break.js';
import { z } from 'zod';
import { queryRows } from '../../db/rows.js';

/** Pending custody_in_flight amounts of one asset, ledger minor units. */
export interface InFlightAmounts {
  depositsMinor: bigint;
  withdrawalsMinor: bigint;
  unbookedGasMinor: bigint;
  undistributedRewardsMinor: bigint;
  /** Pending rows older than the age limit: no longer counted, reported instead. */
  staleRows: number;
}

export const noInFlight: InFlightAmounts = { depositsMinor: 0n, withdrawalsMinor: 0n, unbookedGasMinor: 0n, undistributedRewardsMinor: 0n, staleRows: 0 };

/**
 * The ledger reference_type whose entry (same currency, reference_id = the row's reference)
 * settles a pending row of each direction; withdrawals settle by their status only (their
 * ledger entry is written when they are sent, before they are confirmed).
 */
export const settlingReferenceType = { deposit: 'deposit', gas_fee: 'gas_fee', reward: 'staking_reward' } as const;

/**
 * Pending in-flight amounts per asset. Run in the same snapshot as the ledger totals it is
 * compared with (see ledger-view.ts): a ledger entry settles a row exactly when it is counted.
 */
export async function readInFlight(client: PoolClient, currencies: readonly string[], maxAgeMs: number): Promise<Map<string, InFlightAmounts>> {
  const rows = await queryRows(client, z.object({ currency: z.string(), direction: z.string(), fresh: z.string().nullable(), stale: z.number() }),
    `SELECT f.currency, f.direction,
            (sum(f.amount) FILTER (WHERE f.created_at > now() - make_interval(secs => $2::double precision / 1000)))::text AS fresh,
            (count(*) FILTER (WHERE f.created_at <= now() - make_interval(secs => $2::double precision / 1000)))::int AS stale
       FROM custody_in_flight f
      WHERE f.status = 'pending' AND f.currency = ANY($1::text[])
        AND NOT EXISTS (
          SELECT 1 FROM ledger_entries e
           WHERE e.reference_type = CASE f.direction WHEN 'deposit' THEN $3 WHEN 'gas_fee' THEN $4 WHEN 'reward' THEN $5 END
             AND e.reference_id = f.reference AND e.currency = f.currency)
      GROUP BY f.currency, f.direction`,
    [currencies, maxAgeMs, settlingReferenceType.deposit, settlingReferenceType.gas_fee, settlingReferenceType.reward],
  );
  const amounts = new Map<string, InFlightAmounts>();
  for (const row of rows) {
    const a = amounts.get(row.currency) ?? { ...noInFlight };
    const minor = row.fresh === null ? 0n : signedDecimalToMinor(row.fresh, moneyScale);
    if (row.direction === 'deposit') a.depositsMinor += minor;
    else if (row.direction === 'withdrawal') a.withdrawalsMinor += minor;
    else if (row.direction === 'gas_fee') a.unbookedGasMinor += minor;
    else if (row.direction === 'reward') a.undistributedRewardsMinor += minor;
    a.staleRows += row.stale;
    amounts.set(row.currency, a);
  }
  return amounts;
}

/** custody_hot_wallet_floats per asset (absent: 0). */
export async function readHotWalletFloats(client: PoolClient, currencies: readonly string[]): Promise<Map<string, bigint>> {
  const rows = await queryRows(client, z.object({ currency: z.string(), amount: z.string() }),
    'SELECT currency, amount::text FROM custody_hot_wallet_floats WHERE currency = ANY($1::text[])', [currencies]);
  return new Map(rows.map((r) => [r.currency, signedDecimalToMinor(r.amount, moneyScale)]));
}
