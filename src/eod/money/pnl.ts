import { compareFills, type Fill } from './fill.js';
import { divideHalfEven, multiplyAmounts, unitMinor } from './rounding.js';

/**
 * A position in one (user, market) by weighted average cost (ADR 0022). `quantityMinor` is
 * signed (long > 0, short < 0); `costMinor` is the quote paid to open it, signed like the
 * position (a short's cost is minus what its sale received). The average price is cost/quantity.
 */
export interface Position {
  userId: string;
  market: string;
  quantityMinor: bigint;
  costMinor: bigint;
}

export interface PnlLine {
  userId: string;
  market: string;
  /** The day's realised P&L in the quote currency (gross of fees; fees are fee_accrual's). */
  realisedMinor: bigint;
  /** Open position at the cut, its cost, average price and mark. */
  quantityMinor: bigint;
  costMinor: bigint;
  averagePriceMinor: bigint | null;
  markPriceMinor: bigint | null;
  /** (quantity × mark) − cost; null when the market has no mark price. */
  unrealisedMinor: bigint | null;
  fills: number;
}

const keyOf = (userId: string, market: string): string => `${userId}\u0000${market}`;

/**
 * Applies one fill to a position, returning the P&L it realises. A fill that reduces the
 * position realises (closing cash flow − the closed share of the cost); the closed share of
 * the cost is cost × closed / |quantity|, rounded half even, and the rest stays in the cost so
 * nothing is lost. A fill past zero closes the whole position and opens the rest the other way.
 */
export function applyFill(position: Position, fill: Pick<Fill, 'side' | 'priceMinor' | 'quantityMinor'>): bigint {
  const direction = fill.side === 'buy' ? 1n : -1n;
  const open = position.quantityMinor;
  const sameWay = open === 0n || (open > 0n) === (direction > 0n);
  if (sameWay) {
    position.quantityMinor += direction * fill.quantityMinor;
    position.costMinor += direction * multiplyAmounts(fill.quantityMinor, fill.priceMinor);
    return 0n;
  }
  const openAbs = open < 0n ? -open : open;
  const closedMinor = fill.quantityMinor < openAbs ? fill.quantityMinor : openAbs;
  // Cash flow of the closing part: a sell receives (+), a buy pays (−).
  const cashFlowMinor = -direction * multiplyAmounts(closedMinor, fill.priceMinor);
  const basisMinor = closedMinor === openAbs ? position.costMinor : divideHalfEven(position.costMinor * closedMinor, openAbs);
  const realisedMinor = cashFlowMinor - basisMinor;
  position.costMinor -= basisMinor;
  position.quantityMinor += direction * closedMinor;
  const restMinor = fill.quantityMinor - closedMinor;
  if (restMinor > 0n) {
    position.quantityMinor += direction * restMinor;
    position.costMinor += direction * multiplyAmounts(restMinor, fill.priceMinor);
  }
  return realisedMinor;
}

/**
 * The day's P&L per (user, market): `opening` positions (the previous close's), the day's
 * fills applied in order, and unrealised P&L at the `marks` (market → price). Pure and exact.
 */
export function computePnl(opening: readonly Position[], dayFills: readonly Fill[], marks: ReadonlyMap<string, bigint>): { lines: PnlLine[]; positions: Position[] } {
  const positions = new Map<string, Position>();
  const realised = new Map<string, bigint>();
  const counts = new Map<string, number>();
  for (const p of opening) positions.set(keyOf(p.userId, p.market), { ...p });
  for (const fill of [...dayFills].sort(compareFills)) {
    const key = keyOf(fill.userId, fill.market);
    let position = positions.get(key);
    if (!position) {
      position = { userId: fill.userId, market: fill.market, quantityMinor: 0n, costMinor: 0n };
      positions.set(key, position);
    }
    realised.set(key, (realised.get(key) ?? 0n) + applyFill(position, fill));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const lines: PnlLine[] = [];
  for (const [key, p] of [...positions.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const fills = counts.get(key) ?? 0;
    if (fills === 0 && p.quantityMinor === 0n) continue;
    const mark = marks.get(p.market) ?? null;
    lines.push({
      userId: p.userId,
      market: p.market,
      realisedMinor: realised.get(key) ?? 0n,
      quantityMinor: p.quantityMinor,
      costMinor: p.costMinor,
      averagePriceMinor: p.quantityMinor === 0n ? null : divideHalfEven(p.costMinor * unitMinor, p.quantityMinor),
      markPriceMinor: mark,
      unrealisedMinor: mark === null ? null : multiplyAmounts(p.quantityMinor, mark) - p.costMinor,
      fills,
    });
  }
  return { lines, positions: [...positions.values()].filter((p) => p.quantityMinor !== 0n || p.costMinor !== 0n) };
}
