import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.js';
import { addDays, businessWindow, lastClosedDate } from '../../src/eod/business-date.js';
import type { Fence } from '../../src/supervisor/fence.js';
import { until } from '../support/until.js';
import { EodHarness } from '../support/eod-harness.js';

const cutover = { time: '08:00', zone: 'UTC' };
const fence: Fence = { lease: 'eod-scheduler-test', token: 1, holder: 'test' };
const eodHarness = new EodHarness(fence);
let pool: Pool;

beforeAll(async () => {
  ({ pool } = await eodHarness.open());
});

afterAll(async () => {
  await eodHarness.close();
});

describe('the scheduler', () => {
  it('closes, in order, every ended business date missed while no instance ran', async () => {
    const yesterday = lastClosedDate(Date.now(), cutover);
    const first = addDays(yesterday, -2);
    let seq = 0;
    // Activity on the first two days, none on the last; the engine history reaches past every cut.
    for (const [date, userId] of [[first, 's1'], [addDays(first, 1), 's2']] as const) {
      const at = new Date(businessWindow(date, cutover).startMs + 60_000).toISOString();
      await pool.query(
        `INSERT INTO ledger_entries (journal_id, user_id, currency, amount, reference_type, reference_id, created_at)
         VALUES ($1, $2, 'ETH', 2, 'deposit', $1, $3), ($1, 'house:custody', 'ETH', -2, 'deposit', $1, $3)`, [`j-${date}`, userId, at]);
      await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, $2, 'ETH', 2, 0, 2, $3)", [++seq, userId, at]);
    }
    await pool.query("INSERT INTO engine_balance_history (seq, user_id, currency, total, locked, available, ts) VALUES ($1, 's1', 'ETH', 2, 0, 2, now())", [++seq]);
    const eod = await eodHarness.service({ EOD_SCHEDULER: 'on', EOD_CUTOVER_TIME: cutover.time });
    const sealed = await until('three dates sealed', async () => {
      const r = await pool.query<{ d: string; prev: string | null; sha256: string }>(
        "SELECT to_char(business_date, 'YYYY-MM-DD') AS d, prev_sha256 AS prev, sha256 FROM eod_reports ORDER BY business_date");
      return r.rows.length === 3 ? r.rows : null;
    }, 30_000);
    await eod.stop();
    expect(sealed.map((r) => r.d)).toEqual([first, addDays(first, 1), yesterday]);
    expect(sealed[0]?.prev).toBeNull();
    expect(sealed[1]?.prev).toBe(sealed[0]?.sha256);
    expect(sealed[2]?.prev).toBe(sealed[1]?.sha256);
    // Today has not ended: nothing for it.
    expect((await pool.query('SELECT 1 FROM eod_runs WHERE business_date > $1', [yesterday])).rowCount).toBe(0);
  });
});
