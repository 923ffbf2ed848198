import { z } from 'zod';
import { signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import { moneyScale } from '../breaks/break.js';
import type { CutDigest } from '../cut-digest.js';
import type { DurableWrites } from '../durable-writes.js';
import { reconLimits } from '../limits.js';
import { upsertPositions } from './checkpoint.js';
import { keyOf, type PositionBook, type PositionSource, type SavedPosition } from './positions.js';
import { leafValue } from './seal-record.js';

/**
 * The me_db positions as checkpointed (recon_me_db_positions): where the position book finds
 * what it evicted, and what a restart restores from, at most the book's cap (ADR 0026).
 */

const positionRow = z.object({ user_id: z.string(), currency: z.string(), engine_total: z.string(), engine_seq: z.string(), ledger_total: z.string() });
const columns = 'user_id, currency, engine_total::text, engine_seq::text, ledger_total::text';

const savedOf = (raw: unknown): SavedPosition => {
  const p = positionRow.parse(raw);
  return {
    userId: p.user_id,
    currency: p.currency,
    engineTotalMinor: signedDecimalToMinor(p.engine_total, moneyScale),
    engineSeq: Number(p.engine_seq),
    ledgerTotalMinor: signedDecimalToMinor(p.ledger_total, moneyScale),
  };
};

export function savedPositions(pool: Pool): PositionSource {
  return {
    async positionsOfUsers(userIds) {
      if (userIds.length === 0) return [];
      const result = await pool.query(`SELECT ${columns} FROM recon_me_db_positions WHERE user_id = ANY($1::text[])`, [userIds]);
      return result.rows.map(savedOf);
    },
    async positionsWithEngineBalance() {
      const result = await pool.query(`SELECT ${columns} FROM recon_me_db_positions WHERE engine_total <> 0`);
      return result.rows.map(savedOf);
    },
  };
}

export interface RestoredPositions {
  /** Positions saved. */
  known: number;
  /** Keys now held in memory: each is compared once at the first tick. */
  held: string[];
}

/**
 * After a restart: every saved position's leaf goes into the digest (read in pages, never all
 * at once); the book holds the ones that differ or whose key has a live break (they must be
 * judged again), then the others up to `inMemoryMax`. The rest stay in Postgres, counted.
 */
export async function restorePositions(
  pool: Pool, book: PositionBook, digest: CutDigest,
  options: { inMemoryMax: number; breaking(userId: string, currency: string): boolean; nowMs: number },
): Promise<RestoredPositions> {
  const held: string[] = [];
  let known = 0;
  let after: { userId: string; currency: string } | null = null;
  for (;;) {
    const page: SavedPosition[] = (after === null
      ? await pool.query(`SELECT ${columns} FROM recon_me_db_positions ORDER BY user_id, currency LIMIT $1`, [reconLimits.meDbRestorePageRowsMax])
      : await pool.query(`SELECT ${columns} FROM recon_me_db_positions WHERE (user_id, currency) > ($1, $2) ORDER BY user_id, currency LIMIT $3`,
        [after.userId, after.currency, reconLimits.meDbRestorePageRowsMax])).rows.map(savedOf);
    for (const p of page) {
      known++;
      if (holdWithinCap(book, digest, p, options)) held.push(keyOf(p.userId, p.currency));
    }
    const last = page.at(-1);
    if (!last || page.length < reconLimits.meDbRestorePageRowsMax) break;
    after = last;
  }
  book.noteOnlySaved(known - held.length);
  return { known, held };
}

interface HoldOptions {
  inMemoryMax: number;
  breaking(userId: string, currency: string): boolean;
  nowMs: number;
}

/**
 * A saved position's leaf into the digest, and the position into the book if it must be judged
 * again (it differs, or its key has a live break) or the book is under `inMemoryMax`. True: held.
 */
function holdWithinCap(book: PositionBook, digest: CutDigest, p: SavedPosition, options: HoldOptions): boolean {
  digest.replace(`${p.userId}/${p.currency}`, null, leafValue(p.engineTotalMinor, p.ledgerTotalMinor));
  const mustHold = p.engineTotalMinor !== p.ledgerTotalMinor || options.breaking(p.userId, p.currency);
  if (!mustHold && book.inMemory >= options.inMemoryMax) return false;
  book.restore(p.userId, p.currency, p.engineTotalMinor, p.engineSeq, p.ledgerTotalMinor, options.nowMs);
  return true;
}

/**
 * A cold seed (ADR 0025) under the cap: the saved positions become exactly `positions`, in one
 * (fenced) transaction. Rows already there are dropped first: with no checkpoint, none is vouched
 * for (a seed that crashed before its first checkpoint may have left some). Empty: only that.
 */
export async function replaceSavedPositions(writes: DurableWrites, positions: readonly SavedPosition[]): Promise<void> {
  await writes.transaction(async (client) => {
    await client.query('DELETE FROM recon_me_db_positions');
    for (let i = 0; i < positions.length; i += reconLimits.checkpointRowsPerStatementMax) {
      await upsertPositions(client, positions.slice(i, i + reconLimits.checkpointRowsPerStatementMax));
    }
  });
}

/**
 * A cold seed with more positions than the cap, once `replaceSavedPositions` saved them all:
 * held or left in Postgres as a restart does (`restorePositions`), without reading them back.
 */
export function holdSeededPositions(book: PositionBook, digest: CutDigest, positions: Iterable<SavedPosition>, options: HoldOptions): RestoredPositions {
  const held: string[] = [];
  let known = 0;
  for (const p of positions) {
    known++;
    if (holdWithinCap(book, digest, p, options)) held.push(keyOf(p.userId, p.currency));
  }
  book.noteOnlySaved(known - held.length);
  return { known, held };
}
