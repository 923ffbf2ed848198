import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineMinusLedger, sleep, startSimulatorHarness, unbalancedJournals, type SimulatorHarness } from './harness.js';

/**
 * The simulator must sustain ≥ 2,000 engine events/s with its ledger writes on a 2-core machine.
 * A benchmark, not a unit test: it competes with whatever else runs, so it only runs when asked
 * (SIM_BENCH=1 npx vitest run test/adapters/exchange-simulator/throughput.test.ts).
 */
const targetEventsPerSec = Number(process.env.SIM_BENCH_RATE ?? 2_500);
const durationMs = Number(process.env.SIM_BENCH_MS ?? 10_000);

describe.runIf(process.env.SIM_BENCH)('exchange simulator throughput', () => {
  let h: SimulatorHarness;
  beforeAll(async () => {
    h = await startSimulatorHarness({ rateEventsPerSec: targetEventsPerSec, users: 1_000, currencies: ['BTC', 'ETH', 'USDT', 'SOL'] });
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`sustains ≥ 2,000 engine events/s with ledger writes (target ${targetEventsPerSec}/s)`, async () => {
    await sleep(durationMs);
    const beforeDrain = h.sim.stats();
    const drainStartedAt = performance.now();
    await h.sim.pause();
    const drainMs = Math.round(performance.now() - drainStartedAt);
    const stats = h.sim.stats();
    const { rows } = await h.pool.query<{ rows: string; journals: string }>('SELECT count(*) AS rows, count(DISTINCT journal_id) AS journals FROM ledger_entries');
    console.log(
      JSON.stringify(
        {
          targetEventsPerSec,
          durationMs,
          achievedEventsPerSec: beforeDrain.achievedEventsPerSec,
          engineEvents: stats.engineEventsApplied,
          acked: stats.publisher.acked,
          ledgerRows: Number(rows[0]?.rows),
          ledgerJournals: Number(rows[0]?.journals),
          ledgerBatches: stats.ledger.batches,
          backpressureTicks: stats.backpressureTicks,
          drainMs,
          operations: stats.operations,
        },
        null,
        2,
      ),
    );
    expect(beforeDrain.achievedEventsPerSec).toBeGreaterThanOrEqual(2_000);
    expect(drainMs).toBeLessThan(2_000);
    expect(stats.publisher.failed).toBe(0);
    expect(await unbalancedJournals(h.pool)).toEqual([]);
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
  }, 120_000);
});
