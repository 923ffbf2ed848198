import { addDays, businessWindow } from '../business-date.js';
import { divideHalfEven, unitMinor } from '../money/rounding.js';
import { parseFeeTiers, tierChanges, tierFor, volumeFromNotionals } from '../money/volume-tiers.js';
import { fillsStored, iso, linesListedMax, marksAtCut, markFigures, whole } from './money-inputs.js';
import type { EodStep } from './step.js';

export const volumeDays = 30;

/**
 * Step 4: each user's rolling 30-business-day volume (maker + taker, quantity × the fill's
 * price, per quote currency, converted to FEE_TIER_CURRENCY at the mark of `<QUOTE>-<CUR>` at the
 * cut), the tier it earns from FEE_TIERS, effective from the next business day
 * (user_fee_tiers), and the users whose tier changes (ADR 0022).
 */
export const volumeRollupStep: EodStep = {
  name: 'volume_rollup',
  skipReason: () => null,
  async run(context) {
    await fillsStored(context);
    const { settings, pool, date } = context;
    const tiers = parseFeeTiers(settings.FEE_TIERS);
    const tierCurrency = settings.FEE_TIER_CURRENCY;
    const from = businessWindow(addDays(date, -(volumeDays - 1)), { time: settings.EOD_CUTOVER_TIME, zone: settings.EOD_TIMEZONE }).startMs;
    // Σ quantity × price is exact in numeric (36 decimals); rounded once, half even, below.
    const sums = await pool.query<{ user_id: string; quote: string; notional: string }>(
      `SELECT user_id, quote, sum(quantity * price)::text AS notional FROM fills
        WHERE ts >= $1 AND ts < $2 GROUP BY user_id, quote`, [iso(from), iso(context.window.endMs)]);
    const notionals = new Map<string, Map<string, bigint>>();
    for (const r of sums.rows) {
      const [w, f = ''] = r.notional.split('.');
      const exact36 = BigInt(w! + f.padEnd(36, '0').slice(0, 36));
      const perQuote = notionals.get(r.user_id) ?? new Map<string, bigint>();
      perQuote.set(r.quote, divideHalfEven(exact36, unitMinor));
      notionals.set(r.user_id, perQuote);
    }
    const quotes = [...new Set(sums.rows.map((r) => r.quote))].filter((q) => q !== tierCurrency).sort();
    const marks = await marksAtCut(context, quotes.map((q) => `${q}-${tierCurrency}`));
    const lines = volumeFromNotionals(notionals, tierCurrency, new Map(marks.map((m) => [m.market, m.priceMinor])));
    const next = new Map(lines.map((l) => [l.userId, { tier: tierFor(tiers, l.volumeMinor), volumeMinor: l.volumeMinor }]));
    const current = await pool.query<{ user_id: string; tier: number }>('SELECT user_id, tier FROM user_fee_tiers WHERE effective_date = $1', [date]);
    const changes = tierChanges(new Map(current.rows.map((r) => [r.user_id, r.tier])), new Map([...next].map(([u, n]) => [u, { tier: n.tier.tier, volumeMinor: n.volumeMinor }])));
    const effective = addDays(date, 1);
    const ranked = [...lines].sort((a, b) => (a.volumeMinor !== b.volumeMinor ? (b.volumeMinor > a.volumeMinor ? 1 : -1) : a.userId < b.userId ? -1 : 1));
    const totalMinor = lines.reduce((s, l) => s + l.volumeMinor, 0n);
    const byTier = tiers.map((t) => ({ tier: t.tier, users: [...next.values()].filter((n) => n.tier.tier === t.tier).length }));
    // Rows for the next day: every user with volume, and every user who had a tier and lost it (back to tier 0).
    const rows = [...next].map(([userId, n]) => ({ userId, tier: n.tier, volumeMinor: n.volumeMinor }));
    for (const c of changes) if (!next.has(c.userId)) rows.push({ userId: c.userId, tier: tiers[0]!, volumeMinor: 0n });
    return {
      figures: {
        windowDays: volumeDays,
        from: iso(from),
        tierCurrency,
        effectiveFrom: effective,
        tiers: tiers.map((t) => ({ tier: t.tier, threshold: whole(t.thresholdMinor), maker: whole(t.makerRateMinor), taker: whole(t.takerRateMinor) })),
        markPrices: markFigures(marks),
        users: lines.length,
        volume: whole(totalMinor),
        byTier,
        unpriced: [...new Set(lines.flatMap((l) => l.unpriced))].sort(),
        tierChanges: changes.slice(0, linesListedMax).map((c) => ({ userId: c.userId, from: c.fromTier, to: c.toTier, volume: whole(c.volumeMinor) })),
        tierChangesOmitted: Math.max(0, changes.length - linesListedMax),
        lines: ranked.slice(0, linesListedMax).map((l) => ({ userId: l.userId, volume: whole(l.volumeMinor), tier: next.get(l.userId)!.tier.tier })),
        linesOmitted: Math.max(0, ranked.length - linesListedMax),
      },
      async write(client) {
        for (let i = 0; i < rows.length; i += 5_000) {
          const slice = rows.slice(i, i + 5_000);
          await client.query(
            `INSERT INTO user_fee_tiers (effective_date, user_id, tier, volume_30d, maker_fee_rate, taker_fee_rate)
             SELECT $1, u, t, v, m, k FROM unnest($2::text[], $3::int[], $4::numeric[], $5::numeric[], $6::numeric[]) AS x(u, t, v, m, k)
             ON CONFLICT (effective_date, user_id) DO NOTHING`,
            [effective, slice.map((r) => r.userId), slice.map((r) => r.tier.tier), slice.map((r) => whole(r.volumeMinor)), slice.map((r) => whole(r.tier.makerRateMinor)), slice.map((r) => whole(r.tier.takerRateMinor))]);
        }
      },
    };
  },
};
