/**
 * The me_db running totals per (user, currency) and the comparison rule. Pure: no I/O,
 * time passed in.
 *
 * The two sides are separate streams with no shared sequence, so "compared at watermarks"
 * is done per key through each side's recent history, dated by each side's own clock (the
 * engine event's ts, the ledger row's created_at): when the sides differ but one side's
 * current value is a value the other side held a moment ago, the first side is merely
 * behind. It is only a break when both sides are known complete past the change the
 * lagging side missed plus the grace window, or past the first difference when the values
 * match no recent history. A backdated change (a replay, a backfill) is dated by the caller
 * from its arrival instead. See docs/adr/0005-me-db-comparison.md.
 */

export interface PositionKey {
  userId: string;
  currency: string;
}

interface HistoryPoint {
  totalMinor: bigint;
  atMs: number;
}

export interface Position extends PositionKey {
  engineTotalMinor: bigint;
  engineSeq: number;
  ledgerTotalMinor: bigint;
  /** Values each side held recently, oldest first, the current one last. */
  engineHistory: HistoryPoint[];
  ledgerHistory: HistoryPoint[];
  /** When the sides last stopped agreeing; null while they agree. */
  differentSinceMs: number | null;
}

export type Verdict = 'equal' | 'in_flight' | 'break';

/** Up to when each side is known complete: nothing it held before then is still on its way. */
export interface SideClocks {
  engineCompleteMs: number;
  ledgerCompleteMs: number;
}

export interface PositionLimits {
  graceMs: number;
  /** History kept per side and key; must exceed the largest lag that is not a break. */
  historyMs: number;
  historyPointsMax: number;
}

export const keyOf = (userId: string, currency: string): string => `${userId}\u0000${currency}`;

export class PositionBook {
  private readonly positions = new Map<string, Position>();

  constructor(private readonly limits: PositionLimits) {}

  get size(): number {
    return this.positions.size;
  }

  get(key: string): Position | undefined {
    return this.positions.get(key);
  }

  values(): IterableIterator<Position> {
    return this.positions.values();
  }

  /**
   * The moment this book was restored: a difference dates from it at the earliest. What
   * changed while the reconciler was down is judged once both sides have caught up, with a
   * full grace window after the restart (the history of in-flight changes was not saved).
   */
  private restoredAtMs = 0;

  markRestored(nowMs: number): void {
    this.restoredAtMs = nowMs;
  }

  /** Restores a saved position after a restart; its history starts at the saved values. */
  restore(userId: string, currency: string, engineTotalMinor: bigint, engineSeq: number, ledgerTotalMinor: bigint, nowMs: number): void {
    this.positions.set(keyOf(userId, currency), {
      userId, currency, engineTotalMinor, engineSeq, ledgerTotalMinor,
      engineHistory: [{ totalMinor: engineTotalMinor, atMs: nowMs }],
      ledgerHistory: [{ totalMinor: ledgerTotalMinor, atMs: nowMs }],
      differentSinceMs: null,
    });
  }

  /** The engine's absolute balance at `seq`, changed at `atMs` (the event's own time). Returns the key. */
  applyEngine(userId: string, currency: string, totalMinor: bigint, seq: number, atMs: number): string {
    const position = this.open(userId, currency);
    position.engineTotalMinor = totalMinor;
    position.engineSeq = seq;
    this.remember(position.engineHistory, totalMinor, atMs);
    noteDifference(position, atMs);
    return keyOf(userId, currency);
  }

  /** A ledger entry (a signed delta) written at `atMs` (its created_at). Returns the key. */
  applyLedger(userId: string, currency: string, amountMinor: bigint, atMs: number): string {
    const position = this.open(userId, currency);
    position.ledgerTotalMinor += amountMinor;
    this.remember(position.ledgerHistory, position.ledgerTotalMinor, atMs);
    noteDifference(position, atMs);
    return keyOf(userId, currency);
  }

  /**
   * `clocks`: how far each side is known complete (a number: both). A difference is a break
   * only once both sides are complete past the change it dates from plus the grace window,
   * so a side that is merely behind (lagging, or catching up on a backlog) is never a break.
   * `committedLedgerMinor`: the ledger as committed right now, when the caller knows it is
   * ahead of what was applied (rows past the read horizon); the comparison then uses it.
   */
  evaluate(key: string, clocks: SideClocks | number, committedLedgerMinor?: bigint): Verdict {
    const p = this.positions.get(key);
    if (!p) return 'equal';
    const ledgerMinor = committedLedgerMinor ?? p.ledgerTotalMinor;
    if (p.engineTotalMinor === ledgerMinor) {
      if (committedLedgerMinor === undefined) p.differentSinceMs = null;
      return 'equal';
    }
    const completeMs = typeof clocks === 'number' ? clocks : Math.min(clocks.engineCompleteMs, clocks.ledgerCompleteMs);
    p.differentSinceMs ??= completeMs;
    const { graceMs } = this.limits;
    const ledgerBehindSinceMs = oldestUnmatchedChangeMs(p.engineHistory, ledgerMinor);
    const engineBehindSinceMs = oldestUnmatchedChangeMs(p.ledgerHistory, p.engineTotalMinor);
    const since = (t: number): number => Math.max(t, this.restoredAtMs);
    const behindSinceMs = [ledgerBehindSinceMs, engineBehindSinceMs].filter((t): t is number => t !== null);
    if (behindSinceMs.length > 0) return behindSinceMs.some((t) => completeMs - since(t) < graceMs) ? 'in_flight' : 'break';
    return completeMs - since(p.differentSinceMs) < graceMs ? 'in_flight' : 'break';
  }

  private open(userId: string, currency: string): Position {
    const key = keyOf(userId, currency);
    let position = this.positions.get(key);
    if (!position) {
      position = {
        userId, currency, engineTotalMinor: 0n, engineSeq: 0, ledgerTotalMinor: 0n,
        engineHistory: [{ totalMinor: 0n, atMs: 0 }], ledgerHistory: [{ totalMinor: 0n, atMs: 0 }], differentSinceMs: null,
      };
      this.positions.set(key, position);
    }
    return position;
  }

  private remember(history: HistoryPoint[], totalMinor: bigint, nowMs: number): void {
    history.push({ totalMinor, atMs: nowMs });
    const cutoffMs = nowMs - this.limits.historyMs;
    // Keep one point older than the cutoff: it is the value the other side may still be at.
    while (history.length > 2 && ((history[1]?.atMs ?? nowMs) < cutoffMs || history.length > this.limits.historyPointsMax)) history.shift();
  }
}

/** The difference dates from the change that made the sides disagree, not from when it was first looked at. */
function noteDifference(position: Position, nowMs: number): void {
  if (position.engineTotalMinor === position.ledgerTotalMinor) position.differentSinceMs = null;
  else position.differentSinceMs ??= nowMs;
}

/**
 * If `value` is one the side with `history` held (its latest such point), the time of the
 * change right after it: since when the other side has been behind. null if no match.
 */
function oldestUnmatchedChangeMs(history: readonly HistoryPoint[], value: bigint): number | null {
  for (let i = history.length - 2; i >= 0; i--) {
    if (history[i]?.totalMinor === value) return history[i + 1]?.atMs ?? null;
  }
  return null;
}
