/**
 * Ledger history made fast, in SQL: balanced two-row journals (a user and a house account)
 * over a fixed key space of users × currencies, and a me_db checkpoint that matches it, so a
 * reconciler starts at the end of that history without reading it.
 *
 * Journal j books on key k = j mod K (K = users × currencies): user k / C, currency k mod C.
 * In even rounds (j / K even) it is a deposit (user +a, house:custody −a, a in 0.01…1000), in
 * odd rounds a fee (user −f, house:fees +f, f in 0.0001…0.005). Every key's first journal is
 * a deposit larger than any fee, so no user balance is ever negative, and every journal (and
 * so every currency) sums to zero.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { balanceEventWireOf } from '../src/adapters/matching-engine/contract.js';
import { signedDecimalToMinor } from '../src/config/decimal.js';
import type { Pool, PoolClient } from '../src/db/pool.js';
import type { NatsNames } from '../src/nats/names.js';

export interface KeySpace {
  users: number;
  currencies: readonly string[];
}

export const benchCurrencies = ['BTC', 'ETH', 'USDT', 'SOL', 'XRP', 'DOGE', 'ADA', 'DOT', 'LTC', 'TRX'] as const;

export const userIdOf = (n: number): string => `u${String(n).padStart(6, '0')}`;

export const userIdsOf = (space: KeySpace): string[] => Array.from({ length: space.users }, (_, i) => userIdOf(i));

/** Journals per INSERT statement (two rows each): one statement, one transaction, one tx_id. */
const journalsPerStatement = 250_000;
/** INSERT statements running at once while growing the ledger. */
const growWriters = 2;

/**
 * Appends journals `fromJournal` … until the table holds at least `targetRows` rows. Returns
 * the next journal number (to continue from) and the row count.
 */
export async function growLedger(pool: Pool, space: KeySpace, fromJournal: number, targetRows: number, onProgress?: (rows: number) => void): Promise<{ nextJournal: number; rows: number }> {
  let rows = await countRows(pool);
  let next = fromJournal;
  const keys = space.users * space.currencies.length;
  // Two writers at once (one per core of the bench's box), each on a connection of its own.
  const clients = await Promise.all(Array.from({ length: growWriters }, () => pool.connect()));
  // The ledger's row trigger (no entry inside a sealed day: one lookup per row) was a third of the
  // time of a 10M-row history, where no day is sealed yet. A superuser (the bench's default local
  // Postgres) skips it with session_replication_role; anyone else pays it.
  const skipTriggers = await Promise.all(clients.map((c) => c.query('SET session_replication_role = replica').then(() => true, () => false)));
  const insert = (client: PoolClient, first: number, last: number) => client.query(
    `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
     SELECT 'g' || g.j,
            CASE WHEN s.side = 0 THEN 'u' || lpad(((g.j % $3) / $4)::text, 6, '0')
                 WHEN (g.j / $3) % 2 = 0 THEN 'house:custody' ELSE 'house:fees' END,
            ($5::text[])[(g.j % $4) + 1],
            (CASE WHEN (g.j / $3) % 2 = 0 THEN ((g.j * 7919) % 100000 + 1)::numeric / 100
                  ELSE -((g.j % 50) + 1)::numeric / 10000 END) * (1 - 2 * s.side),
            CASE WHEN (g.j / $3) % 2 = 0 THEN 'deposit' ELSE 'fee' END,
            'g' || g.j
       FROM generate_series($1::bigint, $2::bigint) AS g(j) CROSS JOIN (VALUES (0), (1)) AS s(side)`,
    [first, last, keys, space.currencies.length, space.currencies],
  );
  try {
    while (rows < targetRows) {
      const round: Array<Promise<unknown>> = [];
      for (const client of clients) {
        if (rows >= targetRows) break;
        const journals = Math.min(journalsPerStatement, Math.ceil((targetRows - rows) / 2));
        round.push(insert(client, next, next + journals - 1));
        next += journals;
        rows += journals * 2;
      }
      await Promise.all(round);
      onProgress?.(rows);
    }
  } finally {
    await Promise.all(clients.map(async (client, i) => {
      if (skipTriggers[i]) await client.query('RESET session_replication_role').catch(() => undefined);
      client.release();
    }));
  }
  // Hint bits and the visibility map set now, statistics fresh: no first-reader penalty later.
  await pool.query('VACUUM ANALYZE ledger_entries');
  // Written out now, so the checkpointer's flush of the new rows does not land inside a timing.
  await pool.query('CHECKPOINT').catch(() => undefined);
  return { nextJournal: next, rows };
}

export async function countRows(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries');
  return Number(rows[0]?.n ?? 0);
}

export async function maxLedgerId(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ id: string | null }>('SELECT max(id)::text AS id FROM ledger_entries');
  return BigInt(rows[0]?.id ?? '0');
}

/**
 * Writes the me_db checkpoint that a reconciler would have saved after reading the whole
 * ledger and engine stream up to `engineSeq`: positions (engine = ledger, both Σ amount),
 * the per-currency totals, and the watermarks at the last (tx_id, id). The ledger must be
 * quiet (no transaction in flight). Replaces any earlier reconciler state.
 */
export async function seedCheckpoint(pool: Pool, engineSeq: number): Promise<{ positions: number; rowsRead: number }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // recon_break_events is append-only (a trigger refuses TRUNCATE); this scratch database's
    // reconciler state is replaced wholesale, so its triggers are off for this transaction.
    await client.query("SET LOCAL session_replication_role = 'replica'");
    await client.query('TRUNCATE recon_me_db_positions, recon_ledger_currency_totals, recon_watermarks, recon_checks, recon_seals, recon_break_actions, recon_break_events, recon_outbox, recon_breaks');
    await client.query("SET LOCAL session_replication_role = 'origin'");
    const positions = await client.query(
      `INSERT INTO recon_me_db_positions (user_id, currency, engine_total, engine_seq, ledger_total)
       SELECT user_id, currency, sum(amount), $1, sum(amount) FROM ledger_entries WHERE user_id NOT LIKE 'house:%' GROUP BY user_id, currency`,
      [engineSeq],
    );
    await client.query('INSERT INTO recon_ledger_currency_totals (currency, total) SELECT currency, sum(amount) FROM ledger_entries GROUP BY currency');
    const mark = await client.query<{ rows_read: string }>(
      `INSERT INTO recon_watermarks (boundary, left_seq, right_tx, right_id, rows_read)
       SELECT 'me_db', $1, last.tx_id, last.id, (SELECT count(*) FROM ledger_entries)
         FROM (SELECT tx_id, id FROM ledger_entries ORDER BY tx_id DESC, id DESC LIMIT 1) AS last
       RETURNING rows_read::text`,
      [engineSeq],
    );
    await client.query('COMMIT');
    return { positions: positions.rowCount ?? 0, rowsRead: Number(mark.rows[0]?.rows_read ?? 0) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Puts one engine event (seq 1: a key's balance as the ledger has it) into a fresh balance
 * stream: the engine's history then ends at seq 1, so a simulator started afterwards
 * continues at seq 2, and a checkpoint at seq 1 lets the reconciler start without a snapshot.
 */
export async function publishStartMarker(nc: NatsConnection, pool: Pool, names: NatsNames, userId: string, currency: string): Promise<number> {
  const { rows } = await pool.query<{ total: string | null }>('SELECT sum(amount)::text AS total FROM ledger_entries WHERE user_id = $1 AND currency = $2', [userId, currency]);
  const totalMinor = signedDecimalToMinor(rows[0]?.total ?? '0', 18);
  const wire = balanceEventWireOf({ seq: 1, userId, currency, totalMinor, lockedMinor: 0n, availableMinor: totalMinor, tsMs: Date.now() });
  await jetstream(nc).publish(names.meBalanceSubject(userId), JSON.stringify(wire), { msgID: '1' });
  return 1;
}
