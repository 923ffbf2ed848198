import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { ComplianceSimulator } from '../adapters/compliance/simulator.js';
import { minorToDecimal } from '../config/decimal.js';
import type { Pool } from '../db/pool.js';
import type { NatsNames } from '../nats/names.js';

/**
 * The money side of the demo's yesterday (issue 9): trades between its users on three markets
 * with their fills (fees to house:fees_unaccrued, as the exchange books them), an admin
 * adjustment, a sanctions hit and a refused KYC re-verification, so the close of that day has
 * P&L, fees, volumes, tiers and compliance figures to report.
 */

const unit = 10n ** 18n;
const granule = 10n ** 10n;
const makerFeeBps = 10n;
const takerFeeBps = 20n;
const tradesMax = 400;

interface Leg { userId: string; currency: string; amountMinor: bigint }
type Journal = (name: string, legs: Leg[], ref: string, at: number, engineAt?: number, referenceType?: string) => void;

export interface DayFill {
  fillId: string; seq: number; userId: string; market: string; base: string; quote: string; side: 'buy' | 'sell'; liquidity: 'maker' | 'taker';
  priceMinor: bigint; quantityMinor: bigint; feeMinor: bigint; feeCurrency: string; tsMs: number;
}

export interface DayMoney {
  fills: DayFill[];
  adjustment: { key: string; userId: string; currency: string; amountMinor: bigint; reason: string; actorId: string; at: number };
  sanctioned: { userId: string; at: number };
  /** Re-verified after a re-KYC suspension (reactivated), and a sanctioned account's re-verification (refused). */
  reverified: { userId: string; at: number };
  refusedReverification: { userId: string; at: number };
}

/** Markets and their reference prices (quote per base, whole units ×100 to keep integers). */
const markets: Array<{ base: string; quote: string; priceHundredths: bigint }> = [
  { base: 'BTC', quote: 'USDT', priceHundredths: 6_000_000n },
  { base: 'ETH', quote: 'USDT', priceHundredths: 300_000n },
  { base: 'ETH', quote: 'BTC', priceHundredths: 5n },
];

/**
 * Adds the day's trades to `journal` (after every deposit, so no balance goes negative at any
 * instant) and returns their fills and the day's other money events. Deterministic from `pick`.
 */
export function planDayMoney(input: {
  date: string; pick: (n: number) => number; users: readonly string[]; balances: Map<string, bigint>;
  window: { startMs: number; endMs: number }; journal: Journal; nextJournal: () => string;
}): DayMoney {
  const { pick, users, balances, window, journal, date } = input;
  const spanMs = window.endMs - window.startMs;
  const held = (u: string, c: string): bigint => balances.get(`${u}/${c}`) ?? 0n;
  const fills: DayFill[] = [];
  // Three large traders (the first users) so the day has users who earn a better fee tier.
  const whales = users.slice(0, 3);
  for (const [i, whale] of whales.entries()) {
    const at = window.startMs + 500 + i;
    for (const [currency, amountMinor] of [['USDT', 4_000_000n * unit], ['BTC', 80n * unit], ['ETH', 1_500n * unit]] as const) {
      const name = input.nextJournal();
      journal(name, [{ userId: whale, currency, amountMinor }, { userId: 'house:custody', currency, amountMinor: -amountMinor }], name, at, at, 'deposit');
    }
  }
  // Trades in the second half, after the deposits (which all land in the first half), in time order.
  const firstMs = window.startMs + Math.floor(spanMs / 2) + 2_000;
  const lastMs = window.endMs - 30 * 60_000;
  const times = Array.from({ length: tradesMax }, () => firstMs + pick(Math.max(1, lastMs - firstMs))).sort((a, b) => a - b);
  let t = 0;
  for (const at of times) {
    const m = markets[pick(markets.length)]!;
    // A price within ±5 % of the reference, on a 0.01 % grid.
    const priceMinor = (m.priceHundredths * unit * BigInt(9_500 + pick(1_001))) / 1_000_000n;
    if (priceMinor === 0n) continue;
    const big = pick(4) === 0;
    const maker = big ? whales[pick(whales.length)]! : users[pick(users.length)]!;
    const taker = big ? whales[pick(whales.length)]! : users[pick(users.length)]!;
    if (maker === taker) continue;
    const offered = held(maker, m.base) / BigInt(3 + pick(8));
    const affordable = (held(taker, m.quote) * unit) / priceMinor / 2n;
    const qty = ((offered < affordable ? offered : affordable) / granule) * granule;
    const notional = ((qty * priceMinor) / unit / granule) * granule;
    if (qty === 0n || notional === 0n) continue;
    const makerFee = (notional * makerFeeBps) / 10_000n;
    const takerFee = (qty * takerFeeBps) / 10_000n;
    const name = input.nextJournal();
    journal(name, [
      { userId: maker, currency: m.base, amountMinor: -qty }, { userId: taker, currency: m.base, amountMinor: qty },
      { userId: taker, currency: m.quote, amountMinor: -notional }, { userId: maker, currency: m.quote, amountMinor: notional },
      { userId: maker, currency: m.quote, amountMinor: -makerFee }, { userId: 'house:fees_unaccrued', currency: m.quote, amountMinor: makerFee },
      { userId: taker, currency: m.base, amountMinor: -takerFee }, { userId: 'house:fees_unaccrued', currency: m.base, amountMinor: takerFee },
    ].filter((l) => l.amountMinor !== 0n), `${name}`, at, at, 'trade');
    t += 1;
    const market = `${m.base}-${m.quote}`;
    const id = `demo-${date}-T${t}`;
    fills.push(
      { fillId: `${id}:maker`, seq: 2 * t - 1, userId: maker, market, base: m.base, quote: m.quote, side: 'sell', liquidity: 'maker', priceMinor, quantityMinor: qty, feeMinor: makerFee, feeCurrency: m.quote, tsMs: at },
      { fillId: `${id}:taker`, seq: 2 * t, userId: taker, market, base: m.base, quote: m.quote, side: 'buy', liquidity: 'taker', priceMinor, quantityMinor: qty, feeMinor: takerFee, feeCurrency: m.base, tsMs: at },
    );
  }
  // A goodwill credit by an operator, booked as admin.balance.adjust books it.
  const adjustedUser = users[4] ?? users[0]!;
  const adjustment = { key: `demo-${date}-goodwill`, userId: adjustedUser, currency: 'USDT', amountMinor: 25n * unit, reason: 'goodwill credit: delayed withdrawal, ticket DEMO-42', actorId: 'ops-demo', at: lastMs + 60_000 };
  const entryId = `admin_adjustment:${adjustment.key}`;
  journal(entryId, [{ userId: adjustedUser, currency: 'USDT', amountMinor: adjustment.amountMinor }, { userId: 'house:adjustments', currency: 'USDT', amountMinor: -adjustment.amountMinor }],
    adjustment.key, adjustment.at, adjustment.at, 'admin_adjustment');
  return {
    fills,
    adjustment,
    sanctioned: { userId: users[6] ?? users[0]!, at: lastMs + 120_000 },
    reverified: { userId: users[3] ?? users[0]!, at: lastMs + 180_000 },
    refusedReverification: { userId: users[6] ?? users[0]!, at: lastMs + 240_000 },
  };
}

/** Stores the fills and the adjustment's record, and has the providers' events acted on (waits for their outcomes). */
export async function recordDayMoney(deps: { pool: Pool; nc: NatsConnection; names: NatsNames }, money: DayMoney): Promise<void> {
  const { pool } = deps;
  const d = (m: bigint): string => minorToDecimal(m, 18);
  const f = money.fills;
  for (let i = 0; i < f.length; i += 2_000) {
    const s = f.slice(i, i + 2_000);
    await pool.query(
      `INSERT INTO fills (fill_id, seq, user_id, market, base, quote, side, liquidity, price, quantity, fee, fee_currency, ts)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[], $10::numeric[], $11::numeric[], $12::text[], $13::timestamptz[])
       ON CONFLICT (fill_id) DO NOTHING`,
      [s.map((x) => x.fillId), s.map((x) => x.seq), s.map((x) => x.userId), s.map((x) => x.market), s.map((x) => x.base), s.map((x) => x.quote), s.map((x) => x.side), s.map((x) => x.liquidity),
        s.map((x) => d(x.priceMinor)), s.map((x) => d(x.quantityMinor)), s.map((x) => d(x.feeMinor)), s.map((x) => x.feeCurrency), s.map((x) => new Date(x.tsMs).toISOString())]);
  }
  const a = money.adjustment;
  await pool.query(
    `INSERT INTO admin_adjustments (idempotency_key, entry_id, user_id, currency, amount, reason, actor_id, account_state, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8) ON CONFLICT (idempotency_key) DO NOTHING`,
    [a.key, `admin_adjustment:${a.key}`, a.userId, a.currency, d(a.amountMinor), a.reason, a.actorId, new Date(a.at).toISOString()]);
  const providers = new ComplianceSimulator(jetstream(deps.nc), deps.names);
  await providers.sanctionsHit(money.sanctioned.userId, 'OFAC-SDN', `demo-screening-${money.sanctioned.at}`, money.sanctioned.at);
  // An account suspended for re-KYC (by an operator, today) that the provider then re-verifies.
  await deps.nc.request(`${deps.names.adminPrefix}.account.transition`, JSON.stringify({
    userId: money.reverified.userId, target: 'suspended', reasonCode: 'kyc_reverification_required', authority: 'admin', actorId: 'demo-ops',
    commandId: `demo-rekyc:${money.reverified.userId}:${money.reverified.at}`,
  }), { timeout: 15_000 }).catch(() => undefined);
  await providers.kycReverified(money.reverified.userId, `demo-kyc-${money.reverified.at}`, money.reverified.at);
  await providers.kycReverified(money.refusedReverification.userId, `demo-kyc-${money.refusedReverification.at}`, money.refusedReverification.at);
  const instants = [money.sanctioned.at, money.reverified.at, money.refusedReverification.at].map((ms) => new Date(ms).toISOString());
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const r = await pool.query('SELECT 1 FROM compliance_events WHERE ts = ANY($1::timestamptz[])', [instants]);
    if (r.rowCount === 3) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
