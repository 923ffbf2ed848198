import type { Pool } from '../../src/db/pool.js';

/**
 * Ids across a power of ten, the case a text-sorted watermark gets wrong ("…9999" sorts after
 * "…10005" as text; ADR 0025): the ledger's id sequence set `before` ids short of the first power
 * of ten more than `room` past the largest id. Returns that power.
 */
export async function ledgerIdsJustBeforePowerOfTen(pool: Pool, before: bigint, room: bigint = before): Promise<bigint> {
  const maxId = BigInt((await pool.query<{ m: string }>('SELECT coalesce(max(id), 0)::text AS m FROM ledger_entries')).rows[0]?.m ?? '0');
  let power = 10n;
  while (power <= maxId + room) power *= 10n;
  await pool.query("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), $1::bigint)", [(power - before).toString()]);
  return power;
}

/**
 * One transaction of five balanced journals (`userId` +1, house:custody −1 each), ten rows with
 * ids power−4 … power+5. Returns the power.
 */
export async function insertTransactionAcrossPowerOfTen(pool: Pool, journal: { prefix: string; userId: string; currency: string }): Promise<bigint> {
  const power = await ledgerIdsJustBeforePowerOfTen(pool, 5n);
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     SELECT $1 || '-' || (g / 2), CASE WHEN g % 2 = 0 THEN $2 ELSE 'house:custody' END, $3, CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END, 'test', $1
       FROM generate_series(0, 9) g`,
    [journal.prefix, journal.userId, journal.currency]);
  return power;
}
