import { minorToDecimal } from '../../config/decimal.js';
import type { BreakRegistry } from '../breaks/break-registry.js';
import { breakKinds } from '../breaks/break-kinds.js';
import { moneyScale } from '../breaks/break.js';
import { keyOf, type Eviction, type Position, type PositionBook, type SideClocks } from './positions.js';

export const balanceKind = breakKinds.balance;
export const journalKind = breakKinds.journalUnbalanced;
export const currencyKind = breakKinds.currencyNonzero;
export const errorKind = breakKinds.reconcilerError;

export const breakKeyOf = (p: { userId: string; currency: string }): string => `${p.userId}/${p.currency}`;

/**
 * The time a change is dated from: its side's own clock (`ownMs`), unless that side was already
 * judged complete past it (`completeMs`): then it is backdated (a replay, a backfill, a late
 * commit) and dates from `receivedMs`, when the reconciler learnt of it. Otherwise a replayed
 * day would look a day late on the other side (ADR 0005, Later).
 */
export const dateOfChange = (ownMs: number, completeMs: number, receivedMs: number): number => (ownMs < completeMs ? receivedMs : ownMs);

export interface CheckCounts {
  keysCompared: number;
  keysEqual: number;
  keysInFlight: number;
}

/** Compares the watched keys (or just `only`); resolves those that agree; returns those past their grace window. */
export async function compareWatched(
  book: PositionBook,
  watched: Set<string>,
  breaks: BreakRegistry,
  counts: CheckCounts,
  clocks: SideClocks,
  only?: readonly Position[],
): Promise<Position[]> {
  const keys = only ? only.map((p) => keyOf(p.userId, p.currency)) : [...watched];
  const suspects: Position[] = [];
  for (const key of keys) {
    const p = book.get(key);
    if (!p) {
      watched.delete(key);
      continue;
    }
    const verdict = book.evaluate(key, clocks);
    counts.keysCompared++;
    if (verdict === 'equal') {
      counts.keysEqual++;
      watched.delete(key);
      await breaks.resolve(balanceKind, breakKeyOf(p), { leftMinor: p.engineTotalMinor, rightMinor: p.ledgerTotalMinor });
    } else if (verdict === 'in_flight') {
      counts.keysInFlight++;
    } else {
      suspects.push(p);
    }
  }
  return suspects;
}

/** Every journal of a batch must sum to zero per currency; one that does not is a break. */
export async function judgeJournals(breaks: BreakRegistry, journals: ReadonlyMap<string, ReadonlyMap<string, bigint>>, nowMs: number): Promise<void> {
  for (const [journal, sums] of journals) {
    for (const [currency, sum] of sums) {
      if (sum !== 0n) {
        await breaks.raise({ kind: journalKind, key: `${journal}/${currency}`, currency, leftMinor: sum, rightMinor: 0n, detail: `journal ${journal} sums to ${minorToDecimal(sum, moneyScale)} ${currency}, not 0` }, nowMs);
      }
    }
  }
}

/** Σ of all ledger accounts in a currency must be zero: checked for the currencies that changed. */
export async function judgeCurrencyTotals(breaks: BreakRegistry, toCheck: Set<string>, totals: ReadonlyMap<string, bigint>, nowMs: number): Promise<void> {
  for (const currency of [...toCheck]) {
    const total = totals.get(currency) ?? 0n;
    if (total === 0n) await breaks.resolve(currencyKind, currency, { leftMinor: 0n, rightMinor: 0n });
    else await breaks.raise({ kind: currencyKind, key: currency, currency, leftMinor: total, rightMinor: 0n, detail: `Σ of all ledger accounts in ${currency} is ${minorToDecimal(total, moneyScale)}, not 0` }, nowMs);
    toCheck.delete(currency);
  }
}

/** The suspects still a break against the ledger as committed now (`committed`: what each key has past the read horizon). */
export function stillBreaking(book: PositionBook, suspects: readonly Position[], committed: ReadonlyMap<string, bigint>, clocks: SideClocks): Position[] {
  return suspects.filter((p) => {
    const pending = committed.get(keyOf(p.userId, p.currency));
    return pending === undefined || book.evaluate(keyOf(p.userId, p.currency), clocks, p.ledgerTotalMinor + pending) === 'break';
  });
}

/** The key of the meta-alert raised while the position book is over its cap. */
export const positionCapKey = 'positions';

/**
 * More positions in memory than the cap with none evictable (every one differs, or has a live
 * break) for longer than the grace window: paged once as a reconciler_error naming the limit.
 * The reconciler keeps working and keeps every position; the alert resolves once the book is
 * within its cap again. A shorter excess is in-flight changes outnumbering the cap: not paged.
 * While a side is behind (events waiting in the stream, the ledger read full) its differences are
 * in flight by construction, so the grace counts from when both sides were last read through;
 * a book over its cap that long (`behindGraceMs`), behind or not, pages all the same.
 */
export class PositionCapAlarm {
  /** When the book went over its cap (and it has stayed over since). */
  private overSinceMs: number | null = null;
  /** Over the cap, since when both sides have been read through (null: a side is behind). */
  private readThroughSinceMs: number | null = null;
  private raised = false;

  constructor(private readonly breaks: BreakRegistry, private readonly inMemoryMax: number, private readonly graceMs: number, private readonly behindGraceMs: number) {}

  async judge(eviction: Eviction, nowMs: number, sideBehind: boolean): Promise<void> {
    if (eviction.underCap) {
      this.overSinceMs = null;
      this.readThroughSinceMs = null;
      if (this.raised) await this.breaks.resolve(errorKind, positionCapKey);
      this.raised = false;
      return;
    }
    this.overSinceMs ??= nowMs;
    if (sideBehind) this.readThroughSinceMs = null;
    else this.readThroughSinceMs ??= nowMs;
    const settled = this.readThroughSinceMs !== null && nowMs - this.readThroughSinceMs >= this.graceMs;
    const tooLong = nowMs - this.overSinceMs >= Math.max(this.graceMs, this.behindGraceMs);
    if (!settled && !tooLong) return;
    this.raised = true;
    await this.breaks.raiseMeta({
      kind: errorKind, key: positionCapKey,
      detail: `${eviction.inMemory} me_db positions in memory, over the cap of ${this.inMemoryMax} (setting RECON_ME_DB_POSITIONS_MAX) ` +
        'with none evictable: every one differs or has a live break. All are kept and still reconciled; memory grows until they agree.',
    }, nowMs);
  }
}
