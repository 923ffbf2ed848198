import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalToMinor } from '../../../src/config/decimal.js';
import { crossCheckFees, sumFees } from '../../../src/eod/money/fees.js';
import type { Fill } from '../../../src/eod/money/fill.js';
import { computePnl } from '../../../src/eod/money/pnl.js';
import { splitPool } from '../../../src/eod/money/rewards.js';
import { divideHalfEven } from '../../../src/eod/money/rounding.js';
import { defaultFeeTiers, parseFeeTiers, tierChanges, tierFor, volumeByUser } from '../../../src/eod/money/volume-tiers.js';

const u = (text: string): bigint => decimalToMinor(text, 18);
let seq = 0;
function fill(userId: string, market: string, side: 'buy' | 'sell', quantity: string | bigint, price: string, extra: Partial<Fill> = {}): Fill {
  seq += 1;
  const [base, quote] = market.split('-') as [string, string];
  return {
    fillId: `f${seq}`, seq, userId, market, base, quote, side, liquidity: 'taker',
    priceMinor: u(price), quantityMinor: typeof quantity === 'bigint' ? quantity : u(quantity),
    feeMinor: 0n, feeCurrency: quote, tsMs: 1_000 + seq, ...extra,
  };
}

describe('rounding: half to even', () => {
  it('rounds ties to the even neighbour, both signs', () => {
    expect([divideHalfEven(5n, 2n), divideHalfEven(7n, 2n), divideHalfEven(-5n, 2n), divideHalfEven(-7n, 2n)]).toEqual([2n, 4n, -2n, -4n]);
    expect([divideHalfEven(4n, 3n), divideHalfEven(5n, 3n), divideHalfEven(-5n, 3n), divideHalfEven(6n, -4n)]).toEqual([1n, 2n, -2n, -2n]);
  });
});

describe('P&L by weighted average cost', () => {
  it('a hand-computed day: averaging up, a partial close, a flip to short, a covered short, a carried position', () => {
    const fills = [
      fill('a', 'BTC-USDT', 'buy', '1', '100'), // qty 1, cost 100
      fill('a', 'BTC-USDT', 'buy', '3', '120'), // qty 4, cost 460 (avg 115)
      fill('a', 'BTC-USDT', 'sell', '2', '130'), // closes 2: +260 − 230 = +30; qty 2, cost 230
      fill('a', 'BTC-USDT', 'sell', '3', '110'), // closes 2: +220 − 230 = −10; opens short 1 at 110
      fill('c', 'SOL-USDT', 'sell', '2', '50'), // short 2, cost −100
      fill('c', 'SOL-USDT', 'buy', '2', '40'), // covers: −80 − (−100) = +20
    ];
    const opening = [{ userId: 'a', market: 'ETH-USDT', quantityMinor: u('2'), costMinor: u('3000') }];
    const marks = new Map([['BTC-USDT', u('105')], ['ETH-USDT', u('1600')], ['SOL-USDT', u('45')]]);
    const { lines, positions } = computePnl(opening, fills, marks);
    const view = lines.map((l) => [l.userId, l.market, l.realisedMinor, l.quantityMinor, l.costMinor, l.averagePriceMinor, l.unrealisedMinor, l.fills]);
    expect(view).toEqual([
      ['a', 'BTC-USDT', u('20'), -u('1'), -u('110'), u('110'), u('5'), 4], // short 1 @110 marked at 105: +5
      ['a', 'ETH-USDT', 0n, u('2'), u('3000'), u('1500'), u('200'), 0], // 2 × 1600 − 3000
      ['c', 'SOL-USDT', u('20'), 0n, 0n, null, 0n, 2],
    ]);
    expect(positions.map((p) => [p.userId, p.market, p.quantityMinor, p.costMinor])).toEqual([
      ['a', 'ETH-USDT', u('2'), u('3000')],
      ['a', 'BTC-USDT', -u('1'), -u('110')],
    ]);
  });

  it('rounds a notional and a closed share of the cost half even, and loses nothing', () => {
    // 3 minor units of base at 1.5: notional 4.5 → 4 (even). Selling 1 at 1.5: cash 1.5 → 2;
    // closed cost 4 × 1/3 = 1.33 → 1; realised 2 − 1 = 1; 2 left at cost 3.
    const { lines } = computePnl([], [fill('b', 'X-USDT', 'buy', 3n, '1.5'), fill('b', 'X-USDT', 'sell', 1n, '1.5')], new Map());
    expect(lines.map((l) => [l.realisedMinor, l.quantityMinor, l.costMinor, l.unrealisedMinor])).toEqual([[1n, 2n, 3n, null]]);
  });

  it('realised + unrealised over a day equals the cash it made, marked at the last price (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ buy: fc.boolean(), qty: fc.integer({ min: 1, max: 1_000 }), price: fc.integer({ min: 1, max: 1_000 }) }), { minLength: 1, maxLength: 30 }),
      (trades) => {
        const fills = trades.map((t) => fill('p', 'Z-USDT', t.buy ? 'buy' : 'sell', BigInt(t.qty) * 10n ** 18n, String(t.price)));
        const mark = u('7');
        const { lines } = computePnl([], fills, new Map([['Z-USDT', mark]]));
        const line = lines[0]!;
        // Whole units and whole prices: no rounding, so the identity is exact.
        const cash = fills.reduce((s, f) => s + (f.side === 'sell' ? 1n : -1n) * (f.quantityMinor * f.priceMinor) / 10n ** 18n, 0n);
        const held = fills.reduce((s, f) => s + (f.side === 'buy' ? 1n : -1n) * f.quantityMinor, 0n);
        expect(line.quantityMinor).toBe(held);
        expect(line.realisedMinor + (line.unrealisedMinor ?? 0n)).toBe(cash + (held * mark) / 10n ** 18n);
      }));
  });
});

describe('fees per (user, fee currency)', () => {
  it('sums the day\'s fees and cross-checks them against the fee account, naming the difference', () => {
    const fills = [
      fill('a', 'BTC-USDT', 'buy', '1', '100', { feeMinor: u('0.002'), feeCurrency: 'BTC' }),
      fill('a', 'BTC-USDT', 'sell', '1', '100', { feeMinor: u('0.1'), feeCurrency: 'USDT' }),
      fill('a', 'ETH-USDT', 'sell', '1', '100', { feeMinor: u('0.15'), feeCurrency: 'USDT' }),
      fill('b', 'BTC-USDT', 'buy', '1', '100', { feeMinor: u('0.001'), feeCurrency: 'BTC' }),
    ];
    const totals = sumFees(fills);
    expect(totals.map((t) => [t.userId, t.currency, t.feeMinor, t.fills])).toEqual([
      ['a', 'BTC', u('0.002'), 1], ['a', 'USDT', u('0.25'), 2], ['b', 'BTC', u('0.001'), 1],
    ]);
    const checks = crossCheckFees(totals, new Map([['BTC', u('0.003')], ['USDT', u('0.24')], ['ETH', u('0.5')]]));
    expect(checks.map((c) => [c.currency, c.fillsMinor, c.ledgerMinor, c.deltaMinor])).toEqual([
      ['BTC', u('0.003'), u('0.003'), 0n], ['ETH', 0n, u('0.5'), -u('0.5')], ['USDT', u('0.25'), u('0.24'), u('0.01')],
    ]);
  });
});

describe('30-day volume and fee tiers', () => {
  const tiers = parseFeeTiers(defaultFeeTiers);

  it('parses the default table and refuses a bad one', () => {
    expect(tiers.map((t) => [t.tier, t.thresholdMinor, t.makerRateMinor, t.takerRateMinor])).toEqual([
      [0, 0n, u('0.001'), u('0.001')], [1, u('1000000'), u('0.0008'), u('0.0009')], [2, u('5000000'), u('0.0006'), u('0.0008')],
      [3, u('25000000'), u('0.0004'), u('0.0006')], [4, u('100000000'), u('0.0002'), u('0.0004')],
    ]);
    expect(() => parseFeeTiers('5:0.1/0.1')).toThrow(/start at 0/);
    expect(() => parseFeeTiers('0:0.1/0.1,10:0.1/0.1,5:0.1/0.1')).toThrow(/increase/);
    expect(() => parseFeeTiers('0:1e-3/0.1')).toThrow(/expected/);
  });

  it('converts at the fill price and a mark, earns a tier, lists the changes', () => {
    const fills = [
      fill('a', 'BTC-USDT', 'buy', '10', '60000'), // 600,000 USDT
      fill('a', 'ETH-BTC', 'sell', '20', '0.05', { liquidity: 'maker' }), // 1 BTC × 450,000 = 450,000 USDT
      fill('b', 'SOL-EUR', 'buy', '3', '100'), // 300 EUR, no EUR-USDT mark
      fill('b', 'SOL-USDT', 'buy', '2', '99.5'), // 199 USDT
    ];
    const lines = volumeByUser(fills, 'USDT', new Map([['BTC-USDT', u('450000')]]));
    expect(lines.map((l) => [l.userId, l.volumeMinor, l.unpriced, [...l.byQuote]])).toEqual([
      ['a', u('1050000'), [], [['USDT', u('600000')], ['BTC', u('1')]]],
      ['b', u('199'), ['EUR'], [['EUR', u('300')], ['USDT', u('199')]]],
    ]);
    expect(tierFor(tiers, u('1050000')).tier).toBe(1);
    expect(tierFor(tiers, u('999999.999999999999999999')).tier).toBe(0);
    expect(tierFor(tiers, u('100000000')).tier).toBe(4);
    const next = new Map(lines.map((l) => [l.userId, { tier: tierFor(tiers, l.volumeMinor).tier, volumeMinor: l.volumeMinor }]));
    expect(tierChanges(new Map([['b', 0], ['c', 2]]), next)).toEqual([
      { userId: 'a', fromTier: 0, toTier: 1, volumeMinor: u('1050000') },
      { userId: 'c', fromTier: 2, toTier: 0, volumeMinor: 0n },
    ]);
  });
});

describe('staking rewards: largest remainder', () => {
  it('splits a pool with a remainder, ties to the smaller user id', () => {
    const three = splitPool(10n, [{ userId: 'c', amountMinor: 1n }, { userId: 'a', amountMinor: 1n }, { userId: 'b', amountMinor: 1n }]);
    expect(three).toEqual([{ userId: 'a', rewardMinor: 4n }, { userId: 'b', rewardMinor: 3n }, { userId: 'c', rewardMinor: 3n }]);
    // 100 × 3/7 = 42 r6 (twice), 100 × 1/7 = 14 r2: floors 98, the 2 left go to x and y.
    const seven = splitPool(100n, [{ userId: 'x', amountMinor: 3n }, { userId: 'y', amountMinor: 3n }, { userId: 'z', amountMinor: 1n }, { userId: 'w', amountMinor: 0n }]);
    expect(seven).toEqual([{ userId: 'x', rewardMinor: 43n }, { userId: 'y', rewardMinor: 43n }, { userId: 'z', rewardMinor: 14n }]);
  });

  it('Σ paid = pool, none negative, each within one minor unit of its exact share (property)', () => {
    fc.assert(fc.property(
      fc.bigInt({ min: 0n, max: 10n ** 30n }),
      fc.uniqueArray(fc.record({ userId: fc.stringMatching(/^[a-z0-9]{1,6}$/), amountMinor: fc.bigInt({ min: 0n, max: 10n ** 27n }) }), { selector: (p) => p.userId, minLength: 1, maxLength: 40 }),
      (pool, positions) => {
        const shares = splitPool(pool, positions);
        const total = positions.reduce((s, p) => s + p.amountMinor, 0n);
        const paid = shares.reduce((s, x) => s + x.rewardMinor, 0n);
        expect(paid).toBe(total === 0n ? 0n : pool);
        for (const s of shares) {
          expect(s.rewardMinor >= 0n).toBe(true);
          if (total === 0n) continue;
          const amount = positions.find((p) => p.userId === s.userId)!.amountMinor;
          // |reward × total − pool × amount| < total  ⇔  within one minor unit of the exact share.
          const diff = s.rewardMinor * total - pool * amount;
          expect((diff < 0n ? -diff : diff) < total).toBe(true);
        }
      }), { numRuns: 300 });
  });
});
