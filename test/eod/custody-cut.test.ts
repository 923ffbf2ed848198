import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { businessWindow } from '../../src/eod/business-date.js';
import type { Fence } from '../../src/supervisor/fence.js';
import { EodHarness } from '../support/eod-harness.js';

/** db_custody at the cut: the first recorded poll at or after the cutover, the ledger before it, in-flight items at the cut. */
const date = '2026-08-14';
const w = businessWindow(date, { time: '00:00', zone: 'UTC' });
const at = (ms: number) => new Date(ms).toISOString();
const fence: Fence = { lease: 'eod-custody-test', token: 1, holder: 'test' };
const eodHarness = new EodHarness(fence);
let pool: Pool;

beforeAll(async () => {
  ({ pool } = await eodHarness.open());
  // 10 SOL deposited during the day, 4 more a minute after the cutover.
  for (const [journal, amount, ms] of [['d1', '10', w.startMs + 60_000], ['d2', '4', w.endMs + 60_000]] as const) {
    await pool.query(
      `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
       VALUES ($1, 'c1', 'SOL', $2, 'deposit', $1, $3), ($1, 'house:custody', 'SOL', -$2::numeric, 'deposit', $1, $3)`, [journal, amount, at(ms)]);
  }
  await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES (1, 'c1', 'SOL', 10, 0, 10, $1), (2, 'c1', 'SOL', 14, 0, 14, $2)",
    [at(w.startMs + 60_000), at(w.endMs + 60_000)]);
  // Polls: before the cutover (not used), the first after it (used: hot 7 + cold 2.5 = 9.5), a later one (not used).
  for (const [wallet, balance, ms] of [['tsol:hot', '3', w.endMs - 30_000], ['tsol:cold', '2.5', w.endMs - 30_000],
    ['tsol:hot', '7', w.endMs + 5_000], ['tsol:cold', '2.5', w.endMs + 6_000], ['tsol:hot', '11', w.endMs + 90_000], ['tsol:cold', '2.5', w.endMs + 90_000]] as const) {
    await pool.query("INSERT INTO custody_poll_readings (wallet, currency, polled_at, balance) VALUES ($1, 'SOL', $2, $3)", [wallet, at(ms), balance]);
  }
  // A withdrawal pending at the cut (0.5), and one settled before it (not in flight).
  await pool.query(
    `INSERT INTO custody_in_flight (currency, direction, amount, reference, status, created_at, updated_at) VALUES
       ('SOL', 'withdrawal', 0.5, 'w-pending', 'settled', $1, $2), ('SOL', 'withdrawal', 0.25, 'w-done', 'settled', $1, $3)`,
    [at(w.endMs - 3_600_000), at(w.endMs + 120_000), at(w.endMs - 60_000)]);
});

afterAll(async () => {
  await eodHarness.close();
});

describe('recon_db_custody at the cut', () => {
  it('compares the ledger before the cutover with the first poll after it, the in-flight withdrawal widening the tolerance', async () => {
    const eod = await eodHarness.service({ BITGO_ROOT_URI: 'http://127.0.0.1:9', BITGO_ACCESS_TOKEN: 'unused', BITGO_WALLETS: 'SOL=tsol:hot,SOL=tsol:cold' });
    const state = await eod.run(date);
    await eod.stop();
    expect(state.status, JSON.stringify(state.steps.filter((s) => s.error))).toBe('sealed');
    const report = (await eod.close.report(date)).report as { cut: { custodyPolledAt: string }; steps: Array<{ name: string; figures: Record<string, unknown> }>; inFlight: unknown[]; breaks: unknown[] };
    const custody = report.steps.find((s) => s.name === 'recon_db_custody')?.figures as { currencies: Array<Record<string, unknown>> };
    expect(custody.currencies).toEqual([expect.objectContaining({
      currency: 'SOL', ledgerHeld: '10', custody: '9.5', delta: '0.5', tolerance: '0.5', withinTolerance: true,
      inFlight: expect.objectContaining({ withdrawal: '0.5' }),
    })]);
    expect(report.cut.custodyPolledAt).toBe(at(w.endMs + 6_000));
    expect(report.inFlight).toEqual([{ kind: 'withdrawal', currency: 'SOL', amount: '0.5', boundary: 'db_custody' }]);
    expect(report.breaks).toEqual([]);
  });
});
