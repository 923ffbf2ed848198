/** A market's mark price as a source gave it: the report names the source and the time of each. */
export interface MarkPrice {
  /** `BASE-QUOTE`. */
  market: string;
  /** Quote per base, minor units of 10^-18. */
  priceMinor: bigint;
  source: string;
  atMs: number;
}

/**
 * Where the close's mark prices come from (docs/contract.md): a price per market as of an instant
 * (the cut). A market the source cannot price is left out; the step lists it as unpriced.
 */
export interface MarkPriceSource {
  readonly name: string;
  pricesAt(markets: readonly string[], atMs: number): Promise<MarkPrice[]>;
}
