import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeSimulator } from '../../src/adapters/exchange-simulator/index.js';
import type { Pool } from '../../src/db/pool.js';
import type { BreakAlert } from '../../src/recon/breaks/break.js';
import type { MeDbLimits } from '../../src/recon/me-db/reconciler.js';
import { insertTransactionAcrossPowerOfTen, ledgerIdsJustBeforePowerOfTen } from '../support/ledger-ids.js';
import { until } from '../support/until.js';
import { MeDbSimHarness } from './me-db-sim-harness.js';

let h: MeDbSimHarness;
let pool: Pool;
let sim: ExchangeSimulator;
let alerts: BreakAlert[];

beforeAll(async () => {
  h = await MeDbSimHarness.open();
  ({ pool, alerts } = h);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

/** The checkpoint the catch-up starts from: a reconciler that ran on the ledger as it is, and stopped. */
async function checkpointNow(limits: Partial<MeDbLimits> = {}): Promise<{ txId: string; id: string }> {
  const reconciler = await h.startReconciler(limits);
  await until('the reconciler at the end of the ledger', async () => {
    const end = await h.ledgerEnd();
    const w = reconciler.status().watermarks;
    return w?.ledgerTxId === end.txId && w.ledgerId === end.id;
  }, 30_000);
  await reconciler.stop();
  const mark = (await pool.query<{ right_tx: string; right_id: string }>("SELECT right_tx::text, right_id::text FROM recon_watermarks WHERE boundary = 'me_db'")).rows[0];
  return { txId: mark?.right_tx ?? '0', id: mark?.right_id ?? '0' };
}

describe('me_db catch-up from a checkpoint far behind: the ledger side taken in as sums', () => {
  it('sums the rows past the checkpoint while the exchange writes, follows from there: every row once, no false break, the full scan\'s state', { timeout: 150_000 }, async () => {
    sim = await h.startSimulator({ seed: 31, rateEventsPerSec: 2_000, users: 200, currencies: ['BTC', 'ETH', 'USDT'] });
    await until('some history', () => sim.lastSeq() >= 2_000, 60_000);
    await sim.pause();
    const checkpoint = await checkpointNow();
    // The backlog: the exchange runs while the reconciler is down, its ledger ids crossing a power of ten.
    await ledgerIdsJustBeforePowerOfTen(pool, 200n, 500n);
    sim.resume();
    await until('a backlog', () => sim.lastSeq() >= 8_000, 90_000);
    // Still writing while the reconciler catches up: rows commit during the sums and after them.
    const reconciler = await h.startReconciler({ ledgerBatchRowsMax: 500 });
    await until('the ledger rows past the checkpoint taken in as sums', () => (reconciler.status().counters?.ledgerRowsSeeded ?? 0) > 0, 30_000);
    await new Promise((r) => setTimeout(r, 1_500));
    await sim.pause();
    const lastSeq = sim.lastSeq();
    await h.untilCaughtUp(reconciler, lastSeq);
    const status = reconciler.status();
    const rowsPast = await h.ledgerRowsPast(checkpoint);
    // Every row past the checkpoint once: summed, or read after the sums.
    expect(status.counters?.ledgerRowsSeeded).toBeGreaterThan(1_000);
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(rowsPast);
    await new Promise((r) => setTimeout(r, 2_500)); // past the grace window: a false difference would have paged
    expect(alerts).toEqual([]);
    expect(reconciler.status().openBreaks).toBe(0);
    await reconciler.stop();
    await h.expectSavedStateEqualsFullScan();
  });

  it('the last transaction before the sums\' horizon has ids across a power of ten (…9999 → …10000): its rows counted once', { timeout: 120_000 }, async () => {
    const checkpoint = await checkpointNow();
    sim.resume();
    const from = sim.lastSeq();
    await until('a backlog', () => sim.lastSeq() >= from + 3_000, 90_000);
    await sim.pause();
    // The last transaction past the backlog: ids power−4 … power+5 (as text "…9999" sorts after "…10005"), house accounts only.
    await insertTransactionAcrossPowerOfTen(pool, { prefix: 'straddle', userId: 'house:fees', currency: 'ETH' });
    const lastSeq = sim.lastSeq();
    const reconciler = await h.startReconciler({ ledgerBatchRowsMax: 500 });
    await until('the ledger rows past the checkpoint taken in as sums', () => (reconciler.status().counters?.ledgerRowsSeeded ?? 0) > 0, 30_000);
    // The exchange writes again while the engine side catches up.
    sim.resume();
    await new Promise((r) => setTimeout(r, 1_000));
    await sim.pause();
    await h.untilCaughtUp(reconciler, sim.lastSeq());
    expect(sim.lastSeq()).toBeGreaterThan(lastSeq);
    const status = reconciler.status();
    const rowsPast = await h.ledgerRowsPast(checkpoint);
    expect((status.counters?.ledgerRowsSeeded ?? 0) + (status.counters?.ledgerRowsReadSinceStart ?? 0)).toBe(rowsPast);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alerts).toEqual([]);
    await reconciler.stop();
    await h.expectSavedStateEqualsFullScan();
  });

  it('over the position cap (ADR 0026): the sums of keys not held are applied to their saved positions, loaded first', { timeout: 150_000 }, async () => {
    const cap = 100;
    await checkpointNow({ positionsInMemoryMax: cap });
    sim.resume();
    const from = sim.lastSeq();
    await until('a backlog', () => sim.lastSeq() >= from + 6_000, 90_000);
    await sim.pause();
    const lastSeq = sim.lastSeq();
    const reconciler = await h.startReconciler({ ledgerBatchRowsMax: 500, positionsInMemoryMax: cap });
    await h.untilCaughtUp(reconciler, lastSeq);
    const status = reconciler.status();
    expect(status.counters?.ledgerRowsSeeded).toBeGreaterThan(1_000);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(alerts).toEqual([]);
    await reconciler.stop();
    await h.expectSavedStateEqualsFullScan();
  });
});
