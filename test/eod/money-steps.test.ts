import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import type { Pool } from '../../src/db/pool.js';
import { withTransaction } from '../../src/db/transaction.js';
import { businessWindow } from '../../src/eod/business-date.js';
import { EodService } from '../../src/eod/close-service.js';
import { feeAccrualStep } from '../../src/eod/steps/fee-accrual.js';
import { stakingRewardsStep } from '../../src/eod/steps/staking-rewards.js';
import type { EodStepContext } from '../../src/eod/steps/step.js';
import { durableWrites } from '../../src/recon/durable-writes.js';
import { startLeaderDrainer } from '../../src/engine/outbox-drainers.js';
import { engineCommandChannel } from '../../src/recon/engine-command-outbox.js';
import type { Fence } from '../../src/supervisor/fence.js';
import { silentLogger } from '../support/log.js';
import { EodHarness } from '../support/eod-harness.js';

/**
 * One hand-computed business day through the close: two users trading BTC-USDT three times
 * (fees to house:fees_unaccrued), a staking pool of 1 ETH over three equal stakers, an admin
 * adjustment, a sanctions hit and a refused KYC re-verification. Every figure is written out.
 */
const date = '2026-10-10';
const window = businessWindow(date, { time: '00:00', zone: 'UTC' });
const fence: Fence = { lease: 'eod-money', token: 1, holder: 'test' };
const eodHarness = new EodHarness(fence);
const names = eodHarness.names;
const at = (minute: number): string => new Date(window.startMs + minute * 60_000).toISOString();
let pool: Pool;
let nc: NatsConnection;

async function journal(id: string, type: string, minute: number, legs: Array<[string, string, string]>): Promise<void> {
  for (const [user, currency, amount] of legs) {
    await pool.query(`INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at) VALUES ($1, $2, $3, $4, $5, $1, $6)`,
      [id, user, currency, amount, type, at(minute)]);
  }
}

/** A trade: maker sells `qty` BTC at `price` to taker; maker's fee in USDT, taker's in BTC, both to house:fees_unaccrued. */
async function trade(id: string, minute: number, maker: string, taker: string, qty: string, price: string, notional: string, makerFee: string, takerFee: string): Promise<void> {
  await journal(id, 'trade', minute, [
    [maker, 'BTC', `-${qty}`], [taker, 'BTC', qty], [taker, 'USDT', `-${notional}`], [maker, 'USDT', notional],
    [maker, 'USDT', `-${makerFee}`], ['house:fees_unaccrued', 'USDT', makerFee], [taker, 'BTC', `-${takerFee}`], ['house:fees_unaccrued', 'BTC', takerFee],
  ]);
  let seq = Number(id.slice(1)) * 10;
  const fill = (fillId: string, userId: string, side: string, liquidity: string, fee: string, feeCurrency: string) =>
    pool.query(`INSERT INTO fills (fill_id, seq, user_id, market, base, quote, side, liquidity, price, quantity, fee, fee_currency, ts)
                VALUES ($1, $2, $3, 'BTC-USDT', 'BTC', 'USDT', $4, $5, $6, $7, $8, $9, $10)`, [fillId, ++seq, userId, side, liquidity, price, qty, fee, feeCurrency, at(minute)]);
  await fill(`${id}:maker`, maker, 'sell', 'maker', makerFee, 'USDT');
  await fill(`${id}:taker`, taker, 'buy', 'taker', takerFee, 'BTC');
}

async function seedDay(): Promise<void> {
  await journal('d1', 'deposit', 1, [['a', 'USDT', '1000'], ['house:custody', 'USDT', '-1000']]);
  await journal('d2', 'deposit', 2, [['b', 'BTC', '10'], ['house:custody', 'BTC', '-10']]);
  await journal('d3', 'deposit', 3, [['house:staking_rewards', 'ETH', '1'], ['house:custody', 'ETH', '-1']]);
  await trade('t1', 10, 'b', 'a', '1', '100', '100', '0.1', '0.002');
  await trade('t2', 20, 'b', 'a', '2', '120', '240', '0.24', '0.004');
  await trade('t3', 30, 'a', 'b', '1', '130', '130', '0.13', '0.002');
  // An adjustment as admin.balance.adjust posts it.
  await journal('admin_adjustment:k1', 'admin_adjustment', 40, [['a', 'USDT', '5'], ['house:adjustments', 'USDT', '-5']]);
  await pool.query(`UPDATE ledger_entries SET reference_id = 'k1' WHERE journal_id = 'admin_adjustment:k1'`);
  await pool.query(`INSERT INTO admin_adjustments (idempotency_key, entry_id, user_id, currency, amount, reason, actor_id, account_state, created_at)
                    VALUES ('k1', 'admin_adjustment:k1', 'a', 'USDT', 5, 'goodwill credit, ticket 17', 'ops-ann', 'active', $1)`, [at(40)]);
  // The engine's balances at the day's end (a: 789.87 + 5 USDT, 1.994 BTC; b: 7.998 BTC, 209.66 USDT), and one event after the cut.
  const engine: Array<[string, string, string]> = [['a', 'USDT', '794.87'], ['a', 'BTC', '1.994'], ['b', 'BTC', '7.998'], ['b', 'USDT', '209.66']];
  let seq = 0;
  for (const [user, currency, total] of engine) {
    await pool.query('INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, $2, $3, $4, 0, $4, $5)', [++seq, user, currency, total, at(50)]);
  }
  await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, 'a', 'USDT', '794.87', 0, '794.87', $2)", [++seq, new Date(window.endMs + 1_000).toISOString()]);
  for (const [user, address] of [['s1', '0x01'], ['s2', '0x02'], ['s3', '0x03']]) {
    await pool.query('INSERT INTO staking_positions (user_id, address, amount, updated_at) VALUES ($1, $2, 1, $3)', [user, address, at(5)]);
  }
  const event = (key: string, kind: string, user: string, list: string | null, minute: number, outcome: string, from: string | null, to: string | null, detail: string) =>
    pool.query(`INSERT INTO compliance_events (event_key, kind, user_id, list, reference, ts, outcome, from_state, to_state, detail, command_id) VALUES ($1, $2, $3, $4, $1, $5, $6, $7, $8, $9, $1)`,
      [key, kind, user, list, minute < 0 ? new Date(window.startMs + minute * 60_000).toISOString() : at(minute), outcome, from, to, detail]);
  await event('e1', 'sanctions_hit', 'x', 'OFAC-SDN', 45, 'applied', 'active', 'suspended', 'active → suspended');
  await event('e2', 'kyc_reverified', 'y', null, 46, 'refused', 'suspended', null, 'not reactivated: the account is suspended for "recon_freeze", not for kyc_reverification_required; a person decides');
  await event('e0', 'sanctions_hit', 'z', 'EU', -60, 'applied', 'active', 'suspended', 'the day before: not listed');
}

function service(steps = [] as ReturnType<typeof feeAccrualStep>[]): Promise<EodService> {
  return eodHarness.service({ STAKING_REWARDS_ENABLED: 'on', STAKING_REWARDS_CURRENCY: 'ETH', FEE_TIERS: '0:0.0010/0.0010,400:0.0008/0.0009' }, { steps });
}

async function pendingEngineCommands(): Promise<string[]> {
  const r = await pool.query<{ msg_id: string }>('SELECT msg_id FROM recon_outbox WHERE boundary = $1 AND done_at IS NULL ORDER BY msg_id', [engineCommandChannel]);
  return r.rows.map((row) => row.msg_id);
}

async function countJournals(type: string): Promise<number> {
  const r = await pool.query<{ n: number }>('SELECT count(DISTINCT journal_id)::int AS n FROM ledger_entries WHERE reference_type = $1', [type]);
  return r.rows[0]!.n;
}

beforeAll(async () => {
  ({ pool, nc } = await eodHarness.open());
  await seedDay();
});

afterAll(async () => {
  await eodHarness.close();
});

type StepFigures = Record<string, unknown>;

describe('the close\'s money and compliance steps on a hand-computed day', () => {
  it('a fee accrual that fails half-way posts nothing; the re-run posts every fee, reward and adjustment exactly once', async () => {
    const failing = await service([feeAccrualStep({ failAfterJournals: 2 })]);
    const first = await failing.run(date);
    expect(first.status).toBe('failed');
    expect(first.steps.find((s) => s.name === 'fee_accrual')).toMatchObject({ status: 'failed', error: expect.stringMatching(/injected failure after 2/) });
    expect(await countJournals('fee_accrual')).toBe(0);
    expect(await countJournals('staking_reward')).toBe(3);
    await failing.stop();

    const eod = await service();
    const second = await eod.run(date);
    expect(second.status).toBe('sealed');
    expect(second.steps.find((s) => s.name === 'fee_accrual')).toMatchObject({ status: 'completed', attempts: 2 });
    expect(second.steps.find((s) => s.name === 'staking_rewards')).toMatchObject({ status: 'completed', attempts: 1 });
    expect(await eod.run(date)).toMatchObject({ status: 'sealed' });
    expect([await countJournals('fee_accrual'), await countJournals('staking_reward'), await countJournals('admin_adjustment')]).toEqual([4, 3, 1]);
    // Each reward's engine credit was recorded once with its journal (a re-run records nothing new)
    // and waits for the leader's drainer: nothing was sent from inside the step's transaction.
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(names.meCommandStream)).state.messages).toBe(0);
    expect(await pendingEngineCommands()).toEqual([`staking_reward:${date}:s1`, `staking_reward:${date}:s2`, `staking_reward:${date}:s3`]);
    const drainer = startLeaderDrainer([engineCommandChannel], { pool, js: jetstream(nc), writes: durableWrites(pool, fence), log: silentLogger(), onFenced: (error) => { throw error; } });
    await drainer.kick();
    await drainer.stop();
    expect(await pendingEngineCommands()).toEqual([]);
    // Each reward reached the matching engine once, as an adjust_balance command.
    const commands = await jsm.streams.info(names.meCommandStream);
    expect(commands.state.messages).toBe(3);
    const s1Credit = await (await jetstreamManager(nc)).streams.getMessage(names.meCommandStream, { last_by_subj: names.meAdjustBalanceSubject('s1') });
    expect(s1Credit!.json()).toMatchObject({ commandId: `staking_reward:${date}:s1`, currency: 'ETH', amount: '0.333333333333333334' });
    const unbalanced = await pool.query('SELECT journal_id, currency, sum(amount) FROM ledger_entries GROUP BY journal_id, currency HAVING sum(amount) <> 0');
    expect(unbalanced.rows).toEqual([]);
    const feeRevenue = await pool.query("SELECT currency, sum(amount)::text AS s, min(created_at) AS at FROM ledger_entries WHERE user_id = 'house:fee_revenue' GROUP BY currency ORDER BY currency");
    expect(feeRevenue.rows).toEqual([
      { currency: 'BTC', s: '0.008000000000000000', at: new Date(window.endMs) },
      { currency: 'USDT', s: '0.470000000000000000', at: new Date(window.endMs) },
    ]);
    await eod.stop();
  });

  it('each fee accrual journal is (user, fee currency): house:fees_unaccrued to house:fee_revenue, reference_id <date>:<userId>:<currency>', async () => {
    const legs = await pool.query<{ journal_id: string; user_id: string; currency: string; amount: string; reference_id: string }>(
      "SELECT journal_id, user_id, currency, amount::text, reference_id FROM ledger_entries WHERE reference_type = 'fee_accrual' ORDER BY reference_id, user_id");
    const fees = await pool.query<{ user_id: string; fee_currency: string; fee: string }>(
      'SELECT user_id, fee_currency, sum(fee)::text AS fee FROM fills WHERE ts >= $1 AND ts < $2 GROUP BY 1, 2 HAVING sum(fee) > 0 ORDER BY 1, 2',
      [new Date(window.startMs), new Date(window.endMs)]);
    expect(fees.rows.length).toBeGreaterThan(0);
    const expected = fees.rows.flatMap((f) => {
      const reference = `${date}:${f.user_id}:${f.fee_currency}`;
      return [
        { reference_id: reference, user_id: 'house:fee_revenue', currency: f.fee_currency, amount: f.fee },
        { reference_id: reference, user_id: 'house:fees_unaccrued', currency: f.fee_currency, amount: `-${f.fee}` },
      ];
    }).sort((a, b) => (a.reference_id < b.reference_id ? -1 : a.reference_id > b.reference_id ? 1 : a.user_id < b.user_id ? -1 : 1));
    expect(legs.rows.map(({ reference_id, user_id, currency, amount }) => ({ reference_id, user_id, currency, amount }))).toEqual(expected);
    // One journal per reference, balanced.
    for (const reference of new Set(legs.rows.map((l) => l.reference_id))) {
      expect(new Set(legs.rows.filter((l) => l.reference_id === reference).map((l) => l.journal_id)).size).toBe(1);
    }
  });

  it('posting the same accrual again (the unique index) changes nothing', async () => {
    const settings = loadSettings({}, { NAMESPACE: names.namespace, LOG_LEVEL: 'silent' });
    const context = { date, window, previousSealedDate: null, pool, nc, settings, log: silentLogger(), signal: new AbortController().signal,
      shared: <T>(_key: string, compute: () => Promise<T>) => compute() } as unknown as EodStepContext;
    const result = await feeAccrualStep().run(context);
    await withTransaction(pool, (client) => result.write!(client));
    expect(await countJournals('fee_accrual')).toBe(4);
    expect((await pool.query("SELECT 1 FROM ledger_entries WHERE reference_type = 'fee_accrual'")).rowCount).toBe(8);
  });

  it('a fee the ledger did not book is a break in the report, and the fills\' amount is still what is accrued', async () => {
    const next = '2026-10-11';
    const nextWindow = businessWindow(next, { time: '00:00', zone: 'UTC' });
    const when = new Date(nextWindow.startMs + 3_600_000).toISOString();
    // A fill charging 0.3 USDT whose trade journal booked only 0.2 to house:fees_unaccrued.
    await pool.query(`INSERT INTO fills (fill_id, seq, user_id, market, base, quote, side, liquidity, price, quantity, fee, fee_currency, ts)
                      VALUES ('n1', 100, 'a', 'BTC-USDT', 'BTC', 'USDT', 'sell', 'maker', 130, 1, 0.3, 'USDT', $1)`, [when]);
    await pool.query(`INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
                      VALUES ('n1', 'a', 'USDT', -0.2, 'trade', 'n1', $1), ('n1', 'house:fees_unaccrued', 'USDT', 0.2, 'trade', 'n1', $1)`, [when]);
    const settings = loadSettings({}, { NAMESPACE: names.namespace, LOG_LEVEL: 'silent' });
    const context = { date: next, window: nextWindow, previousSealedDate: date, pool, nc, settings, log: silentLogger(), signal: new AbortController().signal,
      shared: <T>(_key: string, compute: () => Promise<T>) => compute() } as unknown as EodStepContext;
    const result = await feeAccrualStep().run(context);
    expect(result.breaks).toEqual([{ boundary: 'fee_accrual', kind: 'fees_vs_ledger', currency: 'USDT', left: '0.3', right: '0.2', delta: '0.1', detail: expect.any(String) }]);
    expect(result.figures).toMatchObject({ byCurrency: [{ currency: 'USDT', accrued: '0.3' }], crossCheck: [{ currency: 'USDT', fills: '0.3', ledger: '0.2', delta: '0.1' }] });
  });

  it('the sealed report holds each step\'s hand-computed figures', async () => {
    const sealed = await pool.query('SELECT report FROM eod_reports WHERE business_date = $1', [date]);
    const report = sealed.rows[0].report as { steps: Array<{ name: string; status: string; figures: StepFigures }>; breaks: unknown[] };
    const figures = (name: string): StepFigures => report.steps.find((s) => s.name === name)!.figures;
    // P&L: a bought 1 @100 and 2 @120 (cost 340), sold 1 @130: basis 340/3 = 113.333333333333333333 (half even),
    // realised 16.666666666666666667; 2 left at 226.666666666666666667, marked at the last trade 130. b is the mirror image.
    expect(figures('pnl')).toMatchObject({
      method: 'weighted_average_cost', fills: 6, users: 2, positions: 2,
      markPrices: [{ market: 'BTC-USDT', price: '130', source: 'simulated:last-trade', at: at(30) }],
      totalsByQuote: [{ quote: 'USDT', realised: '0', unrealised: '0' }],
      lines: [
        { userId: 'a', market: 'BTC-USDT', realised: '16.666666666666666667', unrealised: '33.333333333333333333', quantity: '2', averagePrice: '113.333333333333333334', markPrice: '130', fills: 3 },
        { userId: 'b', market: 'BTC-USDT', realised: '-16.666666666666666667', unrealised: '-33.333333333333333333', quantity: '-2', averagePrice: '113.333333333333333334', markPrice: '130', fills: 3 },
      ],
    });
    expect(figures('fee_accrual')).toMatchObject({
      journals: 4, users: 2, postedAt: new Date(window.endMs).toISOString(),
      byCurrency: [{ currency: 'BTC', accrued: '0.008' }, { currency: 'USDT', accrued: '0.47' }],
      crossCheck: [{ currency: 'BTC', fills: '0.008', ledger: '0.008', delta: '0' }, { currency: 'USDT', fills: '0.47', ledger: '0.47', delta: '0' }],
      lines: [{ userId: 'a', currency: 'BTC', fee: '0.006', fills: 2 }, { userId: 'a', currency: 'USDT', fee: '0.13', fills: 1 }, { userId: 'b', currency: 'BTC', fee: '0.002', fills: 1 }, { userId: 'b', currency: 'USDT', fee: '0.34', fills: 2 }],
    });
    // 100 + 240 + 130 = 470 USDT each: over the 400 threshold, tier 0 → 1 from the next day.
    expect(figures('volume_rollup')).toMatchObject({
      tierCurrency: 'USDT', effectiveFrom: '2026-10-11', users: 2, volume: '940',
      tierChanges: [{ userId: 'a', from: 0, to: 1, volume: '470' }, { userId: 'b', from: 0, to: 1, volume: '470' }],
      byTier: [{ tier: 0, users: 0 }, { tier: 1, users: 2 }],
    });
    // 1 ETH over three equal stakes: 0.333333333333333333 each and the one minor unit left to s1.
    expect(figures('staking_rewards')).toMatchObject({
      pool: '1', poolSource: 'house:staking_rewards at the cut', stakers: 3, paid: '1',
      lines: [{ userId: 's1', reward: '0.333333333333333334' }, { userId: 's2', reward: '0.333333333333333333' }, { userId: 's3', reward: '0.333333333333333333' }],
    });
    expect(figures('sanctions')).toMatchObject({ action: 'suspended', events: 1, applied: 1, lines: [{ userId: 'x', list: 'OFAC-SDN', outcome: 'applied', from: 'active', to: 'suspended' }] });
    expect(figures('kyc_reactivation')).toMatchObject({ events: 1, refused: 1, forReview: [{ userId: 'y', outcome: 'refused' }] });
    expect(figures('admin_adjustments')).toMatchObject({
      adjustments: 1, byCurrency: [{ currency: 'USDT', credited: '5', debited: '0', net: '5' }],
      lines: [{ entryId: 'admin_adjustment:k1', userId: 'a', currency: 'USDT', amount: '5', reason: 'goodwill credit, ticket 17', actorId: 'ops-ann' }],
    });
    expect(report.breaks).toEqual([]);
    const tiers = await pool.query("SELECT user_id, tier, volume_30d::text FROM user_fee_tiers WHERE effective_date = '2026-10-11' ORDER BY user_id");
    expect(tiers.rows).toEqual([{ user_id: 'a', tier: 1, volume_30d: '470.000000000000000000' }, { user_id: 'b', tier: 1, volume_30d: '470.000000000000000000' }]);
  });

  it('the gate closed: staking_rewards is skipped with the reason', () => {
    expect(stakingRewardsStep.skipReason(loadSettings({}, {}))).toBe('the revenue-router gate is closed (STAKING_REWARDS_ENABLED=off)');
  });
});
