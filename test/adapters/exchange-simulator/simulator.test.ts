import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalanceRow } from '../../../src/adapters/matching-engine/contract.js';
import { fetchSnapshot } from '../../../src/adapters/matching-engine/snapshot-client.js';
import {
  engineMinusLedger,
  ledgerTotals,
  readBalanceEvents,
  sleep,
  startSimulatorHarness,
  unbalancedJournals,
  type SimulatorHarness,
} from './harness.js';

/** ~2 s of simulated exchange against the real NATS and Postgres, then every invariant both sides promise. */
let h: SimulatorHarness;
let snapshotWhileRunning: { asOfSeq: number; balances: BalanceRow[] };

beforeAll(async () => {
  h = await startSimulatorHarness({ seed: 2024, rateEventsPerSec: 400, users: 12, currencies: ['BTC', 'ETH', 'USDT'] });
  await sleep(1_000);
  // Taken mid-flow: must be exactly the state as of its asOfSeq, whatever was in flight.
  const result = await fetchSnapshot(h.nc, h.names, { chunkSize: 5, timeoutMs: 5_000 });
  if (!result.ok) throw result.error;
  snapshotWhileRunning = result.snapshot;
  await sleep(1_000);
  await h.sim.pause();
});
afterAll(async () => {
  await h?.close();
});

const sortRows = (rows: BalanceRow[]): BalanceRow[] =>
  [...rows].sort((a, b) => (a.userId === b.userId ? (a.currency < b.currency ? -1 : 1) : a.userId < b.userId ? -1 : 1));

describe('exchange simulator', () => {
  it('generated a realistic mix at about the asked rate', () => {
    const stats = h.sim.stats();
    expect(stats.engineEventsApplied).toBeGreaterThan(400);
    expect(stats.lastSeq).toBe(stats.engineEventsApplied);
    expect(stats.publisher).toMatchObject({ acked: stats.engineEventsApplied, failed: 0, inFlight: 0 });
    expect(stats.operations.deposit).toBeGreaterThan(0);
    expect(stats.operations.trade).toBeGreaterThan(0);
    expect(stats.operations.withdrawal + stats.operations.withdrawal_request).toBeGreaterThan(0);
  });

  it('writes journals that each sum to zero per currency', async () => {
    expect(await unbalancedJournals(h.pool)).toEqual([]);
    const { rows } = await h.pool.query<{ reference_type: string }>('SELECT DISTINCT reference_type FROM ledger_entries ORDER BY 1');
    expect(rows.map((r) => r.reference_type)).toEqual(expect.arrayContaining(['deposit', 'fee', 'trade', 'withdrawal']));
  });

  it('books per (user, currency) exactly the engine registry total, fees and custody on house accounts', async () => {
    expect(await engineMinusLedger(h.sim, h.pool)).toEqual([]);
    const ledger = await ledgerTotals(h.pool);
    expect([...ledger.entries()].some(([key, total]) => key.startsWith('house:fees_unaccrued/') && total > 0n)).toBe(true);
    expect([...ledger.keys()].every((key) => !key.startsWith('house:') || key.startsWith('house:fees_unaccrued/') || key.startsWith('house:custody/'))).toBe(true);
  });

  it('publishes every change as a valid event, seq 1…lastSeq in order, last values equal to the registry', async () => {
    const { events, violations } = await readBalanceEvents(h.nc, h.names);
    expect(violations).toEqual([]);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: h.sim.lastSeq() }, (_, i) => i + 1));
    const last = new Map<string, BalanceRow>();
    for (const e of events) last.set(`${e.userId}/${e.currency}`, { userId: e.userId, currency: e.currency, totalMinor: e.totalMinor, lockedMinor: e.lockedMinor, availableMinor: e.availableMinor });
    expect(sortRows([...last.values()])).toEqual(h.sim.registry());
  });

  it('answers a snapshot with the registry, in several chunks, as of the last published seq', async () => {
    const result = await fetchSnapshot(h.nc, h.names, { chunkSize: 4, timeoutMs: 5_000 });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { events } = await readBalanceEvents(h.nc, h.names);
    expect(result.snapshot.asOfSeq).toBe(events.at(-1)?.seq);
    expect(result.snapshot.chunkCount).toBe(Math.ceil(h.sim.registry().length / 4));
    expect(result.snapshot.chunkCount).toBeGreaterThan(1);
    expect(result.snapshot.balances).toEqual(h.sim.registry());
  });

  it('took the mid-flow snapshot consistently: it equals the events folded up to its asOfSeq', async () => {
    const { events } = await readBalanceEvents(h.nc, h.names);
    expect(snapshotWhileRunning.asOfSeq).toBeGreaterThan(0);
    expect(snapshotWhileRunning.asOfSeq).toBeLessThan(h.sim.lastSeq());
    const folded = new Map<string, BalanceRow>();
    for (const e of events) {
      if (e.seq > snapshotWhileRunning.asOfSeq) break;
      folded.set(`${e.userId}/${e.currency}`, { userId: e.userId, currency: e.currency, totalMinor: e.totalMinor, lockedMinor: e.lockedMinor, availableMinor: e.availableMinor });
    }
    expect(snapshotWhileRunning.balances).toEqual(sortRows([...folded.values()]));
  });

  it('refuses a bad snapshot request with INVALID_REQUEST', async () => {
    const reply = await h.nc.request(h.names.meSnapshotSubject, JSON.stringify({ requestId: 'x', chunkSize: 0 }), { timeout: 2_000 });
    expect(reply.json()).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
  });
});
