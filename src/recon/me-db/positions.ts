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
 *
 * Bounded (ADR 0026): at most `inMemoryMax` positions are held; the least recently used one
 * that is clean (its totals are in recon_me_db_positions), agreeing and not breaking is
 * evicted, and loaded back (`ensureLoaded`) before a batch touches it. An agreeing position
 * keeps only its current point per side: earlier points can only date a lag from before the
 * agreement, which later points dominate. One verdict differs: a value matching one the other
 * side held before they last agreed no longer dates a lag from then, so such a break is judged
 * from the change, up to one grace window later (never sooner), as after a restart.
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
  /** Positions held in memory at most (plus one batch); absent: every position is held. */
  inMemoryMax?: number;
}

/** A position as checkpointed (recon_me_db_positions). */
export interface SavedPosition extends PositionKey {
  engineTotalMinor: bigint;
  engineSeq: number;
  ledgerTotalMinor: bigint;
}

/** Where evicted positions are found again: the checkpoint's table. */
export interface PositionSource {
  /** The saved positions of these users, every currency (one query). */
  positionsOfUsers(userIds: readonly string[]): Promise<SavedPosition[]>;
  /** The saved positions whose engine total is not zero. */
  positionsWithEngineBalance(): Promise<SavedPosition[]>;
}

/**
 * Why a position that agrees must stay in memory: not yet checkpointed, a live break held on
 * it, or still to be judged while a break may be recorded but not held (its resolution).
 */
export type PinReason = 'dirty' | 'break' | 'watched' | null;

export interface PositionBookOptions {
  source: PositionSource;
  pinOf(key: string, position: Position): PinReason;
  /**
   * Still to be compared. A differing position is held while it is; once it is not (its break
   * is recorded but not held: a storm), it is evictable too and judged again when it changes.
   */
  isWatched(key: string): boolean;
  /** Called for each key evicted (the caller forgets it too, e.g. from its watch list). */
  onEvicted?(key: string): void;
}

export interface Eviction {
  /** Positions held after the eviction. */
  inMemory: number;
  underCap: boolean;
  /** Agreeing positions kept only because they are not checkpointed yet: a checkpoint frees them. */
  keptDirty: number;
}

/** An eviction frees this share of the cap at once, so batches do not each scan for one slot. */
const evictToShareOfCap = 0.9;

export const keyOf = (userId: string, currency: string): string => `${userId}\u0000${currency}`;

export class PositionBook {
  /** In least recently used order: a change moves its position to the end. */
  private readonly positions = new Map<string, Position>();
  /** Known positions not held in memory (only in recon_me_db_positions). */
  private onlySaved = 0;
  /** Users whose saved positions the last `ensureLoaded` fetched: a key of theirs not held is new. */
  private loadedUsers = new Set<string>();

  constructor(private readonly limits: PositionLimits, private readonly options?: PositionBookOptions) {}

  /** Positions known: held in memory or only saved. The seal counts these. */
  get size(): number {
    return this.positions.size + this.onlySaved;
  }

  get inMemory(): number {
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
  restore(userId: string, currency: string, engineTotalMinor: bigint, engineSeq: number, ledgerTotalMinor: bigint, nowMs: number, key = keyOf(userId, currency)): void {
    this.positions.set(key, {
      userId, currency, engineTotalMinor, engineSeq, ledgerTotalMinor,
      engineHistory: [{ totalMinor: engineTotalMinor, atMs: nowMs }],
      ledgerHistory: [{ totalMinor: ledgerTotalMinor, atMs: nowMs }],
      differentSinceMs: null,
    });
  }

  /** Counts saved positions a restore left in Postgres only (known, not held). */
  noteOnlySaved(count: number): void {
    this.onlySaved += count;
  }

  /**
   * Before a batch: the saved positions of `userIds` that are not held are loaded (one query
   * per `usersPerLoadMax` users). A key of these users that is still not held afterwards is new.
   */
  async ensureLoaded(userIds: Iterable<string>, usersPerLoadMax = 10_000): Promise<void> {
    this.loadedUsers = new Set(userIds);
    const { source } = this.options ?? {};
    if (!source || this.onlySaved === 0) return;
    const users = [...this.loadedUsers];
    for (let i = 0; i < users.length; i += usersPerLoadMax) this.load(await source.positionsOfUsers(users.slice(i, i + usersPerLoadMax)));
  }

  /** Before a re-baseline: every saved position with an engine balance is held (it may have to be zeroed). */
  async ensureEngineBalancesLoaded(): Promise<void> {
    const { source } = this.options ?? {};
    if (source && this.onlySaved > 0) this.load(await source.positionsWithEngineBalance());
  }

  private load(saved: readonly SavedPosition[]): void {
    for (const p of saved) {
      // A held position is the newer one (it may not be checkpointed yet).
      if (this.positions.has(keyOf(p.userId, p.currency))) continue;
      this.restore(p.userId, p.currency, p.engineTotalMinor, p.engineSeq, p.ledgerTotalMinor, 0);
      this.onlySaved--;
    }
  }

  /**
   * Evicts the least recently used positions that are clean, agreeing (or differing with their
   * break recorded and no longer watched) and not holding a live break, down
   * to 90% of the cap once it is exceeded. Their totals are in recon_me_db_positions, their
   * leaves stay in the caller's digest: nothing is lost.
   */
  evictToCap(): Eviction {
    const cap = this.limits.inMemoryMax;
    const options = this.options;
    if (cap === undefined || !options || this.positions.size <= cap) return { inMemory: this.positions.size, underCap: true, keptDirty: 0 };
    const target = Math.floor(cap * evictToShareOfCap);
    let keptDirty = 0;
    for (const [key, p] of this.positions) {
      if (this.positions.size <= target) break;
      const agreeing = p.engineTotalMinor === p.ledgerTotalMinor && p.differentSinceMs === null;
      if (!agreeing && options.isWatched(key)) continue;
      const pin = options.pinOf(key, p);
      if (pin === 'dirty') keptDirty++;
      if (pin !== null) continue;
      this.positions.delete(key);
      this.onlySaved++;
      options.onEvicted?.(key);
    }
    return { inMemory: this.positions.size, underCap: this.positions.size <= cap, keptDirty };
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
      if (committedLedgerMinor === undefined) settle(p);
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
    if (position) {
      // Most recently used last: eviction takes from the front.
      this.positions.delete(key);
      this.positions.set(key, position);
    } else {
      if (this.onlySaved > 0 && !this.loadedUsers.has(userId)) {
        throw new Error(`position ${userId}/${currency} may be saved but is not loaded: ensureLoaded must run before the batch`);
      }
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

/** The sides agree: each side's earlier points can no longer date a lag (see the top), only the current ones are kept. */
function settle(position: Position): void {
  position.differentSinceMs = null;
  if (position.engineHistory.length > 1) position.engineHistory.splice(0, position.engineHistory.length - 1);
  if (position.ledgerHistory.length > 1) position.ledgerHistory.splice(0, position.ledgerHistory.length - 1);
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
