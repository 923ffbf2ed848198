import type { Fill } from './fill.js';
import { decimalToMinor } from '../../config/decimal.js';
import { divideHalfEven, moneyScale, multiplyAmounts, unitMinor } from './rounding.js';

/** One row of the fee tier table: from `thresholdMinor` of 30-day volume (tier currency) up. */
export interface FeeTier {
  tier: number;
  thresholdMinor: bigint;
  makerRateMinor: bigint;
  takerRateMinor: bigint;
}

/** The default of FEE_TIERS (ADR 0022): volume in USDT over 30 days → maker/taker rate. */
export const defaultFeeTiers = '0:0.0010/0.0010,1000000:0.0008/0.0009,5000000:0.0006/0.0008,25000000:0.0004/0.0006,100000000:0.0002/0.0004';

/** Parses `threshold:maker/taker,…` (thresholds ascending from 0, rates decimal fractions). Throws with the bad entry. */
export function parseFeeTiers(text: string): FeeTier[] {
  const tiers: FeeTier[] = [];
  for (const [index, entry] of text.split(',').map((e) => e.trim()).filter(Boolean).entries()) {
    const match = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match) throw new Error(`expected threshold:maker/taker entries like 1000000:0.0008/0.0009, got "${entry}"`);
    const thresholdMinor = decimalToMinor(match[1]!, moneyScale);
    const previous = tiers[index - 1];
    if (index === 0 && thresholdMinor !== 0n) throw new Error('the first tier must start at 0');
    if (previous && thresholdMinor <= previous.thresholdMinor) throw new Error(`thresholds must increase ("${entry}")`);
    tiers.push({ tier: index, thresholdMinor, makerRateMinor: decimalToMinor(match[2]!, moneyScale), takerRateMinor: decimalToMinor(match[3]!, moneyScale) });
  }
  if (tiers.length === 0) throw new Error('at least one tier');
  return tiers;
}

/** The highest tier whose threshold the volume reaches. */
export function tierFor(tiers: readonly FeeTier[], volumeMinor: bigint): FeeTier {
  let found = tiers[0]!;
  for (const t of tiers) if (volumeMinor >= t.thresholdMinor) found = t;
  return found;
}

export interface VolumeLine {
  userId: string;
  /** Σ quantity × price per quote currency (exact, rounded once half even). */
  byQuote: Map<string, bigint>;
  /** In the tier currency; quotes without a mark are left out and named in `unpriced`. */
  volumeMinor: bigint;
  unpriced: string[];
}

/**
 * Per user: the fills' notional per quote currency, converted to `tierCurrency` by the mark of
 * `<QUOTE>-<tierCurrency>` (ADR 0022). The notional is Σ(q × p) at 36 decimals, rounded once.
 */
export function volumeByUser(fills: readonly Fill[], tierCurrency: string, marks: ReadonlyMap<string, bigint>): VolumeLine[] {
  const exact = new Map<string, Map<string, bigint>>(); // user → quote → Σ q·p at 36 decimals
  for (const f of fills) {
    const perQuote = exact.get(f.userId) ?? new Map<string, bigint>();
    perQuote.set(f.quote, (perQuote.get(f.quote) ?? 0n) + f.quantityMinor * f.priceMinor);
    exact.set(f.userId, perQuote);
  }
  return volumeFromNotionals(new Map([...exact].map(([u, m]) => [u, new Map([...m].map(([q, v]) => [q, divideHalfEven(v, unitMinor)]))])), tierCurrency, marks);
}

/** The same from notionals already summed per (user, quote) (the step sums them in SQL). */
export function volumeFromNotionals(notionals: ReadonlyMap<string, ReadonlyMap<string, bigint>>, tierCurrency: string, marks: ReadonlyMap<string, bigint>): VolumeLine[] {
  const lines: VolumeLine[] = [];
  for (const userId of [...notionals.keys()].sort()) {
    const byQuote = new Map(notionals.get(userId)!);
    let volumeMinor = 0n;
    const unpriced: string[] = [];
    for (const [quote, notionalMinor] of [...byQuote].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (quote === tierCurrency) volumeMinor += notionalMinor;
      else {
        const mark = marks.get(`${quote}-${tierCurrency}`);
        if (mark === undefined) unpriced.push(quote);
        else volumeMinor += multiplyAmounts(notionalMinor, mark);
      }
    }
    lines.push({ userId, byQuote, volumeMinor, unpriced });
  }
  return lines;
}

export interface TierChange {
  userId: string;
  fromTier: number;
  toTier: number;
  volumeMinor: bigint;
}

/** Users whose tier for the next day differs from today's (a user without a row is at tier 0). */
export function tierChanges(current: ReadonlyMap<string, number>, next: ReadonlyMap<string, { tier: number; volumeMinor: bigint }>): TierChange[] {
  const users = [...new Set([...current.keys(), ...next.keys()])].sort();
  const changes: TierChange[] = [];
  for (const userId of users) {
    const fromTier = current.get(userId) ?? 0;
    const n = next.get(userId);
    const toTier = n?.tier ?? 0;
    if (fromTier !== toTier) changes.push({ userId, fromTier, toTier, volumeMinor: n?.volumeMinor ?? 0n });
  }
  return changes;
}
