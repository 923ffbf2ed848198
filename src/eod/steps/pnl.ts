import { computePnl, type Position } from '../money/pnl.js';
import { dayFills, fillsBeforeCut, linesListedMax, marksAtCut, markFigures, minor, whole } from './money-inputs.js';
import type { EodStep, JsonObject } from './step.js';

/**
 * Step 2: realised P&L per (user, market) from the day's fills and unrealised P&L of the open
 * positions at the marks of the cut, by weighted average cost, half-even rounding (ADR 0022).
 * Positions carry from the previous close (pnl_positions); the first close starts from every
 * fill before the cut. Amounts are in each market's quote currency.
 */
export const pnlStep: EodStep = {
  name: 'pnl',
  skipReason: () => null,
  async run(context) {
    let opening: Position[] = [];
    let fills;
    if (context.previousSealedDate) {
      const base = await context.pool.query<{ user_id: string; market: string; quantity: string; cost: string }>(
        'SELECT user_id, market, quantity::text, cost::text FROM pnl_positions WHERE business_date = $1 AND quantity <> 0', [context.previousSealedDate]);
      opening = base.rows.map((r) => ({ userId: r.user_id, market: r.market, quantityMinor: minor(r.quantity), costMinor: minor(r.cost) }));
      fills = await dayFills(context);
    } else {
      fills = await fillsBeforeCut(context);
    }
    const markets = [...new Set([...opening.map((p) => p.market), ...fills.map((f) => f.market)])].sort();
    const marks = await marksAtCut(context, markets);
    const { lines } = computePnl(opening, fills, new Map(marks.map((m) => [m.market, m.priceMinor])));
    const totals = new Map<string, { realised: bigint; unrealised: bigint }>();
    for (const l of lines) {
      const quote = l.market.slice(l.market.indexOf('-') + 1);
      const t = totals.get(quote) ?? { realised: 0n, unrealised: 0n };
      t.realised += l.realisedMinor;
      t.unrealised += l.unrealisedMinor ?? 0n;
      totals.set(quote, t);
    }
    const ranked = [...lines].sort((a, b) => {
      const size = (x: typeof a): bigint => { const v = x.realisedMinor + (x.unrealisedMinor ?? 0n); return v < 0n ? -v : v; };
      const d = size(b) - size(a);
      return d > 0n ? 1 : d < 0n ? -1 : a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.market < b.market ? -1 : 1;
    });
    const figures: JsonObject = {
      method: 'weighted_average_cost',
      rounding: 'half_even at 18 decimals, once per product (ADR 0022)',
      feesIncluded: false,
      fills: fills.length,
      users: new Set(lines.map((l) => l.userId)).size,
      positions: lines.filter((l) => l.quantityMinor !== 0n).length,
      markPrices: markFigures(marks),
      unpricedMarkets: markets.filter((m) => !marks.some((x) => x.market === m)),
      totalsByQuote: [...totals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([quote, t]) => ({ quote, realised: whole(t.realised), unrealised: whole(t.unrealised) })),
      lines: ranked.slice(0, linesListedMax).map((l) => ({
        userId: l.userId, market: l.market, realised: whole(l.realisedMinor), unrealised: l.unrealisedMinor === null ? null : whole(l.unrealisedMinor),
        quantity: whole(l.quantityMinor), averagePrice: l.averagePriceMinor === null ? null : whole(l.averagePriceMinor),
        markPrice: l.markPriceMinor === null ? null : whole(l.markPriceMinor), fills: l.fills,
      })),
      linesOmitted: Math.max(0, ranked.length - linesListedMax),
    };
    return {
      figures,
      async write(client) {
        for (let i = 0; i < lines.length; i += 5_000) {
          const slice = lines.slice(i, i + 5_000);
          await client.query(
            `INSERT INTO pnl_positions (business_date, user_id, market, quantity, cost, realised, mark_price, unrealised)
             SELECT $1, u, m, q, c, r, mp, ur FROM unnest($2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[]) AS x(u, m, q, c, r, mp, ur)
             ON CONFLICT (business_date, user_id, market) DO NOTHING`,
            [context.date, slice.map((l) => l.userId), slice.map((l) => l.market), slice.map((l) => whole(l.quantityMinor)), slice.map((l) => whole(l.costMinor)),
              slice.map((l) => whole(l.realisedMinor)), slice.map((l) => (l.markPriceMinor === null ? null : whole(l.markPriceMinor))), slice.map((l) => (l.unrealisedMinor === null ? null : whole(l.unrealisedMinor)))]);
        }
      },
    };
  },
};
