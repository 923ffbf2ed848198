import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Discrepancy, FaultHandle } from '../../../src/adapters/exchange-simulator/index.js';
import { fetchSnapshot } from '../../../src/adapters/matching-engine/snapshot-client.js';
import { engineMinusLedger, sleep, startSimulatorHarness, unbalancedJournals, within, type SimulatorHarness } from './harness.js';

/**
 * Each fault knob must produce exactly the engine − ledger discrepancy it reports (what a
 * reconciler would alert on), and `fix` must make it vanish. Knobs are exercised one at a time on
 * one running simulator, paused for each check so both sides are durable.
 */
const unit = 10n ** 18n;

async function settle(handle: FaultHandle): Promise<Discrepancy[]> {
  const report = await within(handle.settled, 15_000, `${handle.kind} to settle`);
  expect(report.discrepancies.length).toBeGreaterThan(0);
  return report.discrepancies;
}

/** Sums several reports' discrepancies per (user, currency), sorted as the harness sorts. */
function combined(...lists: Discrepancy[][]): Discrepancy[] {
  const sum = new Map<string, Discrepancy>();
  for (const d of lists.flat()) {
    const key = `${d.userId}/${d.currency}`;
    const seen = sum.get(key);
    if (seen) seen.deltaMinor += d.deltaMinor;
    else sum.set(key, { ...d });
  }
  return [...sum.values()]
    .filter((d) => d.deltaMinor !== 0n)
    .sort((a, b) => (a.userId === b.userId ? (a.currency < b.currency ? -1 : 1) : a.userId < b.userId ? -1 : 1));
}

describe('fault knobs at runtime', () => {
  let h: SimulatorHarness;
  beforeAll(async () => {
    h = await startSimulatorHarness({ seed: 7, rateEventsPerSec: 300, users: 8, currencies: ['BTC', 'ETH', 'USDT'] });
    await sleep(500);
    await h.sim.pause();
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Pauses (durable), checks the discrepancy is exactly `expected`, fixes, checks it is gone, resumes. */
  async function expectExactlyThenFix(handle: FaultHandle, expected: Discrepancy[]): Promise<void> {
    await h.sim.pause();
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual(expected);
    expect(h.sim.faults.open()).toEqual(expected);
    const fixed = await h.sim.fix(handle.faultId);
    expect(fixed).toMatchObject({ faultId: handle.faultId, fixed: true });
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
    expect(h.sim.faults.open()).toEqual([]);
    h.sim.resume();
  }

  it('dropLedgerWrite: the next N journals of a user are missing from the ledger (both parties of a trade)', async () => {
    const handle = h.sim.faults.dropLedgerWrite({ userId: 'u0003', journalCount: 3 });
    h.sim.resume();
    const discrepancies = await settle(handle);
    expect(discrepancies.some((d) => d.userId === 'u0003')).toBe(true);
    expect(h.sim.stats().journalsDropped).toBe(3);
    await expectExactlyThenFix(handle, discrepancies);
  });

  it('doubleApplyTrade: the engine credits one side of a trade twice, the ledger once', async () => {
    const handle = h.sim.faults.doubleApplyTrade();
    h.sim.resume();
    const discrepancies = await settle(handle);
    expect(discrepancies).toHaveLength(1);
    expect(discrepancies[0]?.deltaMinor).toBeGreaterThan(0n);
    await expectExactlyThenFix(handle, discrepancies);
  });

  it('doubleApplyTrade for a given user credits that user’s side', async () => {
    const handle = h.sim.faults.doubleApplyTrade({ userId: 'u0005' });
    h.sim.resume();
    const discrepancies = await settle(handle);
    expect(discrepancies).toEqual([{ userId: 'u0005', currency: expect.any(String), deltaMinor: expect.any(BigInt) }]);
    await expectExactlyThenFix(handle, discrepancies);
  });

  it('engineOnlyChange: the engine balance moves with no ledger entry, and the snapshot shows it', async () => {
    await h.sim.pause();
    const before = h.sim.registry().find((r) => r.userId === 'u0002' && r.currency === 'ETH')?.totalMinor ?? 0n;
    const handle = h.sim.faults.engineOnlyChange({ userId: 'u0002', currency: 'ETH', deltaMinor: 5n * unit });
    expect(handle.report().discrepancies).toEqual([{ userId: 'u0002', currency: 'ETH', deltaMinor: 5n * unit }]);
    await h.sim.pause(); // applies and publishes the change
    const snapshot = await fetchSnapshot(h.nc, h.names, { chunkSize: 10, timeoutMs: 5_000 });
    expect(snapshot.ok && snapshot.snapshot.balances.find((r) => r.userId === 'u0002' && r.currency === 'ETH')?.totalMinor).toBe(before + 5n * unit);
    await expectExactlyThenFix(handle, handle.report().discrepancies);
  });

  it('engineOnlyChange refuses to take the engine below zero', async () => {
    expect(() => h.sim.faults.engineOnlyChange({ userId: 'u0001', currency: 'BTC', deltaMinor: -(10n ** 30n) })).toThrow(RangeError);
  });

  it('ledgerDelayMs: the ledger lags by exactly what is held back, then catches up', async () => {
    h.sim.faults.setLedgerDelayMs(60_000);
    h.sim.resume();
    await sleep(500);
    await h.sim.pause({ drainDelayed: false });
    const held = h.sim.faults.delayed();
    expect(held.length).toBeGreaterThan(0);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual(held);
    h.sim.faults.setLedgerDelayMs(0);
    await h.sim.pause();
    expect(h.sim.faults.delayed()).toEqual([]);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
  });

  it('engineDelayMs: the engine lags by exactly what is held back (not yet published), then catches up', async () => {
    const seqBefore = h.sim.lastSeq();
    h.sim.faults.setEngineDelayMs(60_000);
    h.sim.resume();
    await sleep(500);
    await h.sim.pause({ drainDelayed: false });
    expect(h.sim.lastSeq()).toBe(seqBefore);
    const held = h.sim.faults.delayed();
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((d) => d.deltaMinor !== 0n)).toBe(true);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual(held);
    h.sim.faults.setEngineDelayMs(0);
    await h.sim.pause();
    expect(h.sim.lastSeq()).toBeGreaterThan(seqBefore);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
  });

  it('leaves every journal balanced, fixes included', async () => {
    await h.sim.pause();
    expect(await unbalancedJournals(h.pool)).toEqual([]);
    expect(h.sim.faults.reports().every((r) => r.settled && r.fixed)).toBe(true);
  });
});

describe('fault knobs at construction', () => {
  let h: SimulatorHarness;
  beforeAll(async () => {
    h = await startSimulatorHarness({
      seed: 99,
      rateEventsPerSec: 300,
      users: 6,
      currencies: ['BTC', 'USDT'],
      faults: {
        dropLedgerWrite: { journalCount: 2 },
        doubleApplyTrade: {},
        engineOnlyChange: { userId: 'u0004', currency: 'USDT', deltaMinor: 123n },
        ledgerDelayMs: 150,
        engineDelayMs: 50,
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reports each fault’s discrepancy; together they are exactly the difference; fixes remove it', async () => {
    expect(h.sim.initialFaults.map((f) => f.kind)).toEqual(['dropLedgerWrite', 'doubleApplyTrade', 'engineOnlyChange']);
    expect(h.sim.stats()).toMatchObject({ ledgerDelayMs: 150, engineDelayMs: 50 });
    const reports = await Promise.all(h.sim.initialFaults.map((f) => settle(f)));
    await h.sim.pause();
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual(combined(...reports));
    for (const fault of h.sim.initialFaults) await h.sim.fix(fault.faultId);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
    expect(await unbalancedJournals(h.pool)).toEqual([]);
  });
});
