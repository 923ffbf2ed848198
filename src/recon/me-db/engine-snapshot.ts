import type { Snapshot } from '../../adapters/matching-engine/snapshot-client.js';
import { keyOf, type PositionBook } from './positions.js';

export interface EngineTotal {
  userId: string;
  currency: string;
  totalMinor: bigint;
}

/**
 * The engine totals a re-baseline sets: the snapshot's rows, then zero for every balance the
 * snapshot does not list (zero on the engine's side). Lazy: the book is read after the caller
 * has applied the snapshot's rows.
 */
export function* rebaselineTotals(snapshot: Snapshot, book: PositionBook): Generator<EngineTotal> {
  const inSnapshot = new Set<string>();
  for (const row of snapshot.balances) {
    yield row;
    inSnapshot.add(keyOf(row.userId, row.currency));
  }
  for (const p of [...book.values()]) {
    const key = keyOf(p.userId, p.currency);
    if (!inSnapshot.has(key) && p.engineTotalMinor !== 0n) yield { userId: p.userId, currency: p.currency, totalMinor: 0n };
  }
}
