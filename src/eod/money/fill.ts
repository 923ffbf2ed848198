/** A matching engine fill as the close uses it (parsed from `me.fill.<userId>`, docs/contract.md). */
export interface Fill {
  fillId: string;
  seq: number;
  userId: string;
  /** `BASE-QUOTE`. */
  market: string;
  base: string;
  quote: string;
  side: 'buy' | 'sell';
  liquidity: 'maker' | 'taker';
  /** Quote per base, minor units of 10^-18. */
  priceMinor: bigint;
  /** Base, minor units. */
  quantityMinor: bigint;
  feeMinor: bigint;
  feeCurrency: string;
  tsMs: number;
}

/** Fills in the order they happened: by ts, then by the engine's seq, then by id. */
export function compareFills(a: Fill, b: Fill): number {
  if (a.tsMs !== b.tsMs) return a.tsMs - b.tsMs;
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.fillId < b.fillId ? -1 : a.fillId > b.fillId ? 1 : 0;
}
