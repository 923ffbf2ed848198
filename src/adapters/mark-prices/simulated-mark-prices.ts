import { signedDecimalToMinor } from '../../config/decimal.js';
import type { Pool } from '../../db/pool.js';
import type { MarkPrice, MarkPriceSource } from './mark-price-source.js';

const scale = 18;

/**
 * The demo's mark prices: the last traded price of each market at or before the instant (from
 * the stored fills), as a venue's last-price index would give it; a market with no trade yet
 * takes `fallback` (a fixed table), else it is unpriced. The price's time is its trade's time.
 */
export class SimulatedMarkPrices implements MarkPriceSource {
  readonly name = 'simulated:last-trade';

  constructor(private readonly pool: Pool, private readonly fallback: ReadonlyMap<string, bigint> = new Map()) {}

  async pricesAt(markets: readonly string[], atMs: number): Promise<MarkPrice[]> {
    if (markets.length === 0) return [];
    const result = await this.pool.query<{ market: string; price: string; ts: Date }>(
      `SELECT m AS market, f.price::text AS price, f.ts FROM unnest($1::text[]) AS m,
         LATERAL (SELECT price, ts FROM fills WHERE market = m AND ts < $2 ORDER BY ts DESC, seq DESC, fill_id DESC LIMIT 1) f`,
      [[...markets], new Date(atMs).toISOString()]);
    const found = new Map(result.rows.map((r) => [r.market, { market: r.market, priceMinor: signedDecimalToMinor(r.price, scale), source: this.name, atMs: r.ts.getTime() }]));
    const prices: MarkPrice[] = [];
    for (const market of [...new Set(markets)].sort()) {
      const price = found.get(market);
      if (price) prices.push(price);
      else if (this.fallback.has(market)) prices.push({ market, priceMinor: this.fallback.get(market)!, source: 'simulated:fixed-table', atMs });
    }
    return prices;
  }
}
