import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { seedHoldings } from '../../src/recon/db-custody/ledger-holdings.js';
import { createTestDatabase } from '../support/database.js';

let pool: Pool;
let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, 2);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

it('the custody seed\'s watermark is the last row below the horizon by number, not as text (ids across 9 → 10)', async () => {
  // A fresh table: the ids of this one transaction run 5…14, and as text "9" sorts after "14".
  await pool.query("SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'), 4)");
  await pool.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     SELECT 'd-' || (g / 2), CASE WHEN g % 2 = 0 THEN 'house:custody' ELSE 'u1' END, 'BTC', CASE WHEN g % 2 = 0 THEN -1 ELSE 1 END, 'deposit', 'd-' || (g / 2)
       FROM generate_series(0, 9) g`);
  const last = (await pool.query<{ tx_id: string }>('SELECT max(tx_id)::text AS tx_id FROM ledger_entries')).rows[0];
  const seed = await seedHoldings(pool);
  // The horizon is cluster-wide: another database's open transaction may hold it below this one.
  if (seed.watermark.txId < BigInt(last?.tx_id ?? '0')) return;
  expect(seed.watermark).toEqual({ txId: BigInt(last?.tx_id ?? '0'), id: 14n });
  expect(seed.heldMinor.get('BTC')).toBe(5n * 10n ** 18n);
});
