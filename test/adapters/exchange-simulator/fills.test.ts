import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendAdjustBalance, sendCancelOrders } from '../../../src/adapters/matching-engine/engine-commands.js';
import { parseFill } from '../../../src/adapters/matching-engine/fill-contract.js';
import type { Fill } from '../../../src/eod/money/fill.js';
import { until } from '../../support/until.js';
import { engineMinusLedger, ledgerTotals, sleep, startSimulatorHarness, type SimulatorHarness } from './harness.js';

let h: SimulatorHarness;

async function readFills(): Promise<Fill[]> {
  const jsm = await jetstreamManager(h.nc);
  const total = (await jsm.streams.info(h.names.meFillStream)).state.messages;
  const fills: Fill[] = [];
  if (total === 0) return fills;
  const messages = await (await jetstream(h.nc).consumers.get(h.names.meFillStream)).consume();
  for await (const msg of messages) {
    const parsed = parseFill(msg.data, { subjectUserId: msg.subject.slice(msg.subject.lastIndexOf('.') + 1) });
    if (!parsed.ok) throw new Error(parsed.reason);
    fills.push(parsed.event);
    if (fills.length === total) break;
  }
  await messages.close();
  return fills;
}

beforeAll(async () => {
  h = await startSimulatorHarness({ seed: 77, rateEventsPerSec: 400, users: 8, currencies: ['BTC', 'ETH', 'USDT'] });
  await sleep(1_500);
  await h.sim.pause();
});
afterAll(async () => {
  await h?.close();
});

describe('exchange simulator fills', () => {
  it('publishes a maker and a taker fill per trade, whose fees are exactly what the ledger credits house:fees_unaccrued', async () => {
    const fills = await readFills();
    expect(fills.length).toBe(h.sim.stats().operations.trade * 2);
    expect(new Set(fills.map((f) => f.liquidity))).toEqual(new Set(['maker', 'taker']));
    expect(new Set(fills.map((f) => f.market)).size).toBeGreaterThan(1);
    for (const f of fills) expect(f.feeCurrency).toBe(f.liquidity === 'maker' ? f.quote : f.base);
    const feesFromFills = new Map<string, bigint>();
    for (const f of fills) feesFromFills.set(f.feeCurrency, (feesFromFills.get(f.feeCurrency) ?? 0n) + f.feeMinor);
    const ledger = await ledgerTotals(h.pool);
    const feesInLedger = new Map([...ledger].filter(([k]) => k.startsWith('house:fees_unaccrued/')).map(([k, v]) => [k.split('/')[1]!, v]));
    expect(feesInLedger).toEqual(new Map([...feesFromFills].filter(([, v]) => v > 0n)));
  });

  it('obeys cancel_orders and adjust_balance, keeping me_db quiet', async () => {
    const js = jetstream(h.nc);
    // The engine's own command stream (the engine's topology makes it; this harness has no engine).
    await (await jetstreamManager(h.nc)).streams.add({ name: h.names.meCommandStream, subjects: [h.names.meCommandSubjectAll] });
    const lockedOf = (userId: string): bigint => h.sim.registry().filter((r) => r.userId === userId).reduce((s, r) => s + r.lockedMinor, 0n);
    const user = [...h.sim.userIds].sort((a, b) => (lockedOf(b) > lockedOf(a) ? 1 : -1))[0]!;
    const lockedBefore = lockedOf(user);
    const cancelsBefore = h.sim.stats().operations.cancel;
    await sendCancelOrders(js, h.names, { commandId: 'c1', userId: user, reason: 'test' });
    await until('the user\'s orders cancelled', () => h.sim.stats().operations.cancel > cancelsBefore);
    await h.sim.pause();
    expect(lockedOf(user) < lockedBefore).toBe(true);
    // A credit on both sides: the ledger as admin.balance.adjust posts it, the engine by the command (twice: obeyed once).
    await h.pool.query(`INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id)
                        VALUES ('adj:x', $1, 'BTC', 2.5, 'admin_adjustment', 'x'), ('adj:x', 'house:adjustments', 'BTC', -2.5, 'admin_adjustment', 'x')`, [user]);
    await sendAdjustBalance(js, h.names, { commandId: 'adj:x', userId: user, currency: 'BTC', amount: '2.5' });
    await sendAdjustBalance(js, h.names, { commandId: 'adj:x', userId: user, currency: 'BTC', amount: '2.5' });
    await until('me_db quiet after the adjustment', async () => (await engineMinusLedger(h.sim, h.pool)).length === 0);
    await sleep(200);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
  });
});
