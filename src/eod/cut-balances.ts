import { signedDecimalToMinor } from '../config/decimal.js';
import type { Pool } from '../db/pool.js';
import type { BusinessWindow } from './business-date.js';

/** Money in the close is minor units of 10^-18 (numeric(38,18)). */
export const moneyScale = 18;

export interface EngineBalanceAtCut {
  userId: string;
  currency: string;
  totalMinor: bigint;
  lockedMinor: bigint;
  availableMinor: bigint;
  /** The seq of the event this balance comes from. */
  seq: number;
}

export interface EngineCut {
  /** Per `user/currency`: the last balance event with ts before the cutover. */
  balances: Map<string, EngineBalanceAtCut>;
  /** The last engine seq before the cutover (0 when none). */
  seq: number;
}

export interface LedgerCut {
  /** Per `account/currency` (house accounts included): Σ amount of rows created before the cutover. */
  balances: Map<string, { account: string; currency: string; totalMinor: bigint }>;
  /** The largest id among rows created before the cutover, and how many rows the day added. */
  lastId: string;
  dayRows: number;
  /** Rows with created_at inside the day's window: checked again when the day is sealed. */
  windowRows: number;
}

export const keyOf = (account: string, currency: string): string => `${account}/${currency}`;
const minor = (text: string): bigint => signedDecimalToMinor(text, moneyScale);

/**
 * The engine side at the cut (ADR 0015): the previous sealed day's snapshot overlaid with the
 * last event per key of the day's window, or, for the first day, the last event before the
 * cutover over all history. The cost is what the day changed plus the previous snapshot.
 */
export async function engineBalancesAtCut(pool: Pool, window: BusinessWindow, previousSealedDate: string | null): Promise<EngineCut> {
  const balances = new Map<string, EngineBalanceAtCut>();
  let seq = 0;
  const end = new Date(window.endMs).toISOString();
  if (previousSealedDate) {
    const base = await pool.query<{ user_id: string; currency: string; total: string; locked: string; available: string; engine_seq: string }>(
      `SELECT user_id, currency, total::text, locked::text, available::text, engine_seq::text
         FROM user_balance_snapshots WHERE business_date = $1`, [previousSealedDate]);
    for (const r of base.rows) {
      balances.set(keyOf(r.user_id, r.currency), { userId: r.user_id, currency: r.currency, totalMinor: minor(r.total), lockedMinor: minor(r.locked), availableMinor: minor(r.available), seq: Number(r.engine_seq) });
      seq = Math.max(seq, Number(r.engine_seq));
    }
  }
  const since = previousSealedDate ? new Date(window.startMs).toISOString() : null;
  const day = await pool.query<{ user_id: string; currency: string; total: string; locked: string; available: string; seq: string }>(
    // Ordered by the bigint column (h.seq), not the text output column of the same name.
    `SELECT DISTINCT ON (h.user_id, h.currency) h.user_id, h.currency, h.total::text, h.locked::text, h.available::text, h.seq::text AS seq
       FROM engine_balance_history h
      WHERE h.ts < $1 AND ($2::timestamptz IS NULL OR h.ts >= $2)
      ORDER BY h.user_id, h.currency, h.seq DESC`, [end, since]);
  for (const r of day.rows) {
    balances.set(keyOf(r.user_id, r.currency), { userId: r.user_id, currency: r.currency, totalMinor: minor(r.total), lockedMinor: minor(r.locked), availableMinor: minor(r.available), seq: Number(r.seq) });
    seq = Math.max(seq, Number(r.seq));
  }
  return { balances, seq };
}

/**
 * The ledger side at the cut: Σ amount per (account, currency) of rows with created_at before
 * the cutover, from the previous sealed day's close plus the day's rows.
 */
export async function ledgerBalancesAtCut(pool: Pool, window: BusinessWindow, previousSealedDate: string | null): Promise<LedgerCut> {
  const balances = new Map<string, { account: string; currency: string; totalMinor: bigint }>();
  const add = (account: string, currency: string, amountMinor: bigint): void => {
    const key = keyOf(account, currency);
    const current = balances.get(key);
    if (current) current.totalMinor += amountMinor;
    else balances.set(key, { account, currency, totalMinor: amountMinor });
  };
  const end = new Date(window.endMs).toISOString();
  if (previousSealedDate) {
    const base = await pool.query<{ account: string; currency: string; total: string }>(
      'SELECT account, currency, total::text FROM eod_ledger_balances WHERE business_date = $1', [previousSealedDate]);
    for (const r of base.rows) add(r.account, r.currency, minor(r.total));
  }
  const since = previousSealedDate ? new Date(window.startMs).toISOString() : null;
  const day = await pool.query<{ user_id: string; currency: string; total: string; rows: string; last_id: string }>(
    `SELECT user_id, currency, sum(amount)::text AS total, count(*)::text AS rows, max(id)::text AS last_id
       FROM ledger_entries
      WHERE created_at < $1 AND ($2::timestamptz IS NULL OR created_at >= $2)
      GROUP BY user_id, currency`, [end, since]);
  let dayRows = 0;
  let lastId = 0n;
  for (const r of day.rows) {
    add(r.user_id, r.currency, minor(r.total));
    dayRows += Number(r.rows);
    if (BigInt(r.last_id) > lastId) lastId = BigInt(r.last_id);
  }
  const windowRows = previousSealedDate ? dayRows : await ledgerRowsInWindow(pool, window);
  if (previousSealedDate && lastId === 0n) {
    const before = await pool.query<{ last_id: string | null }>('SELECT max(id)::text AS last_id FROM ledger_entries WHERE created_at < $1', [end]);
    lastId = BigInt(before.rows[0]?.last_id ?? '0');
  }
  return { balances, lastId: lastId.toString(), dayRows, windowRows };
}

/** How many ledger rows are dated inside the window [start, end). */
export async function ledgerRowsInWindow(client: Pick<Pool, 'query'>, window: BusinessWindow): Promise<number> {
  const result = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM ledger_entries WHERE created_at >= $1 AND created_at < $2',
    [new Date(window.startMs).toISOString(), new Date(window.endMs).toISOString()]);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Whether a transaction that began before the cutover is still open in this database: its rows
 * (created_at defaults to the transaction's start) could still land before the cut.
 */
export async function transactionsOpenSinceBeforeCut(pool: Pool, window: BusinessWindow): Promise<boolean> {
  const result = await pool.query(
    `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start < $1 LIMIT 1`,
    [new Date(window.endMs).toISOString()]);
  return (result.rowCount ?? 0) > 0;
}

/** Whether the engine history is complete through the cutover: an event at or after it was recorded. */
export async function engineHistoryPassedCut(pool: Pool, window: BusinessWindow): Promise<boolean> {
  const result = await pool.query('SELECT 1 FROM engine_balance_history WHERE ts >= $1 LIMIT 1', [new Date(window.endMs).toISOString()]);
  return (result.rowCount ?? 0) > 0;
}
