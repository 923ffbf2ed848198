import type { BalanceRow } from '../matching-engine/contract.js';

/** A change to one (user, currency): how much moves into or out of available and locked. */
export interface BalanceDelta {
  userId: string;
  currency: string;
  availableDeltaMinor: bigint;
  lockedDeltaMinor: bigint;
}

interface Holding {
  availableMinor: bigint;
  lockedMinor: bigint;
}

const keyOf = (userId: string, currency: string): string => `${userId}\u0000${currency}`;

/**
 * What the matching engine holds per (user, currency), like the engine's UserRegistry: locked and
 * available in bigint minor units, total = locked + available by construction. A row exists once a
 * change has touched it. Neither part may go negative; a change that would is refused whole.
 */
export class BalanceRegistry {
  private readonly holdings = new Map<string, Holding & { userId: string; currency: string }>();

  get(userId: string, currency: string): BalanceRow {
    const h = this.holdings.get(keyOf(userId, currency));
    const lockedMinor = h?.lockedMinor ?? 0n;
    const availableMinor = h?.availableMinor ?? 0n;
    return { userId, currency, totalMinor: lockedMinor + availableMinor, lockedMinor, availableMinor };
  }

  /** Sums deltas per (user, currency), in first-seen order, so one change yields one row per key. */
  static merge(deltas: readonly BalanceDelta[]): BalanceDelta[] {
    const merged = new Map<string, BalanceDelta>();
    for (const d of deltas) {
      const key = keyOf(d.userId, d.currency);
      const seen = merged.get(key);
      if (seen) {
        seen.availableDeltaMinor += d.availableDeltaMinor;
        seen.lockedDeltaMinor += d.lockedDeltaMinor;
      } else {
        merged.set(key, { ...d });
      }
    }
    return [...merged.values()];
  }

  /** Why the deltas cannot apply (a part would go negative), or null. */
  problemWith(deltas: readonly BalanceDelta[]): string | null {
    for (const d of BalanceRegistry.merge(deltas)) {
      const row = this.get(d.userId, d.currency);
      if (row.availableMinor + d.availableDeltaMinor < 0n) return `${d.userId}/${d.currency}: available would go negative`;
      if (row.lockedMinor + d.lockedDeltaMinor < 0n) return `${d.userId}/${d.currency}: locked would go negative`;
    }
    return null;
  }

  /** Applies all deltas or none; returns the resulting row of every key touched. A refused change is a bug in the caller. */
  apply(deltas: readonly BalanceDelta[]): BalanceRow[] {
    const problem = this.problemWith(deltas);
    if (problem) throw new Error(`balance registry: ${problem}`);
    return BalanceRegistry.merge(deltas).map((d) => {
      const key = keyOf(d.userId, d.currency);
      const h = this.holdings.get(key) ?? { userId: d.userId, currency: d.currency, availableMinor: 0n, lockedMinor: 0n };
      h.availableMinor += d.availableDeltaMinor;
      h.lockedMinor += d.lockedDeltaMinor;
      this.holdings.set(key, h);
      return this.get(d.userId, d.currency);
    });
  }

  /** Every row, sorted by user then currency (a stable order for snapshots and tests). */
  rows(): BalanceRow[] {
    return [...this.holdings.values()]
      .map((h) => this.get(h.userId, h.currency))
      .sort((a, b) => (a.userId === b.userId ? cmp(a.currency, b.currency) : cmp(a.userId, b.userId)));
  }

  get size(): number {
    return this.holdings.size;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
