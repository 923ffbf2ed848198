import type { BalanceEvent, BalanceRow } from '../matching-engine/contract.js';
import { BalanceRegistry, type BalanceDelta } from './balance-registry.js';

/**
 * The matching engine's state as it has published it: the registry and the global seq move
 * together, one seq per (user, currency) row a change touches, so a snapshot taken between two
 * changes is exactly the state as of `lastSeq`.
 */
export class SimulatedEngine {
  readonly registry = new BalanceRegistry();
  private seq: number;

  constructor(
    startSeq: number,
    private readonly emit: (event: BalanceEvent) => void,
  ) {
    this.seq = startSeq;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Applies a change atomically and emits one event per row it touched, numbered in order. */
  apply(deltas: readonly BalanceDelta[], nowMs: number): BalanceEvent[] {
    const rows = this.registry.apply(deltas);
    const events = rows.map((row): BalanceEvent => {
      this.seq += 1;
      return { ...row, seq: this.seq, tsMs: nowMs };
    });
    for (const event of events) this.emit(event);
    return events;
  }

  /** Loads balances without emitting (a restart from the ledger); the seq stays where it is. */
  load(rows: readonly BalanceRow[]): void {
    this.registry.apply(rows.map((r) => ({ userId: r.userId, currency: r.currency, availableDeltaMinor: r.availableMinor, lockedDeltaMinor: r.lockedMinor })));
  }

  /** A consistent copy: taken synchronously, so no change can land half inside it. */
  snapshot(): { asOfSeq: number; rows: BalanceRow[] } {
    return { asOfSeq: this.seq, rows: this.registry.rows() };
  }
}
