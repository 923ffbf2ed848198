import { z } from 'zod';
import { signedDecimalToMinor } from '../../config/decimal.js';
import type { QueryResult } from 'pg';
import type { Pool } from '../../db/pool.js';
import { ledgerScale, ledgerStart, type LedgerWatermark } from './ledger-follower.js';

/** Σ amount of one (account, currency) over every row below the seed's horizon. */
export interface SeededTotal {
  userId: string;
  currency: string;
  totalMinor: bigint;
}

/** A journal whose rows below the horizon do not sum to zero in a currency. */
export interface UnbalancedJournal {
  txId: bigint;
  journalId: string;
  currency: string;
  sumMinor: bigint;
}

export interface LedgerSeed {
  totals: SeededTotal[];
  /**
   * Where the follower goes on from: the last (tx_id, id) below the horizon, the position the
   * follower itself would reach reading the same snapshot. Every row at or before it is in
   * `totals`; every row after it is not, whenever it commits.
   */
  watermark: LedgerWatermark;
  /** pg_snapshot_xmin of the seed's snapshot: every transaction below it had finished. */
  horizonTxId: bigint;
  rows: bigint;
}

const horizonRow = z.object({ horizon: z.string() });
const lastRow = z.object({ tx_id: z.string(), id: z.string() });
const journalRow = z.object({ tx_id: z.string(), journal_id: z.string(), currency: z.string(), total: z.string() });

/**
 * The ledger as a set-based seed, at the watermark the follower would reach (ADR 0025).
 *
 * One REPEATABLE READ snapshot: its horizon H is pg_snapshot_xmin, as in readLedgerBatch. Every
 * transaction below H has finished, so its committed rows are all visible in the snapshot and no
 * row below H can appear later; rows at or above H (in flight, or committed past an older one
 * still open) are left to the follower, which reads them once its own horizon passes them.
 * The totals and the last position below H are two statements of that one snapshot, so they
 * describe the same rows.
 */
export async function readLedgerSeed(pool: Pool): Promise<LedgerSeed> {
  return readLedgerSums(pool, null);
}

/**
 * The rows past a checkpoint's watermark W as sums (ADR 0025, "catch-up of the ledger side"):
 * the seed's reading restricted to (tx_id, id) > W, the very rows the follower would read from
 * W up to the same horizon. The watermark returned is W itself when there are none.
 */
export async function readLedgerSumsAfter(pool: Pool, after: LedgerWatermark): Promise<LedgerSeed> {
  return readLedgerSums(pool, after);
}

async function readLedgerSums(pool: Pool, after: LedgerWatermark | null): Promise<LedgerSeed> {
  const client = await pool.connect();
  try {
    // One round trip: the first statement takes the transaction's snapshot and returns its
    // horizon; the later ones read it again as an InitPlan (evaluated once per statement), the
    // same value, since every statement of a REPEATABLE READ transaction sees its first snapshot.
    // A second round trip to pass the horizon as a literal cost a cold start as much as the Σ
    // itself whenever the event loop was busy with the engine's snapshot meanwhile.
    const horizon = '(SELECT pg_snapshot_xmin(pg_current_snapshot()))';
    // Past a watermark (bigints, so digits only): the row comparison readLedgerBatch makes.
    const past = after === null ? '' : ` AND (e.tx_id, e.id) > ('${after.txId.toString()}'::xid8, ${after.id.toString()}::bigint)`;
    // The last position first (through the index); then the sums. From the start, index scans
    // are off: the filter keeps nearly every row, but a freshly grown table's statistics may not
    // say so yet. Past a watermark the planner chooses (the range may be a small part of the table).
    // ORDER BY names the table's columns (e.): an unqualified `id` would be the ::text output
    // column, sorted as text ("9999" after "10005"), and the follower would read the rows past
    // that watermark a second time.
    const scanSettings = `SET LOCAL enable_indexscan = ${after === null ? 'off' : 'on'}; SET LOCAL enable_bitmapscan = ${after === null ? 'off' : 'on'};`;
    const results = (await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
       SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon;
       SELECT e.tx_id::text AS tx_id, e.id::text AS id FROM ledger_entries e WHERE e.tx_id < ${horizon}${past}
        ORDER BY e.tx_id DESC, e.id DESC LIMIT 1;
       ${scanSettings}
       SELECT e.user_id, e.currency, sum(e.amount)::text AS total, count(*)::text AS rows
         FROM ledger_entries e WHERE e.tx_id < ${horizon}${past}
        GROUP BY e.user_id, e.currency;
       COMMIT`,
    )) as unknown as QueryResult[];
    if (results.length !== 7) throw new Error(`ledger seed: ${results.length} results, expected 7`);
    const [, first, last, , , totals] = results;
    const horizonText = horizonRow.parse(first?.rows[0]).horizon;
    if (!/^[0-9]+$/.test(horizonText)) throw new Error(`ledger seed: horizon "${horizonText}" is not a transaction id`);
    if (!totals || !last) throw new Error('ledger seed: a statement returned no result');
    let rows = 0n;
    const seeded: SeededTotal[] = [];
    // One row per (account, currency): checked by hand, a schema parse per row would cost more than the scan.
    for (const r of totals.rows as Array<Record<string, unknown>>) {
      const { user_id: userId, currency, total, rows: count } = r;
      if (typeof userId !== 'string' || typeof currency !== 'string' || typeof total !== 'string' || typeof count !== 'string') {
        throw new Error(`ledger seed: unexpected row ${JSON.stringify(r)}`);
      }
      rows += BigInt(count);
      seeded.push({ userId, currency, totalMinor: signedDecimalToMinor(total, ledgerScale) });
    }
    const lastPosition = last.rows[0] === undefined ? null : lastRow.parse(last.rows[0]);
    return {
      totals: seeded,
      watermark: lastPosition ? { txId: BigInt(lastPosition.tx_id), id: BigInt(lastPosition.id) } : (after ?? ledgerStart),
      horizonTxId: BigInt(horizonText),
      rows,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface UnbalancedJournals {
  journals: UnbalancedJournal[];
  /** More exist than `journalsMax`: only the first are listed. */
  truncated: boolean;
}

/**
 * The journals below `horizonTxId` that do not sum to zero per currency: the journal check of
 * a seeded history. The rows below a horizon are final (every transaction there has finished;
 * the ledger is append-only), so this needs no shared snapshot with the seed and can run after
 * it: it sees exactly the rows the seed summed. It costs a grouping by journal over all of
 * them, more than the seed itself, hence apart from it (ADR 0025).
 */
export async function readUnbalancedJournals(pool: Pool, horizonTxId: bigint, journalsMax: number, after: LedgerWatermark = ledgerStart): Promise<UnbalancedJournals> {
  // `after`: a catch-up's range starts past the checkpoint's watermark (ledgerStart: the whole history).
  const result = await pool.query(
    `SELECT e.tx_id::text AS tx_id, e.journal_id, e.currency, sum(e.amount)::text AS total
       FROM ledger_entries e WHERE e.tx_id < $1::text::xid8 AND (e.tx_id, e.id) > ($3::text::xid8, $4::bigint)
      GROUP BY e.tx_id, e.journal_id, e.currency HAVING sum(e.amount) <> 0
      ORDER BY e.tx_id, e.journal_id, e.currency LIMIT $2`,
    [horizonTxId.toString(), journalsMax + 1, after.txId.toString(), after.id.toString()],
  );
  const journals = z.array(journalRow).parse(result.rows).map((j) => ({
    txId: BigInt(j.tx_id), journalId: j.journal_id, currency: j.currency, sumMinor: signedDecimalToMinor(j.total, ledgerScale),
  }));
  return { journals: journals.slice(0, journalsMax), truncated: journals.length > journalsMax };
}
